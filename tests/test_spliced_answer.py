"""The answer side of the spliced body: big base64 values are decoded before the SDK parses the event."""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest
from google.genai import types

from banana_studio.engine import spliced_answer as sa


def _event(img: bytes, sig: bytes, *, urlsafe: bool = False, text: str = "done") -> bytes:
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    ev = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": text},
        {"inlineData": {"mimeType": "image/jpeg", "data": enc(img).decode()}, "thoughtSignature": enc(sig).decode()},
    ]}, "finishReason": "STOP"}], "modelVersion": "m"}
    return b"data: " + json.dumps(ev).encode() + b"\r\n\r\n"


def _parse(event: bytes, registry: dict[bytes, bytes]) -> types.GenerateContentResponse:
    body = json.loads(event.decode().strip()[len("data: "):])
    return sa.restore(types.GenerateContentResponse._from_response(response=body, kwargs={}), registry)


@pytest.mark.parametrize("urlsafe", [False, True])
def test_big_values_are_decoded_here_and_put_back_exactly(urlsafe: bool) -> None:
    img, sig = os.urandom(300_001), os.urandom(200_002)
    raw = _event(img, sig, urlsafe=urlsafe, text='a "data": "AAAA" look-alike')
    registry: dict[bytes, bytes] = {}
    out = sa.splice_event(raw, registry)
    assert len(out) < 1000 and len(registry) == 2  # the SDK parses a small event
    part = _parse(out, registry).candidates[0].content.parts  # type: ignore[index,union-attr]
    assert part[1].inline_data.data == img and part[1].thought_signature == sig  # type: ignore[union-attr]
    assert part[0].text == 'a "data": "AAAA" look-alike'
    assert registry == {}


def test_values_that_are_not_strict_base64_are_left_to_the_sdk() -> None:
    img = os.urandom(120_000)
    b64 = base64.b64encode(img).decode()
    escaped = _event(img, b"s").replace(b64.encode(), b64.replace("/", "\\/").encode())
    broken = _event(img, b"s").replace(b64[:8].encode(), b"!!!!!!!!", 1)
    for raw in (escaped, broken):
        registry: dict[bytes, bytes] = {}
        assert sa.splice_event(raw, registry) == raw and registry == {}
    small = _event(b"tiny", b"sig")
    assert sa.splice_event(small, {}) is small


class _Inner:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        for c in self.chunks:
            yield c


@pytest.mark.parametrize("size", [1, 7, 4096, 65536, 10**7])
def test_the_stream_wrapper_splices_whole_events_whatever_the_chunking(size: int) -> None:
    img, sig = os.urandom(200_000), os.urandom(100_000)
    stream = _event(b"x" * 10, b"y") + _event(img, sig) + b"data: {\"candidates\": []}\r\n\r\n" + _event(sig, img)
    chunks = [stream[i:i + size] for i in range(0, len(stream), size)]
    registry: dict[bytes, bytes] = {}
    cls = sa._spliced_stream_class(object)

    async def read() -> bytes:
        return b"".join([c async for c in cls(_Inner(chunks), registry)])

    out = asyncio.run(read())
    events = [e for e in out.split(b"\r\n\r\n") if e.strip()]
    assert len(out) < 4000 and len(registry) == 4
    second = _parse(events[1] + b"\r\n\r\n", registry).candidates[0].content.parts[1]  # type: ignore[index,union-attr]
    assert second.inline_data.data == img and second.thought_signature == sig  # type: ignore[union-attr]
    last = _parse(events[-1] + b"\r\n\r\n", registry).candidates[0].content.parts[1]  # type: ignore[index,union-attr]
    assert last.inline_data.data == sig and last.thought_signature == img  # type: ignore[union-attr]
