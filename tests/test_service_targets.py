"""Demo and real never mix (issue 18), through the Studio service against local servers.

The "Gemini API" here is a FakeGemini with its own secret: its thought signatures are not ones the
demo server made, exactly like Google's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from banana_studio.config import Config
from banana_studio.domain.events import Failed, Finished, StudioEvent, TurnSaved
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio

KEY = "test-key-for-the-fake-server"


@pytest.fixture
def google() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, secret=b"not the demo server's secret") as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, google: FakeGemini) -> Config:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return Config(project_dir=str(tmp_path / "projects"), base_url=google.base_url, retry_attempts=1,
                  timeout_seconds=20)


async def run(studio: Studio, req: GenerateRequest) -> list[StudioEvent]:
    return [ev async for ev in studio.generate(req)]


def saved(events: list[StudioEvent]) -> object:
    assert isinstance(events[-1], TurnSaved), events
    return events[-1].turn


def model_requests(srv: FakeGemini | None) -> int:
    if srv is None:
        return 0
    return len([r for r in srv.requests if "enerateContent" in r.path])


@pytest.fixture
async def real_turn(config: Config) -> AsyncIterator[int]:
    studio = Studio.open(config, project="p")
    try:
        turn = saved(await run(studio, GenerateRequest(prompt="a lighthouse")))
        assert turn.status == "done" and turn.target == "gemini-api"  # type: ignore[attr-defined]
        assert turn.model_version  # type: ignore[attr-defined]
        yield turn.id  # type: ignore[attr-defined]
    finally:
        await studio.aclose()


async def test_demo_mode_has_its_own_projects_root(config: Config, tmp_path: Path) -> None:
    studio = Studio.open(config, project="p", demo=True, demo_latency=0)
    try:
        assert studio.store.path == tmp_path / "projects-demo" / "p"
        assert studio.demo_into_real == ""
        turn = saved(await run(studio, GenerateRequest(prompt="demo banana")))
        assert turn.target == "local" and turn.is_demo  # type: ignore[attr-defined]
        assert not (tmp_path / "projects" / "p").exists()  # the real root never got a synthetic turn
        costs = studio.costs(turn.id)  # type: ignore[attr-defined]
        assert costs["today"] == 0.0 and costs["project"] == 0.0 and costs["demo_project"] > 0
    finally:
        await studio.aclose()


async def test_demo_on_a_real_project_is_flagged(config: Config, real_turn: int) -> None:
    studio = Studio.open(config, project="p", project_dir=Path(config.project_dir), demo=True, demo_latency=0)
    try:
        assert "1 turn made with the real API" in studio.demo_into_real
    finally:
        await studio.aclose()


async def test_demo_cannot_continue_a_real_branch_and_nothing_is_sent(config: Config, real_turn: int) -> None:
    studio = Studio.open(config, project="p", project_dir=Path(config.project_dir), demo=True, demo_latency=0)
    try:
        events = await run(studio, GenerateRequest(prompt="now at night", parent_id=real_turn, kind="edit"))
        assert len(events) == 1 and isinstance(events[0], Failed)
        err = events[0].error
        assert err.kind == "cross_target"
        assert "made with Gemini API" in err.message and "continue from the image alone" in err.message
        assert "Nothing was sent" in err.message
        assert model_requests(studio.demo_server) == 0
        assert [n.id for n in studio.store.tree_index()] == [real_turn]  # nothing recorded
        # The way that works: a new root whose reference is the image.
        req = await _from_image(studio, real_turn, "now at night")
        turn = saved(await run(studio, req))
        assert turn.status == "done" and turn.parent_id is None and turn.target == "local"  # type: ignore[attr-defined]
        assert turn.kind == "from_image" and len(turn.references) == 1  # type: ignore[attr-defined]
    finally:
        await studio.aclose()


async def _from_image(studio: Studio, turn_id: int, prompt: str) -> GenerateRequest:
    import asyncio

    return await asyncio.to_thread(studio.start_from_image, turn_id, prompt)


async def test_real_api_cannot_continue_a_demo_branch(config: Config, google: FakeGemini) -> None:
    demo = Studio.open(config, project="p", demo=True, demo_latency=0)
    try:
        demo_turn = saved(await run(demo, GenerateRequest(prompt="demo cat")))
    finally:
        await demo.aclose()
    before = model_requests(google)
    real = Studio.open(config, project="p", project_dir=Path(config.project_dir).with_name("projects-demo"))
    try:
        events = await run(real, GenerateRequest(prompt="edit it", parent_id=demo_turn.id))  # type: ignore[attr-defined]
        assert isinstance(events[-1], Failed) and events[-1].error.kind == "cross_target"
        assert "local demo server; Google rejects them" in events[-1].error.message
        assert model_requests(google) == before
    finally:
        await real.aclose()


async def test_gemini_api_branch_does_not_continue_on_vertex(config: Config, real_turn: int,
                                                               google: FakeGemini) -> None:
    studio = Studio.open(config, project="p")
    studio.target.vertex = True  # refused before any client is made
    try:
        before = model_requests(google)
        events = await run(studio, GenerateRequest(prompt="more", parent_id=real_turn))
        assert isinstance(events[-1], Failed) and events[-1].error.kind == "cross_target"
        assert "sends to Vertex AI" in events[-1].error.message
        assert model_requests(google) == before
    finally:
        await studio.aclose()


async def test_unrecorded_target_reaches_the_local_server_which_rejects_it(config: Config, real_turn: int) -> None:
    """When nothing tells where an old turn was made, the request goes out and the local server answers
    as Google does for a signature it did not make: 400 "Corrupted thought signature."."""
    db = Path(config.project_dir) / "p" / "project.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE turns SET target = 'unknown'")
    studio = Studio.open(config, project="p", project_dir=Path(config.project_dir), demo=True, demo_latency=0)
    try:
        events = await run(studio, GenerateRequest(prompt="go on", parent_id=real_turn))
        end = [e for e in events if isinstance(e, (Finished, Failed))][-1]
        message = end.error.message if end.error else ""
        assert "Corrupted thought signature." in message
        assert model_requests(studio.demo_server) >= 1
    finally:
        await studio.aclose()


async def test_start_from_image_needs_an_image(config: Config) -> None:
    from banana_studio.domain.content import user_content
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.store import ProjectError

    studio = Studio.open(config, project="p")
    try:
        t = studio.store.create_turn(None, "x", GenerationSettings(), [], user_content("x"))
        with pytest.raises(ProjectError, match="no final image"):
            studio.start_from_image(t.id, "y")
    finally:
        await studio.aclose()
