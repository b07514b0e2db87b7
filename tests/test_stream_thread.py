"""The SDK stream on its worker loop (engine/stream_thread.py) and big bytes spliced into the request
body while it streams (engine/spliced_body.py): same bytes on the wire, cancel/close exact."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.events import Finished
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine import ApiTarget, run_turn
from banana_studio.engine import spliced_body as sb
from banana_studio.engine.stream_thread import stream_chunks
from banana_studio.fakeserver import FakeGemini

KEY = "test-key-stream-thread"


@pytest.fixture
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True) as server:
        yield server


@pytest.fixture
async def target(srv: FakeGemini) -> AsyncIterator[ApiTarget]:
    t = ApiTarget(api_key=KEY, base_url=srv.base_url, retry_attempts=1, timeout_seconds=20, idle_timeout=10)
    yield t
    await t.aclose()


def _sdk_json(obj: Any) -> bytes:
    """What google-genai would send for ``obj``: bytes as urlsafe base64 inside one json.dumps."""
    def enc(v: Any) -> Any:
        if isinstance(v, bytes):
            return base64.urlsafe_b64encode(v).decode("ascii")
        if isinstance(v, dict):
            return {k: enc(x) for k, x in v.items()}
        if isinstance(v, list):
            return [enc(x) for x in v]
        return v
    return json.dumps(enc(obj)).encode()


async def _drain(body: Any) -> bytes:
    return b"".join([piece async for piece in body])


async def test_spliced_body_is_byte_identical_to_the_sdk_encoding() -> None:
    big = [os.urandom(n) for n in (sb.SPLICE_MIN_BYTES, sb.SLICE_BYTES + 1, 3 * sb.SLICE_BYTES, 2_200_001)]
    contents = [{"role": "model", "parts": [
        {"text": "hi", "thought_signature": big[0]},
        {"inline_data": {"data": big[1], "mime_type": "image/jpeg"}, "thought_signature": big[3]},
        {"inline_data": {"data": b"small", "mime_type": "image/png"}},
        {"inline_data": {"data": big[2], "mime_type": "image/jpeg"}, "thought": True},
    ]}]
    swapped, ph = sb.with_placeholders(contents)
    assert len(ph.by_token) == 4
    assert contents[0]["parts"][0]["thought_signature"] is big[0], "the originals are left alone"
    small_body = _sdk_json({"contents": swapped})
    assert len(small_body) < 2000
    spliced = sb.SplicedBody(small_body, ph.by_token)
    out = await _drain(spliced)
    assert out == _sdk_json({"contents": contents})
    assert spliced.length == len(out)


async def test_big_history_goes_out_spliced_and_arrives_intact(srv: FakeGemini, target: ApiTarget,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    spliced: list[int] = []
    real_class = sb._stream_class

    def recording(request: Any) -> type:
        cls = real_class(request)

        def make(body: bytes, by_token: dict[bytes, bytes]) -> Any:
            spliced.append(len(by_token))
            return cls(body, by_token)
        return make  # type: ignore[return-value]

    monkeypatch.setattr(sb, "_stream_class", recording)
    image = os.urandom(300_000)  # a user reference image, big enough to be spliced
    jpeg = b"\xff\xd8\xff\xe0" + image
    user = Content("user", [Part(text="use this"), Part(mime_type="image/jpeg", data=jpeg)])
    events = [ev async for ev in run_turn(target, [], user, GenerationSettings())]
    assert isinstance(events[-1], Finished) and events[-1].ok, events[-1]
    (req,) = [r for r in srv.requests if ":streamGenerateContent" in r.path]
    parts = req.body["contents"][-1]["parts"]
    sent = [p["inlineData"]["data"] for p in parts if "inlineData" in p]
    expected = base64.urlsafe_b64encode(jpeg).decode()
    (value,) = sent
    if value.startswith("<"):  # the local server logs big base64 values as "<N chars>"
        assert value == f"<{len(expected)} chars>"
    else:
        assert value == expected
    assert int(req.headers["content-length"]) > len(jpeg) * 4 // 3
    assert spliced == [1], "the image was base64-encoded while the body streamed, not by the SDK"


async def test_sdk_stream_runs_on_the_worker_thread_and_closes_on_cancel() -> None:
    seen: dict[str, Any] = {}
    closed = threading.Event()
    release = asyncio.Event()  # never set: the stream hangs after its first chunk

    async def fake_stream() -> AsyncIterator[str]:
        seen["thread"] = threading.get_ident()
        try:
            yield "first"
            await asyncio.Event().wait()
        finally:
            closed.set()

    async def open_stream() -> AsyncIterator[str]:
        seen["opened_on"] = threading.get_ident()
        return fake_stream()

    got: list[str] = []

    async def consume() -> None:
        async for chunk in stream_chunks(open_stream):
            got.append(chunk)
            release.set()

    task = asyncio.ensure_future(consume())
    await release.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == ["first"]
    assert seen["opened_on"] != threading.get_ident() and seen["thread"] != threading.get_ident()
    assert closed.is_set(), "leaving the iterator closed the SDK stream before returning"


async def test_errors_from_the_worker_are_raised_unchanged() -> None:
    class Boom(Exception):
        pass

    async def open_stream() -> AsyncIterator[str]:
        raise Boom("refused")

    with pytest.raises(Boom, match="refused"):
        async for _ in stream_chunks(open_stream):
            pass


async def test_a_cancelled_turn_leaves_the_engine_usable(srv: FakeGemini, target: ApiTarget) -> None:
    srv.inject("hang", count=1, seconds=30)
    task = asyncio.ensure_future(_first_event(target))
    await asyncio.to_thread(_wait_for_request, srv)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = [ev async for ev in run_turn(target, [], user_content("again"), GenerationSettings())]
    assert isinstance(events[-1], Finished) and events[-1].ok


async def _first_event(target: ApiTarget) -> Any:
    async for ev in run_turn(target, [], user_content("hang"), GenerationSettings()):
        return ev
    return None


def _wait_for_request(srv: FakeGemini) -> None:
    import time

    while not [r for r in srv.requests if ":streamGenerateContent" in r.path]:
        time.sleep(0.01)  # polling a condition, not a timing assumption


async def test_placeholders_only_where_the_hook_sends_them(target: ApiTarget) -> None:
    await target.aclient()
    assert sb.hook_in_use(target.stream_client())
    assert not sb.hook_in_use(target.make_client()), "a client without the hook would send placeholders"
    assert not sb.hook_in_use(object())


def test_shutdown_closes_generators_left_open_on_the_worker_loop() -> None:
    """An async generator the SDK leaves suspended (an HTTP body after a mid-stream error) is closed on
    the worker loop at exit, not finalised without it (which prints "Exception ignored in: …")."""
    from banana_studio.engine.stream_thread import WorkerLoop

    worker = WorkerLoop("test-shutdown")
    closed: list[bool] = []

    async def body() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            closed.append(asyncio.get_running_loop() is worker.loop)

    keep: list[AsyncIterator[int]] = []

    async def leave_open() -> None:
        gen = body()
        keep.append(gen)
        await gen.__anext__()  # suspended inside, never closed

    asyncio.run_coroutine_threadsafe(leave_open(), worker.loop).result(5)
    assert closed == []
    worker.shutdown()
    assert closed == [True]
