"""Secrets: a full session with a recognisable fake key; the key must not reach any file under the data,
config (other than the key's own 0600 config file), cache and log dirs, any image or export, any error
text or output — even when the server echoes the key back in its error messages.  The local server
binds 127.0.0.1 only."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rel_common import KEY, child_env, png_bytes

from banana_studio.cli.main import main
from banana_studio.fakeserver import FakeGemini

PLAIN_KEY = "bs-test-SECRET-key-9f8e7d6c5b4a3210"
"""Not Google-shaped, so only explicit redaction (not the AIza regex) can catch it."""


class _EchoHandler(BaseHTTPRequestHandler):
    """A hostile API that echoes the caller's key in its error messages (as real proxies/APIs can)."""

    protocol_version = "HTTP/1.1"
    codes = [403, 500, 400, 429]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("x-goog-api-key", "")
        code = self.codes[self.server.n % len(self.codes)]  # type: ignore[attr-defined]
        self.server.n += 1  # type: ignore[attr-defined]
        status = {403: "PERMISSION_DENIED", 500: "INTERNAL", 400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED"}[code]
        body = json.dumps({"error": {"code": code, "status": status,
                                     "message": f"Consumer 'api_key:{key}' rejected; url ?key={key} header "
                                                f"x-goog-api-key: {key}",
                                     "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                                  "reason": "CONSUMER_SUSPENDED", "metadata": {"key": key}}]}})
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def echo_server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    srv.n = 0  # type: ignore[attr-defined]
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def forms(key: str) -> list[bytes]:
    raw = key.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), key.encode("utf-16-le"),
            raw[: len(raw) // 2 + 4]]


def files_with_key(dirs: list[Path], key: str, *, allow: set[Path] | None = None) -> list[str]:
    hits = []
    needles = forms(key)
    for d in dirs:
        if not d.exists():
            continue
        for p in d.rglob("*"):
            if not p.is_file() or p in (allow or set()):
                continue
            data = p.read_bytes()
            if any(n in data for n in needles):
                hits.append(str(p))
    return hits


@pytest.mark.parametrize("source", ["config", "env"])
def test_full_session_never_leaks_the_key(source: str, tmp_path: Path, iso_env: dict[str, str], fake: FakeGemini,
                                          echo_server: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    key = PLAIN_KEY
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text("[network]\nretry_attempts = 1\ntimeout_seconds = 5\n")
    if source == "config":
        monkeypatch.setattr(sys, "stdin", io.StringIO(key + "\n"))
        assert main(["config", "--set-key"]) == 0
        assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
        assert key in cfg_path.read_text() and "retry_attempts = 1" in cfg_path.read_text()
    else:
        monkeypatch.setenv("GEMINI_API_KEY", key)
    out_dir, exp_dir = tmp_path / "out", tmp_path / "export"
    ref = tmp_path / "ref.png"
    ref.write_bytes(png_bytes())
    codes: list[int] = []

    def gen(*argv: str, base: str = fake.base_url) -> None:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", base)
        codes.append(main(["gen", *argv]))

    gen("a lighthouse", "--ref", str(ref), "-o", str(out_dir) + "/", "--search")
    gen("make it night", "--parent", "1")
    fake.inject("bad_key")
    gen("again")
    fake.inject("stream_error")
    gen("and again")
    for _ in range(4):  # 403, 500, 400, 429 — each echoing the key
        gen("hostile", base=echo_server)
    gen("unreachable", base="http://127.0.0.1:9/v1beta")
    assert codes == [0, 0, 1, 1, 1, 1, 1, 1, 1], codes
    assert main(["history", "--json"]) == 0
    assert main(["history"]) == 0
    assert main(["export", "2", "-o", str(exp_dir), "--storyboard"]) == 0
    image = next(out_dir.glob("*.jpg"))
    assert main(["recipe", str(image), "--json"]) == 0
    assert main(["projects", "--recent", "20"]) == 0
    main(["config"])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "rejected" in text  # the echoed error reached the user...
    assert key not in text  # ...without the key
    assert "[REDACTED]" in text or "<redacted>" in text or "api_key:" not in text

    dirs = [Path(iso_env[k]) for k in ("BANANA_STUDIO_DATA_DIR", "BANANA_STUDIO_CACHE_DIR", "BANANA_STUDIO_LOG_DIR")]
    dirs += [cfg_path.parent, out_dir, exp_dir]
    assert files_with_key(dirs, key, allow={cfg_path}) == []
    projects = Path(iso_env["BANANA_STUDIO_DATA_DIR"]) / "projects" / "default"
    assert (projects / "project.db").exists() and len(list(projects.glob("images/*.jpg"))) == 2
    # the recorded requests of the fake server never hold the key either
    assert key not in json.dumps([r.to_json() for r in fake.requests])


def test_config_file_written_0600_even_if_it_existed_world_readable(tmp_path: Path, iso_env: dict[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text('default_project = "x"\n')
    os.chmod(cfg_path, 0o644)
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))
    assert main(["config", "--set-key"]) == 0
    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
    assert [p.name for p in cfg_path.parent.iterdir()] == ["config.toml"]  # no temp file left
    out = capsys.readouterr()
    assert KEY not in out.out + out.err
    main(["config"])
    out = capsys.readouterr()
    assert KEY not in out.out + out.err and "config" in out.out


# -- loopback only ------------------------------------------------------------------------------------

def _outbound_ip() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def _listening_addresses(port: int) -> list[str]:
    """Local addresses listening on ``port`` (from /proc/net/tcp{,6}); empty if unavailable."""
    found = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            local, state = cols[1], cols[3]
            addr, _, p = local.rpartition(":")
            if state == "0A" and int(p, 16) == port:
                found.append(addr)
    return found


def assert_loopback_only(port: int) -> None:
    listening = _listening_addresses(port)
    if Path("/proc/net/tcp").exists():
        assert listening == ["0100007F"], listening  # 127.0.0.1 only, nothing on 0.0.0.0 or IPv6
    ip = _outbound_ip()
    if ip:
        with pytest.raises(OSError), socket.create_connection((ip, port), timeout=1):
            pass


def test_fake_server_binds_loopback_only(fake: FakeGemini) -> None:
    assert fake.address[0] == "127.0.0.1" and fake.base_url.startswith("http://127.0.0.1:")
    assert_loopback_only(fake.port)


async def test_demo_studio_server_binds_loopback_only(tmp_path: Path, iso_env: dict[str, str]) -> None:
    from banana_studio.config import Config
    from banana_studio.services import Studio

    studio = Studio.open(Config(), project="demo", project_dir=tmp_path / "p", demo=True)
    try:
        target = await studio.ready_target()
        assert target.base_url and target.base_url.startswith("http://127.0.0.1:")
        assert_loopback_only(int(target.base_url.rsplit(":", 1)[1]))
    finally:
        await studio.aclose()


def test_serve_fake_cli_binds_loopback_only(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "banana_studio", "serve-fake", "--port", "0", "--latency", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(tmp_path))
    try:
        assert proc.stdout is not None
        port = None
        for _ in range(50):
            line = proc.stdout.readline()
            m = re.search(r"http://([0-9.]+):(\d+)", line)
            if m:
                assert m.group(1) == "127.0.0.1"
                port = int(m.group(2))
                break
        assert port
        assert_loopback_only(port)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
