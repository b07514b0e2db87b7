"""The local server's HTTP layer against raw sockets: loopback Host only, a token + JSON for the control
routes (no CSRF, no DNS rebinding), bounded bodies with 400/411/413 answers and never a traceback."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import pytest

import banana_studio.fakeserver.handler as handler_mod
from banana_studio.fakeserver import FakeGemini

GEN = "/v1beta/models/gemini-3-pro-image:generateContent"


@pytest.fixture
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, latency=0.0, small=True) as s:
        yield s


def raw(srv: FakeGemini, request: bytes, *, body_chunks: list[bytes] = (), half_close: bool = True
        ) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` (+ chunks) on a fresh connection; return (status, headers, body) of the answer."""
    with socket.create_connection(srv.address, timeout=20) as sock:
        sock.sendall(request)
        for chunk in body_chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server answered and closed early: fine
        if half_close:
            with contextlib.suppress(OSError):  # already closed by the server: fine too
                sock.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            try:
                part = sock.recv(65536)
            except ConnectionResetError:
                break
            if not part:
                break
            data += part
            head, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                headers = _headers(head)
                if len(rest) >= int(headers.get("content-length", "-1")) >= 0:
                    break
    assert data, "no answer at all"
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, _headers(head), rest


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}


def req(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _host(srv: FakeGemini) -> str:
    return f"127.0.0.1:{srv.port}"


# -- Host and control routes ----------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.1.evil.example", "0.0.0.0"])
def test_foreign_host_is_refused_everywhere(srv: FakeGemini, host: str, capfd: pytest.CaptureFixture[str]) -> None:
    tok = {"X-Fake-Token": srv.control_token}
    status, _, body = raw(srv, req("GET", "/_fake/requests", {"Host": host, **tok, "Content-Length": "0"}))
    assert status == 403 and b"Host" in body
    payload = json.dumps({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}).encode()
    status, _, _ = raw(srv, req("POST", GEN, {"Host": host, "x-goog-api-key": "k", "Content-Type": "application/json",
                                              "Content-Length": str(len(payload))}, payload))
    assert status == 403
    assert srv.requests == []  # nothing recorded, nothing generated
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:1234", "[::1]:8765", "LOCALHOST"])
def test_loopback_hosts_are_served(srv: FakeGemini, host: str) -> None:
    status, _, body = raw(srv, req("GET", "/_fake/faults", {"Host": host, "X-Fake-Token": srv.control_token}))
    assert status == 200 and "faults" in json.loads(body)


def test_missing_host_is_a_400(srv: FakeGemini) -> None:
    status, _, _ = raw(srv, b"GET /v1beta/models HTTP/1.1\r\nx-goog-api-key: k\r\n\r\n")
    assert status == 400


def test_control_routes_need_the_token_and_json(srv: FakeGemini, capfd: pytest.CaptureFixture[str]) -> None:
    fault = json.dumps({"name": "server", "count": 5}).encode()
    base = {"Host": _host(srv), "Content-Length": str(len(fault))}
    # the CSRF shape: a simple cross-site POST (text/plain, no custom header)
    status, _, _ = raw(srv, req("POST", "/_fake/faults", {**base, "Content-Type": "text/plain"}, fault))
    assert status == 403
    # the token but not JSON
    status, _, _ = raw(srv, req("POST", "/_fake/faults", {**base, "Content-Type": "text/plain",
                                                          "X-Fake-Token": srv.control_token}, fault))
    assert status == 415
    # JSON, wrong token
    status, _, _ = raw(srv, req("POST", "/_fake/faults", {**base, "Content-Type": "application/json",
                                                          "X-Fake-Token": "guess"}, fault))
    assert status == 403
    assert srv.pending_faults == []
    for path in ("/_fake/requests", "/_fake/faults"):  # reading needs the token too
        assert raw(srv, req("GET", path, {"Host": _host(srv)}))[0] == 403
    status, _, _ = raw(srv, req("POST", "/_fake/faults", {**base, "Content-Type": "application/json; charset=utf-8",
                                                          "X-Fake-Token": srv.control_token}, fault))
    assert status == 200 and srv.pending_faults == [("server", 5)]
    assert FakeGemini().control_token != srv.control_token  # per process (per server), not a constant
    assert "Traceback" not in capfd.readouterr().err


# -- bodies --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("length", "code"), [("abc", 400), ("-1", 400), ("+5", 400), ("5, 6", 400),
                                              ("1e3", 400), (str(10**20), 400)])
