"""Fault matrix through the studio service: every row ends with the right turn status and error text,
the project stays consistent on disk, and the next generation in the same project works."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rel_common import CASES, KEY, MATRIX, Case, check_project

from banana_studio.config import Config
from banana_studio.domain.events import StudioEvent, TurnSaved, TurnStarted
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.store import ProjectStore
from banana_studio.store.recipe import read_recipe


def open_studio(fake: FakeGemini, root: Path, *, attempts: int = 1, timeout: float = 10.0) -> Studio:
    cfg = Config(base_url=fake.base_url, retry_attempts=attempts, timeout_seconds=timeout)
    studio = Studio.open(cfg, project="faults", project_dir=root)
    assert not studio.needs_demo and not studio.demo
    studio.target.initial_backoff = 0.02
    studio.target.max_backoff = 0.2
    studio.target.idle_timeout = 5.0
    return studio


async def run(studio: Studio, req: GenerateRequest) -> list[StudioEvent]:
    return [ev async for ev in studio.generate(req)]


@pytest.fixture
async def keyed(iso_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    yield


@pytest.mark.parametrize("case", MATRIX, ids=[c.id for c in MATRIX])
async def test_service_fault(case: Case, fake: FakeGemini, tmp_path: Path, keyed: None) -> None:
    root = tmp_path / "projects"
    studio = open_studio(fake, root, attempts=case.attempts, timeout=case.timeout or 10.0)
    try:
        fake.inject(case.fault, count=case.count, **case.params)
        events = await run(studio, GenerateRequest(prompt="a fox in the snow", settings=GenerationSettings()))
        assert isinstance(events[0], TurnStarted) and isinstance(events[-1], TurnSaved)
        turn = events[-1].turn
        assert turn.status == case.status, (turn.status, turn.error)
        finals = turn.final_images
        if case.ok:
            assert turn.error == "" and len(finals) == 1
            image = studio.store.abs_path(finals[0].path)
            recipe = read_recipe(image.read_bytes())
            assert recipe and recipe["turn_id"] == turn.id and recipe["prompt"] == "a fox in the snow"
        else:
            assert turn.error_kind == case.kind
            assert case.phrase.lower() in turn.error.lower(), turn.error
            assert finals == []
            if case.partial:
                assert turn.model_content is not None and turn.model_content.thought_text()
        assert KEY not in turn.error
        summary = check_project(studio.store.path, turns=1)
        assert summary["turns"] == {turn.id: case.status}

        # The project keeps working: the next request (fault gone) succeeds, continuing when possible.
        fake.clear_faults()
        parent = turn.id if (case.ok and case.fault != "empty_signature") else None
        again = await run(studio, GenerateRequest(prompt="the same fox at dawn", parent_id=parent))
        nxt = again[-1].turn
        assert nxt.status == "done" and len(nxt.final_images) == 1, nxt.error
        check_project(studio.store.path, turns=2)
        project_dir = studio.store.path
    finally:
        await studio.aclose()
    # Everything was persisted: a fresh open sees the same statuses and recovers nothing.
    with ProjectStore.open_path(project_dir) as store:
        assert store.recovered == []
        assert [(n.id, n.status) for n in store.tree_index()] == [(turn.id, case.status), (nxt.id, "done")]


async def test_edit_from_empty_signature_turn_is_clear(fake: FakeGemini, tmp_path: Path, keyed: None) -> None:
    """An image kept with an empty thought signature: editing from it gets a clear message, nothing breaks."""
    studio = open_studio(fake, tmp_path / "projects")
    try:
        fake.inject("empty_signature")
        first = (await run(studio, GenerateRequest(prompt="a red kite")))[-1].turn
        assert first.status == "done"
        assert studio.store.replay_contents(first.id)[-1].parts  # stored byte-exact, including b""
        assert any(p.thought_signature == b"" for p in studio.store.replay_contents(first.id)[-1].parts)
        edit = (await run(studio, GenerateRequest(prompt="make it blue", parent_id=first.id)))[-1].turn
        # Like the real API, the server refuses an image part whose signature is empty.
        assert edit.status == "failed" and edit.error_kind == "missing_signature"
        assert "thought signature was missing" in edit.error and "fork from an earlier turn" in edit.error
        check_project(studio.store.path, turns=2)
    finally:
        await studio.aclose()


async def test_retry_after_failure_creates_sibling_and_succeeds(fake: FakeGemini, tmp_path: Path,
                                                                keyed: None) -> None:
    studio = open_studio(fake, tmp_path / "projects")
    try:
        root_turn = (await run(studio, GenerateRequest(prompt="a castle")))[-1].turn
        fake.inject("stream_error")
        failed = (await run(studio, GenerateRequest(prompt="add a moat", parent_id=root_turn.id)))[-1].turn
        assert failed.status == "failed" and failed.error_kind == CASES["stream_error"].kind
        again = (await run(studio, studio.retry(failed.id)))[-1].turn
        assert again.status == "done" and again.parent_id == root_turn.id and again.prompt == "add a moat"
        assert studio.store.get_turn(failed.id).status == "failed"  # the failed attempt stays on record
        check_project(studio.store.path, turns=3)
    finally:
        await studio.aclose()
