"""HTTP hygiene of the local server: people run it on their own machine, next to a web browser.

* **Host check** on every request: only loopback names (``127.0.0.1``, ``localhost``, ``[::1]``) are
  served, so a web page using DNS rebinding (``evil.example`` → 127.0.0.1) gets 403, not the recorded
  requests.
* **Control routes** (``/_fake/…``) need the per-process token in ``X-Fake-Token`` and, for POST, a JSON
  ``Content-Type``: a cross-site form or ``fetch`` without a CORS pre-flight cannot send either.
* **Bodies** are read within bounds: ``Content-Length`` must be plain digits (400 otherwise), a POST
  needs a length or chunked encoding (411), more than the limit is refused before it is read (413);
  chunked bodies are counted against the same limit, and a bad chunk size or framing is a 400.
"""

from __future__ import annotations

import contextlib
import hmac
import re
import socket
import time
from email.message import Message
from typing import BinaryIO

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
TOKEN_HEADER = "X-Fake-Token"
_DIGITS = re.compile(r"[0-9]{1,15}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")
_MAX_LINE = 4096
_MAX_TRAILERS = 64


class HttpError(Exception):
    """Answer with ``code`` and close the connection (the rest of the request is not read)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> dict[str, object]:
        status = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 411: "INVALID_ARGUMENT",
                  413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT"}.get(self.code, "INVALID_ARGUMENT")
        return {"error": {"code": self.code, "message": self.message, "status": status}}


def host_name(host_header: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``; ``[::1]:80`` → ``::1``; lower-case."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def check_host(headers: Message) -> None:
    values = headers.get_all("Host") or []
    if len(values) != 1:
        raise HttpError(400, "Exactly one Host header is required.")
    if host_name(values[0]) not in LOOPBACK_HOSTS:
        raise HttpError(403, "This local server only answers requests addressed to 127.0.0.1 or localhost "
                             "(Host header refused).")


def check_control(method: str, headers: Message, token: str) -> None:
    """The control routes: the process's token, and JSON for anything that changes state."""
    given = headers.get(TOKEN_HEADER) or ""
    if not token or not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode("utf-8")):
        raise HttpError(403, f"Control routes need the server's token in the {TOKEN_HEADER} header "
                             "(printed by `banana-studio serve-fake`, FakeGemini.control_token in Python).")
    if method != "GET":
        ctype = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            raise HttpError(415, "Control requests must be sent as Content-Type: application/json.")


def read_body(method: str, headers: Message, rfile: BinaryIO, limit: int) -> bytes:
    """The request body, bounded by ``limit`` bytes (raises :class:`HttpError`)."""
    te = [v.strip().lower() for v in ",".join(headers.get_all("Transfer-Encoding") or []).split(",") if v.strip()]
    lengths = headers.get_all("Content-Length") or []
    if te:
        if te != ["chunked"]:
            raise HttpError(400, f"Unsupported Transfer-Encoding {', '.join(te)!r}: only chunked is accepted.")
        if lengths:
            raise HttpError(400, "A request cannot have both Content-Length and Transfer-Encoding: chunked.")
        return _read_chunked(rfile, limit)
    if not lengths:
        if method in ("POST", "PUT", "PATCH"):
            raise HttpError(411, "Length Required: send Content-Length or Transfer-Encoding: chunked.")
        return b""
    values = {v.strip() for v in lengths}
    if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
        raise HttpError(400, f"Invalid Content-Length {', '.join(lengths)!r}: it must be one non-negative number.")
    length = int(next(iter(values)))
    if length > limit:
        raise HttpError(413, f"Request payload size exceeds the limit ({limit} bytes).")
    data = rfile.read(length) if length else b""
    if len(data) != length:
        raise HttpError(400, "The request body ended before Content-Length bytes arrived.")
    return data


def _line(rfile: BinaryIO) -> bytes:
    line = rfile.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise HttpError(400, "Chunk header line too long.")
    if not line.endswith(b"\n"):
        raise HttpError(400, "The chunked body ended early.")
    return line.rstrip(b"\r\n")


def _read_chunked(rfile: BinaryIO, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_text = _line(rfile).split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise HttpError(400, f"Invalid chunk size {size_text[:40]!r}.")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > limit:
            raise HttpError(413, f"Request payload size exceeds the limit ({limit} bytes).")
        data = rfile.read(size)
        if len(data) != size:
            raise HttpError(400, "The chunked body ended in the middle of a chunk.")
        chunks.append(data)
        if _line(rfile) != b"":
            raise HttpError(400, "A chunk is not followed by CRLF.")
    for _ in range(_MAX_TRAILERS):  # trailer fields, up to the empty line
        if _line(rfile) == b"":
            return b"".join(chunks)
    raise HttpError(400, "Too many trailer lines.")


def lingering_close(sock: socket.socket, *, max_bytes: int = 8 * 1024 * 1024, seconds: float = 2.0) -> None:
    """After an early answer (413, 400…): stop sending, then read and drop what the client is still
    sending, a bounded amount, so the kernel does not reset the connection and destroy the answer
    before the client has read it (what web servers call a lingering close)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        drained = 0
        while drained < max_bytes:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            data = sock.recv(65536)
            if not data:
                break
            drained += len(data)
