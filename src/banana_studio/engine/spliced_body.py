"""Big request bytes (images, thought signatures) kept out of google-genai's one-shot JSON encoding.

The SDK turns a request into a dict, base64-encodes every ``bytes`` value and ``json.dumps`` the
whole thing: for a 60 MB branch that is one C call holding the GIL for a large fraction of a second
— whichever thread makes it, the studio's event loop cannot run meanwhile.  So before the SDK sees
the contents, every big ``bytes`` value is swapped for a short random placeholder
(:func:`with_placeholders`); the SDK encodes a small request; then an HTTP request hook
(:func:`splice_hook`, installed on the stream client) swaps each placeholder's base64 text in the
body for the real bytes, base64-encoded slice by slice while the body streams out.  The bytes on
the wire are exactly what the SDK would have sent (same urlsafe base64, same JSON), with a
``Content-Length``.

The placeholders of the request being sent travel in a context variable, so only requests made
after :func:`activate` in the same task are touched.
"""

from __future__ import annotations

import contextvars
import os
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

from banana_studio.domain.b64 import encode

SPLICE_MIN_BYTES = 64 * 1024
"""``bytes`` values at least this big are encoded while streaming rather than by the SDK."""
SLICE_BYTES = 3 * 64 * 1024
"""Raw bytes base64-encoded per step (a multiple of 3, so slices join without padding): well under 1 ms
of GIL each, so the caller's loop gets its turn between slices."""

_SPLICES: contextvars.ContextVar[dict[bytes, bytes] | None] = contextvars.ContextVar("banana_splices", default=None)


def _token(raw: bytes) -> bytes:
    return encode(raw, urlsafe=True)


class Placeholders:
    """Placeholder (as the SDK will base64 it) → the real bytes."""

    def __init__(self) -> None:
        self._nonce = os.urandom(9)
        self.by_token: dict[bytes, bytes] = {}

    def swap(self, data: bytes | None) -> bytes | None:
        if data is None or len(data) < SPLICE_MIN_BYTES:
            return data
        raw = self._nonce + len(self.by_token).to_bytes(3, "big")  # 12 bytes -> 16 base64 chars, no padding
        self.by_token[_token(raw)] = data
        return raw


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _copy(obj: Any, update: dict[str, Any]) -> Any:
    return {**obj, **update} if isinstance(obj, dict) else obj.model_copy(update=update)


def with_placeholders(contents: list[Any]) -> tuple[list[Any], Placeholders]:
    """Copies of the request contents (SDK ``Content`` objects or their dict form) whose big
    ``inline_data.data`` / ``thought_signature`` are placeholders; the originals are left as they are
    (a retry sends them again)."""
    ph = Placeholders()
    out: list[Any] = []
    for content in contents:
        parts = _get(content, "parts")
        if not parts:
            out.append(content)
            continue
        new_parts = []
        for part in parts:
            update: dict[str, Any] = {}
            sig = _get(part, "thought_signature")
            if isinstance(sig, bytes) and len(sig) >= SPLICE_MIN_BYTES:
                update["thought_signature"] = ph.swap(sig)
            blob = _get(part, "inline_data")
            data = _get(blob, "data") if blob is not None else None
            if isinstance(data, bytes) and len(data) >= SPLICE_MIN_BYTES:
                update["inline_data"] = _copy(blob, {"data": ph.swap(data)})
            new_parts.append(_copy(part, update) if update else part)
        out.append(_copy(content, {"parts": new_parts}))
    return out, ph


def hook_in_use(client: Any) -> bool:
    """True when ``client`` (a ``genai.Client``) will send async requests through an httpx client
    carrying :func:`splice_hook`.  Anything else (aiohttp installed, an auth session, another SDK
    layout) and the placeholders must not be used: they would go out as they are."""
    try:
        api = client._api_client
        if api._use_aiohttp() or api._use_google_auth_async():
            return False
        hooks = api._async_httpx_client.event_hooks.get("request", [])
    except Exception:
        return False
    return splice_hook in hooks


def activate(ph: Placeholders) -> None:
    """Requests sent from now on in the current context get their placeholders replaced.  Call it in
    a task of its own (a task runs in a copy of the context, so the setting ends with the task)."""
    _SPLICES.set(ph.by_token if ph.by_token else None)


def _b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


class SplicedBody:
    """An async byte stream: the SDK's small JSON with each placeholder replaced by real base64."""

    def __init__(self, body: bytes, by_token: dict[bytes, bytes]) -> None:
        pattern = re.compile(b"(" + b"|".join(re.escape(t) for t in by_token) + b")")
        self.pieces: list[bytes] = pattern.split(body)  # odd indexes: tokens
        self.by_token = by_token
        self.length = sum(len(p) if i % 2 == 0 else _b64_len(len(by_token[p])) for i, p in enumerate(self.pieces))

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self.pieces):
            if i % 2 == 0:
                if piece:
                    yield piece
                continue
            data = self.by_token[piece]
            for start in range(0, len(data), SLICE_BYTES):
                yield encode(memoryview(data)[start:start + SLICE_BYTES], urlsafe=True)

    async def aclose(self) -> None:
        return None


_STREAM_CLASSES: dict[type, type] = {}


def _stream_class(request: Any) -> type:
    """:class:`SplicedBody` as an ``AsyncByteStream`` of the request's own HTTP library (google-genai
    uses httpx or its fork httpx2; an async client only sends streams of that type)."""
    kind = type(request)
    cls = _STREAM_CLASSES.get(kind)
    if cls is None:
        library = sys.modules[kind.__module__.split(".")[0]]
        cls = type("SplicedAsyncStream", (SplicedBody, library.AsyncByteStream), {})
        _STREAM_CLASSES[kind] = cls
    return cls


async def splice_hook(request: Any) -> None:
    """httpx ``request`` event hook of the stream client (see module doc)."""
    by_token = _SPLICES.get()
    if not by_token:
        return
    body = request.content
    if not body or not any(t in body for t in by_token):
        return
    spliced = _stream_class(request)(body, by_token)
    request.headers.pop("Transfer-Encoding", None)
    request.headers["Content-Length"] = str(spliced.length)
    request.stream = spliced


__all__ = ["SPLICE_MIN_BYTES", "Placeholders", "SplicedBody", "activate", "hook_in_use", "splice_hook",
           "with_placeholders"]
