"""A bound on one streamed answer event, enforced while the bytes arrive.

google-genai reads a whole server-sent event into memory, parses the JSON and decodes the base64
before the engine sees a single part, so one 100 MB "image" cost about 1 GB of memory before the
image check could refuse it.  :func:`cap_stream_response` is an httpx response hook (installed by
``ApiTarget``) that wraps the body of every ``:streamGenerateContent`` response and stops reading
with :class:`AnswerTooLarge` once a single event grows past :data:`MAX_STREAM_EVENT_BYTES` — a size no
valid answer event reaches (one image of at most ``RECEIVED_IMAGE_MAX_BYTES``, base64-encoded, plus
JSON).  Other responses (batch result files, uploads) are left alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from banana_studio.domain.limits import RECEIVED_IMAGE_MAX_BYTES
from banana_studio.engine.sse_wrap import close_inner, is_stream_answer, last_event_end, wrap_stream

MAX_STREAM_EVENT_BYTES = RECEIVED_IMAGE_MAX_BYTES * 4 // 3 + 4 * 1024 * 1024
"""Largest single server-sent event read from a streamed answer."""


class AnswerTooLarge(Exception):
    """A streamed answer event exceeded :data:`MAX_STREAM_EVENT_BYTES`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"one event of the answer stream is over {limit / 1e6:.0f} MB")
        self.limit = limit


def _capped_stream_class(base: type) -> type:
    class CappedStream(base):  # type: ignore[misc,valid-type]
        def __init__(self, inner: Any, limit: int) -> None:
            self._inner = inner
            self._limit = limit

        async def __aiter__(self) -> AsyncIterator[bytes]:
            pending = 0
            async for chunk in self._inner:
                cut = last_event_end(chunk)
                pending = len(chunk) - cut if cut >= 0 else pending + len(chunk)
                if pending > self._limit:
                    raise AnswerTooLarge(self._limit)
                yield chunk

        async def aclose(self) -> None:
            await close_inner(self._inner)

    return CappedStream


async def cap_stream_response(response: Any) -> None:
    """httpx ``event_hooks["response"]`` hook: cap the events of a streamed generation answer."""
    if is_stream_answer(response):
        wrap_stream(response, _capped_stream_class, MAX_STREAM_EVENT_BYTES)


def too_large_in(exc: BaseException) -> AnswerTooLarge | None:
    """The :class:`AnswerTooLarge` behind ``exc`` (the SDK or httpx may wrap it), if any."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, AnswerTooLarge):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None