def test_bad_content_length_is_answered(srv: FakeGemini, length: str, code: int,
                                        capfd: pytest.CaptureFixture[str]) -> None:
    status, headers, _ = raw(srv, req("POST", GEN, {"Host": _host(srv), "Content-Length": length,
                                                    "Content-Type": "application/json"}, b"{}"),
                             half_close=False)  # -1 used to wait for EOF forever
    assert status == code and headers.get("connection") == "close"
    assert "Traceback" not in capfd.readouterr().err


def test_post_without_a_length_is_411(srv: FakeGemini) -> None:
    status, _, _ = raw(srv, req("POST", GEN, {"Host": _host(srv), "Content-Type": "application/json"}))
    assert status == 411


def test_oversize_content_length_is_413_before_reading(srv: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler_mod, "MAX_BODY", 1024)
    status, _, _ = raw(srv, req("POST", GEN, {"Host": _host(srv), "Content-Length": "5000000",
                                              "Content-Type": "application/json"}), half_close=False)
    assert status == 413


def test_chunked_bodies_count_against_the_limit(srv: FakeGemini, monkeypatch: pytest.MonkeyPatch,
                                                capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(handler_mod, "MAX_BODY", 64 * 1024)
    head = req("POST", GEN, {"Host": _host(srv), "Transfer-Encoding": "chunked", "Content-Type": "application/json"})
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"  # 16 KiB chunks, 40 of them = 640 KiB
    status, _, body = raw(srv, head, body_chunks=[chunk] * 40 + [b"0\r\n\r\n"])
    assert status == 413 and b"exceeds the limit" in body
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("chunked", [b"zz\r\nabc\r\n0\r\n\r\n", b"-1\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n",
                                     b"5\r\nab", b"\r\n", b"3" * 5000 + b"\r\n"])
def test_bad_chunked_framing_is_400(srv: FakeGemini, chunked: bytes, capfd: pytest.CaptureFixture[str]) -> None:
    head = req("POST", GEN, {"Host": _host(srv), "Transfer-Encoding": "chunked", "Content-Type": "application/json"})
    status, _, _ = raw(srv, head + chunked)
    assert status == 400
    assert "Traceback" not in capfd.readouterr().err


def test_length_and_chunked_together_are_refused(srv: FakeGemini) -> None:
    head = req("POST", GEN, {"Host": _host(srv), "Transfer-Encoding": "chunked", "Content-Length": "5",
                             "Content-Type": "application/json"})
    assert raw(srv, head + b"0\r\n\r\n")[0] == 400


def test_a_good_chunked_request_still_works(srv: FakeGemini) -> None:
    payload = json.dumps({"contents": [{"role": "user", "parts": [{"text": "a chunked cat"}]}],
                          "generationConfig": {"responseModalities": ["IMAGE"]}}).encode()
    mid = len(payload) // 2
    body = b"".join(f"{len(p):x};ext=1\r\n".encode() + p + b"\r\n" for p in (payload[:mid], payload[mid:]))
    head = req("POST", GEN, {"Host": _host(srv), "Transfer-Encoding": "chunked", "x-goog-api-key": "k",
                             "Content-Type": "application/json"})
    status, _, answer = raw(srv, head + body + b"0\r\nX-Trailer: 1\r\n\r\n")
    assert status == 200, answer[:300]
    assert json.loads(answer)["candidates"][0]["content"]["parts"]
