"""Big answer bytes (images, thought signatures) kept out of google-genai's one-shot JSON decoding.

The request side has :mod:`~banana_studio.engine.spliced_body`; this is the answer side.  A real 4K
answer event is one ~13 MB line of JSON: the SDK splits it into lines, ``json.dumps`` and
``json.loads`` it, and pydantic base64-decodes the image and the 2 MB signature -- each a single C call
holding the GIL for tens of milliseconds, so even in the stream thread the studio's event loop stood
still for ~140 ms per final image (``benchmarks/bench_ui.py``, section 3).

So an httpx response hook (:func:`splice_answer_hook`, installed on the stream client after the size
cap) rewrites each complete event before the SDK reads it: every big base64 value of an
``inlineData.data`` or a ``thoughtSignature`` is decoded here (:mod:`banana_studio.domain.b64`: SIMD,
a few milliseconds for a whole 4K answer; sliced on the stdlib fallback), and replaced by a short
placeholder; the SDK then parses a small event; and
:func:`restore` puts the real bytes back into the SDK's part objects, on the stream thread, before the
engine sees the chunk.  A value that is not plain strict base64 (escapes, whitespace, another alphabet
mix) is left for the SDK, exactly as before.

The placeholders of the stream being read travel in a context variable (set by :func:`activate` in
the stream's own task), so only that stream's events are touched.
"""

from __future__ import annotations

import binascii
import contextvars
import os
from collections.abc import AsyncIterator
from typing import Any

from banana_studio.domain.b64 import decode_strict
from banana_studio.engine.sse_wrap import close_inner, is_stream_answer, last_event_end, wrap_stream

SPLICE_MIN_CHARS = 64 * 1024
"""Base64 values at least this long are decoded here rather than by the SDK."""
_KEYS = (b'"data"', b'"thoughtSignature"', b'"thought_signature"')
_INLINE = (b'"inlineData"', b'"inline_data"')
_ALNUM = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

_ANSWER: contextvars.ContextVar[dict[bytes, bytes] | None] = contextvars.ContextVar("banana_answer", default=None)


def activate(registry: dict[bytes, bytes]) -> None:
    """Answers received from now on in the current context are spliced into ``registry``
    (placeholder bytes as the SDK decodes them → real bytes).  Call it in the stream's own task."""
    _ANSWER.set(registry)


def _placeholder() -> tuple[bytes, bytes]:
    """(base64 text, the 12 bytes it decodes to): 16 alphanumeric characters, valid in both alphabets."""
    text = bytes(_ALNUM[b % 62] for b in os.urandom(16))
    return text, binascii.a2b_base64(text)


def _decode(value: bytes) -> bytes | None:
    """Strict base64 (either alphabet, not mixed); None if it is not that."""
    if len(value) % 4 or b"\\" in value:
        return None
    try:
        return decode_strict(value, urlsafe=b"-" in value or b"_" in value)
    except binascii.Error:
        return None


def _value_at(event: bytes, key_end: int) -> tuple[int, int] | None:
    """(start, end) of the JSON string value after the key ending at ``key_end``."""
    i = key_end
    n = len(event)
    while i < n and event[i] in b" \t\r\n":
        i += 1
    if i >= n or event[i] != 0x3A:  # ':'
        return None
    i += 1
    while i < n and event[i] in b" \t\r\n":
        i += 1
    if i >= n or event[i] != 0x22:  # '"'
        return None
    end = event.find(b'"', i + 1)
    return (i + 1, end) if end > 0 else None


def splice_event(event: bytes, registry: dict[bytes, bytes]) -> bytes:
    """``event`` with its big base64 values replaced by placeholders (the bytes go to ``registry``)."""
    if len(event) < SPLICE_MIN_CHARS:
        return event
    found: list[tuple[int, int]] = []
    for key in _KEYS:
        pos = event.find(key)
        while pos >= 0:
            span = _value_at(event, pos + len(key))
            if span is not None and span[1] - span[0] >= SPLICE_MIN_CHARS:
                is_data = key == b'"data"'
                if not is_data or any(event.rfind(k, max(0, pos - 512), pos) >= 0 for k in _INLINE):
                    found.append(span)
            pos = event.find(key, pos + len(key))
    if not found:
        return event
    found.sort()
    pieces: list[bytes] = []
    last = 0
    for start, end in found:
        if start < last:
            continue
        data = _decode(event[start:end])
        if data is None:
            continue
        text, token = _placeholder()
        registry[token] = data
        pieces.append(event[last:start])
        pieces.append(text)
        last = end
    if not pieces:
        return event
    pieces.append(event[last:])
    return b"".join(pieces)


def _spliced_stream_class(base: type) -> type:
    class SplicedAnswer(base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, registry: dict[bytes, bytes]) -> None:
            self._inner = inner
            self._registry = registry

        async def __aiter__(self) -> AsyncIterator[bytes]:
            held: list[bytes] = []  # bytes of the event being received (no separator yet)
            async for chunk in self._inner:
                if not chunk:
                    continue
                if not held and len(chunk) < SPLICE_MIN_CHARS and chunk.endswith((b"\n\n", b"\r\n\r\n")):
                    yield chunk  # complete small events pass untouched
                    continue
                seam = held[-1][-3:] if held else b""
                cut = last_event_end(seam + chunk)
                if cut < 0:
                    held.append(chunk)
                    continue
                cut -= len(seam)
                whole = b"".join([*held, chunk[:max(0, cut)]]) if cut > 0 else b"".join(held)
                rest = chunk[max(0, cut):]
                held = [rest] if rest else []
                yield self._splice(whole)
            if held:
                yield self._splice(b"".join(held))

        def _splice(self, data: bytes) -> bytes:
            out: list[bytes] = []
            start = 0
            while start < len(data):
                a = data.find(b"\n\n", start)
                b = data.find(b"\r\n\r\n", start)
                ends = [e for e in (a + 2 if a >= 0 else -1, b + 4 if b >= 0 else -1) if e >= 0]
                end = min(ends) if ends else len(data)
                out.append(splice_event(data[start:end], self._registry))
                start = end
            return b"".join(out)

        async def aclose(self) -> None:
            await close_inner(self._inner)

    return SplicedAnswer


async def splice_answer_hook(response: Any) -> None:
    """httpx ``event_hooks["response"]`` hook of the stream client (see module doc)."""
    registry = _ANSWER.get()
    if registry is not None and is_stream_answer(response):
        wrap_stream(response, _spliced_stream_class, registry)


def restore(chunk: Any, registry: dict[bytes, bytes]) -> Any:
    """Put the real bytes back into the parts of the SDK ``chunk`` (in place; returns it)."""
    if not registry:
        return chunk
    for cand in getattr(chunk, "candidates", None) or []:
        content = getattr(cand, "content", None)
        for part in getattr(content, "parts", None) or []:
            sig = part.thought_signature
            if sig is not None and len(sig) == 12 and sig in registry:
                part.thought_signature = registry.pop(sig)
            blob = part.inline_data
            data = blob.data if blob is not None else None
            if data is not None and len(data) == 12 and data in registry:
                blob.data = registry.pop(data)
    return chunk


__all__ = ["SPLICE_MIN_CHARS", "activate", "restore", "splice_answer_hook", "splice_event"]
