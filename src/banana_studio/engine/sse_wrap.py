"""Wrapping the body of a streamed answer (server-sent events) inside httpx, for the response hooks of
:mod:`engine.stream_cap` (one event's size capped) and :mod:`engine.spliced_answer` (big bytes taken
out before the SDK parses an event): where an event ends, and how the response's byte stream is
replaced by a subclass of httpx's own stream type (one class per base, made once)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def last_event_end(data: bytes, start: int = 0) -> int:
    """End offset of the last event separator (``\\n\\n`` or ``\\r\\n\\r\\n``) in ``data`` at or after
    ``start``, or -1."""
    a = data.rfind(b"\n\n", start)
    b = data.rfind(b"\r\n\r\n", start)
    return max(a + 2 if a >= 0 else -1, b + 4 if b >= 0 else -1)


def is_stream_answer(response: Any) -> bool:
    """``response`` answers a streamed generation (``:streamGenerateContent``)."""
    return ":streamGenerateContent" in str(getattr(response.request, "url", ""))


_CLASSES: dict[tuple[Callable[[type], type], type], type] = {}


def wrap_stream(response: Any, make_class: Callable[[type], type], *args: Any) -> None:
    """Replace ``response.stream`` by ``make_class(base)(stream, *args)``, ``base`` being httpx's
    ``AsyncByteStream`` in the stream's type (nothing is done when there is none)."""
    stream = response.stream
    base = next((k for k in type(stream).__mro__ if k.__name__ == "AsyncByteStream"), None)
    if base is None:
        return
    cls = _CLASSES.get((make_class, base))
    if cls is None:
        cls = _CLASSES[(make_class, base)] = make_class(base)
    response.stream = cls(stream, *args)


async def close_inner(inner: Any) -> None:
    """Close the wrapped stream, when it can be closed."""
    close = getattr(inner, "aclose", None)
    if close is not None:
        await close()
