"""Studio service tests: persistence around the engine stream, against the in-process FakeGemini."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.config import Config
from banana_studio.domain.events import (
    DraftImage,
    Failed,
    FinalImage,
    Finished,
    StudioEvent,
    ThoughtText,
    TurnSaved,
    TurnStarted,
)
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio

KEY = "test-key-for-the-fake-server"


@pytest.fixture
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True) as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Config:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return Config(project_dir=str(tmp_path / "projects"), base_url=srv.base_url, retry_attempts=1,
                  timeout_seconds=20)


@pytest.fixture
async def studio(config: Config) -> AsyncIterator[Studio]:
    s = Studio.open(config, project="test")
    yield s
    await s.aclose()


def png_file(path: Path, color: str = "orange") -> Path:
    Image.new("RGB", (40, 30), color).save(path, "PNG")
    return path


async def run(studio: Studio, req: GenerateRequest) -> list[StudioEvent]:
    return [ev async for ev in studio.generate(req)]


def model_requests(srv: FakeGemini) -> list:
    return [r for r in srv.requests if "GenerateContent" in r.path or "generateContent" in r.path]


async def test_open_resolves_target(studio: Studio, config: Config) -> None:
    assert studio.needs_demo is False and studio.demo is False
    assert studio.target_label == "Gemini API"
    assert studio.key_source == "GOOGLE_API_KEY"
    assert studio.store.name == "test" and studio.store.path == Path(config.project_dir) / "test"
    assert KEY not in repr(studio.target)


async def test_generate_saves_pending_then_drafts_and_final(studio: Studio, srv: FakeGemini) -> None:
    settings = GenerationSettings(aspect_ratio="3:2", image_size="1K")
    events = await run(studio, GenerateRequest(prompt="a teapot on a cloud", settings=settings))
    assert isinstance(events[0], TurnStarted) and events[0].turn.status == "pending"
    assert isinstance(events[-1], TurnSaved) and isinstance(events[-2], Finished) and events[-2].ok
    turn = events[-1].turn
    assert turn.id == events[0].turn.id and turn.status == "done" and turn.error == ""
    drafts = [e for e in events if isinstance(e, DraftImage)]
    assert len(turn.draft_images) == len(drafts) >= 1
    (final,) = turn.final_images
    path = studio.store.abs_path(final.path)
    with Image.open(path) as im:
        assert im.size == (1264, 848)
    assert final.path.startswith(f"images/{turn.id:04d}-a-teapot")
    for d in turn.draft_images:
        assert studio.store.abs_path(d.path).is_file()
    assert turn.cost > 0.13 and turn.usage["image_tokens"] == 1120
    assert turn.model_content is not None and any(p.thought_signature for p in turn.model_content.parts)
    assert turn.finish_reason == "STOP" and turn.response_id
    assert studio.active_turns == set()


async def test_turn_is_pending_before_the_server_sees_the_request(studio: Studio, srv: FakeGemini) -> None:
    srv.inject("slow", count=1, seconds=0.8)
    seen: list[StudioEvent] = []

    async def consume() -> None:
        async for ev in studio.generate(GenerateRequest(prompt="slow one")):
            seen.append(ev)

    task = asyncio.create_task(consume())
    deadline = time.monotonic() + 5
    while not model_requests(srv) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    reqs = model_requests(srv)
    assert reqs, "the server never saw the request"
    # inside the slow fault: the server has the request, the turn is already committed as pending
    assert seen and isinstance(seen[0], TurnStarted)
    tid = seen[0].turn.id
    now = await asyncio.to_thread(studio.store.get_turn, tid)
    assert now.status == "pending"
    assert now.created_at <= reqs[0].received_at
    assert tid in studio.active_turns
    await asyncio.wait_for(task, 10)
    assert isinstance(seen[-1], TurnSaved) and seen[-1].turn.status == "done"


async def test_failed_turn_keeps_error_and_no_final(studio: Studio, srv: FakeGemini) -> None:
    srv.inject("image_safety")
    events = await run(studio, GenerateRequest(prompt="something"))
    turn = events[-1].turn
    assert turn.status == "failed" and turn.error_kind == "safety" and "safety" in turn.error
    assert turn.final_images == []
    assert turn.finish_reason == "IMAGE_SAFETY"


async def test_stream_error_keeps_drafts_but_no_final(studio: Studio, srv: FakeGemini) -> None:
    srv.inject("stream_error")
    events = await run(studio, GenerateRequest(prompt="partial"))
    assert isinstance(events[-2], Failed)
    turn = events[-1].turn
    assert turn.status == "failed" and turn.error_kind == "stream_error"
    assert turn.final_images == [] and len(turn.draft_images) >= 1
    assert turn.model_content is not None and turn.model_content.thought_text()


async def test_edit_continues_branch_with_signatures(studio: Studio, srv: FakeGemini, tmp_path: Path) -> None:
    ref = png_file(tmp_path / "ref.png")
    first = await run(studio, GenerateRequest(prompt="a red bicycle", references=[ref]))
    t1 = first[-1].turn
    assert t1.status == "done" and len(t1.references) == 1
    second = await run(studio, GenerateRequest(prompt="make it blue", parent_id=t1.id, kind="edit"))
    t2 = second[-1].turn
    assert t2.status == "done", t2.error
    assert t2.parent_id == t1.id and t2.kind == "edit"
    body = model_requests(srv)[-1].body
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert any("thoughtSignature" in p for p in body["contents"][1]["parts"])
    assert any("inlineData" in p for p in body["contents"][0]["parts"])  # the reference is replayed too


async def test_validation_failure_records_nothing(studio: Studio, tmp_path: Path, srv: FakeGemini) -> None:
    refs = [png_file(tmp_path / f"r{i}.png", color=(i * 10, 0, 0)) for i in range(15)]  # type: ignore[arg-type]
    events = await run(studio, GenerateRequest(prompt="too many", references=refs))
    assert len(events) == 1 and isinstance(events[0], Failed) and events[0].error.kind == "validation"
    assert "at most 14" in events[0].error.message
    assert studio.store.tree_index() == [] and model_requests(srv) == []
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    events = await run(studio, GenerateRequest(prompt="bad ref", references=[bad]))
    assert isinstance(events[0], Failed) and events[0].error.kind == "validation"
    events = await run(studio, GenerateRequest(prompt="bad size", settings=GenerationSettings(image_size="3K")))
    assert isinstance(events[0], Failed) and "3K" in events[0].error.message
    events = await run(studio, GenerateRequest(prompt="no parent", parent_id=999))
    assert isinstance(events[0], Failed) and events[0].error.kind == "validation"


async def test_reroll_and_retry_requests(studio: Studio, srv: FakeGemini) -> None:
    s = GenerationSettings(aspect_ratio="9:16")
    t1 = (await run(studio, GenerateRequest(prompt="root", settings=s)))[-1].turn
    t2 = (await run(studio, GenerateRequest(prompt="child", parent_id=t1.id, settings=s, kind="edit")))[-1].turn
    rr = studio.reroll(t2.id)
    assert (rr.prompt, rr.parent_id, rr.kind, rr.settings.aspect_ratio) == ("child", t1.id, "reroll", "9:16")
    t3 = (await run(studio, rr))[-1].turn
    assert t3.parent_id == t1.id and t3.id != t2.id and t3.status == "done"
    assert sorted(t.id for t in studio.store.siblings(t2.id)) == [t2.id, t3.id]
    srv.inject("server")
    failed = (await run(studio, GenerateRequest(prompt="flaky", parent_id=t1.id, kind="edit")))[-1].turn
    assert failed.status == "failed" and failed.error_kind == "server"
    again = studio.retry(failed.id)
    assert (again.prompt, again.parent_id, again.kind) == ("flaky", t1.id, "edit")
    t5 = (await run(studio, again))[-1].turn
    assert t5.status == "done" and t5.id != failed.id
    assert studio.store.get_turn(failed.id).status == "failed"


async def test_concurrent_generations(studio: Studio) -> None:
    async def one(i: int) -> list[StudioEvent]:
        return await run(studio, GenerateRequest(prompt=f"parallel {i}"))

    results = await asyncio.gather(*(one(i) for i in range(4)))
    turns = [r[-1].turn for r in results]
    assert len({t.id for t in turns}) == 4 and all(t.status == "done" for t in turns)
    assert all(len(t.final_images) == 1 for t in turns)


async def test_cancel_marks_turn_cancelled(config: Config) -> None:
    studio = Studio.open(config, project="demo", demo=True)
    try:
        assert studio.demo and studio.target_label == "Demo (local server)"
        started: list[int] = []
        got_thought = asyncio.Event()

        async def consume() -> None:
            async for ev in studio.generate(GenerateRequest(prompt="a slow demo")):
                if isinstance(ev, TurnStarted):
                    started.append(ev.turn.id)
                if isinstance(ev, ThoughtText):
                    got_thought.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_thought.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        turn = studio.store.get_turn(started[0])
        assert turn.status == "cancelled" and turn.error_kind == "cancelled"
        assert studio.active_turns == set()
    finally:
        await studio.aclose()


async def test_demo_mode_generates_without_key(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY")
    monkeypatch.setenv("BANANA_STUDIO_DEMO_LATENCY", "0")
    studio = Studio.open(config, project="demo2", demo=True)
    try:
        assert studio.demo_server is None  # started lazily
        events = await run(studio, GenerateRequest(prompt="demo banana"))
        assert studio.demo_server is not None and studio.demo_server.latency == 0.0
        assert events[-1].turn.status == "done"
        finals = [e for e in events if isinstance(e, FinalImage)]
        with Image.open(io.BytesIO(finals[0].data)) as im:
            assert im.format == "JPEG"
    finally:
        await studio.aclose()


async def test_needs_demo_without_key(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY")
    studio = Studio.open(config, project="nokey")
    try:
        assert studio.needs_demo is True
        events = await run(studio, GenerateRequest(prompt="x"))
        failed = next(e for e in events if isinstance(e, Failed))
        assert failed.error.kind == "bad_key" and "--set-key" in failed.error.message
        assert events[-1].turn.status == "failed"
    finally:
        await studio.aclose()


def test_studio_open_is_light(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = ("import sys; from banana_studio.config import Config; from banana_studio.services import Studio; "
            f"s = Studio.open(Config(project_dir={str(tmp_path)!r}), project='p'); "
            "print('google.genai' in sys.modules, 'textual' in sys.modules, 'banana_studio.fakeserver' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False", "False"]


async def test_cancel_while_saving_keeps_the_finished_turn(studio: Studio, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    entered = threading.Event()
    original = studio.store.complete_turn

    def slow_complete(*args: object, **kwargs: object) -> object:
        entered.set()
        time.sleep(0.4)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(studio.store, "complete_turn", slow_complete)
    started: list[int] = []

    async def consume() -> None:
        async for ev in studio.generate(GenerateRequest(prompt="finish me")):
            if isinstance(ev, TurnStarted):
                started.append(ev.turn.id)

    task = asyncio.create_task(consume())
    deadline = time.monotonic() + 10
    while not entered.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert entered.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    turn = studio.store.get_turn(started[0])
    assert turn.status == "done" and len(turn.final_images) == 1


async def test_consumer_closing_early_marks_cancelled(studio: Studio) -> None:
    import contextlib

    tid = 0
    async with contextlib.aclosing(studio.generate(GenerateRequest(prompt="leave early"))) as events:
        async for ev in events:
            if isinstance(ev, TurnStarted):
                tid = ev.turn.id
            if isinstance(ev, ThoughtText):
                break
    assert studio.store.get_turn(tid).status == "cancelled"


async def test_storage_failure_while_streaming_fails_the_turn(studio: Studio,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save_draft(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(studio.store, "save_draft", broken_save_draft)
    events = await run(studio, GenerateRequest(prompt="disk full"))
    failed = [e for e in events if isinstance(e, Failed)]
    assert failed and failed[0].error.kind == "storage" and "No space left" in failed[0].error.message
    assert isinstance(events[-1], TurnSaved) and events[-1].turn.status == "failed"
    assert studio.active_turns == set()
