"""Variations: N parallel requests → N sibling turns, against the local server."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.config import load_config
from banana_studio.domain.events import ThoughtText, TurnSaved, TurnStarted
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.services.variations import VariationSet, generate_variations, variation_requests


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(small=True) as s:
        yield s


@pytest.fixture()
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Iterator[Studio]:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", "k-variations")
    (tmp_path / "config.toml").write_text(f'base_url = "{srv.base_url}"\n', encoding="utf-8")
    s = Studio.open(load_config(), project="vars")
    yield s
    s.store.close()  # normally already closed by _run (idempotent)


def _run(studio: Studio, coro_fn: object) -> object:
    async def go() -> object:
        try:
            return await coro_fn()  # type: ignore[operator]
        finally:
            await studio.aclose()

    return asyncio.run(go())


def model_requests(srv: FakeGemini) -> list[object]:
    return [r for r in srv.requests if "generatecontent" in r.path.lower() and "batch" not in r.path.lower()]


async def collect(studio: Studio, req: GenerateRequest, n: int) -> VariationSet:
    vs = VariationSet(n)
    async for v in generate_variations(studio, req, n):
        vs.feed(v)
    return vs


def test_four_variations_are_parallel_siblings(studio: Studio, srv: FakeGemini) -> None:
    srv.latency = 0.05  # each answer streams several steps: sequential runs would be ≥0.2 s apart

    async def go() -> tuple[VariationSet, int]:
        parent = None
        async for ev in studio.generate(GenerateRequest("a teapot", settings=GenerationSettings())):
            if isinstance(ev, TurnSaved):
                parent = ev.turn.id
        assert parent is not None
        vs = await collect(studio, GenerateRequest("make it blue", parent_id=parent,
                                                   settings=GenerationSettings(aspect_ratio="3:4", seed=10)), 4)
        siblings = await asyncio.to_thread(studio.store.siblings, vs.done[0].id)
        assert {s.id for s in siblings} == {t.id for t in vs.done}
        return vs, parent

    vs, parent = _run(studio, go)  # type: ignore[misc]
    assert len(vs.done) == 4 and all(t.kind == "variation" and t.parent_id == parent for t in vs.done)
    assert len({t.id for t in vs.done}) == 4 and len({t.response_id for t in vs.done}) == 4
    reqs = model_requests(srv)[1:]
    assert len(reqs) == 4
    starts = sorted(r.received_at for r in reqs)
    assert starts[-1] - starts[0] < 0.15, "the four requests were sent at once, not one after another"
    assert sorted(r.body["generationConfig"]["seed"] for r in reqs) == [10, 11, 12, 13]
    # each continues the parent's branch (its signature is replayed)
    assert all(len(r.body["contents"]) == 3 for r in reqs)
    for t in vs.done:
        with Image.open(studio.store.abs_path(t.final_images[0].path)) as im:
            assert im.size == (896, 1200)


def test_events_are_tagged_with_their_variation(studio: Studio, srv: FakeGemini) -> None:
    async def go() -> dict[int, list[str]]:
        seen: dict[int, list[str]] = {0: [], 1: []}
        async for v in generate_variations(studio, GenerateRequest("a kite"), 2):
            seen[v.index].append(type(v.event).__name__)
        return seen

    seen = _run(studio, go)  # type: ignore[misc]
    for names in seen.values():  # type: ignore[union-attr]
        assert names[0] == "TurnStarted" and names[-1] == "TurnSaved" and "ThoughtText" in names


def test_one_failure_does_not_stop_the_others(studio: Studio, srv: FakeGemini) -> None:
    srv.inject("image_safety", count=1)
    vs = _run(studio, lambda: collect(studio, GenerateRequest("three boats"), 3))
    assert isinstance(vs, VariationSet)
    assert len(vs.done) == 2
    (bad,) = [t for t in vs.turns if t is not None and t.status != "done"]
    assert bad.status == "failed" and bad.error_kind == "safety"
    assert sum(1 for e in vs.errors if "IMAGE_SAFETY" in e) == 1


def test_closing_cancels_every_running_variation(studio: Studio, srv: FakeGemini) -> None:
    srv.latency = 0.5

    async def go() -> list[int]:
        started: set[int] = set()
        ids: list[int] = []
        gen = generate_variations(studio, GenerateRequest("slow clouds"), 3)
        async for v in gen:
            if isinstance(v.event, TurnStarted):
                ids.append(v.event.turn.id)
            if isinstance(v.event, ThoughtText):
                started.add(v.index)
            if len(started) == 3:
                break
        await gen.aclose()
        return ids

    ids = _run(studio, go)
    assert isinstance(ids, list) and len(ids) == 3
    # reopen the project: every variation was marked cancelled (not left pending/running)
    from banana_studio.store import ProjectStore

    with ProjectStore.open(studio.store.path.parent, "vars") as store:
        assert [store.get_turn(i).status for i in ids] == ["cancelled"] * 3


def test_references_are_copied_once(studio: Studio, srv: FakeGemini, tmp_path: Path) -> None:
    ref = tmp_path / "ref.png"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "orange").save(buf, format="PNG")
    ref.write_bytes(buf.getvalue())
    vs = _run(studio, lambda: collect(studio, GenerateRequest("like this", references=[ref]), 2))
    assert isinstance(vs, VariationSet) and len(vs.done) == 2
    assert vs.done[0].references == vs.done[1].references and len(vs.done[0].references) == 1
    assert len(list((studio.store.path / "refs").iterdir())) == 1


def test_bad_reference_fails_every_variation_without_recording(studio: Studio, srv: FakeGemini,
                                                               tmp_path: Path) -> None:
    vs = _run(studio, lambda: collect(studio, GenerateRequest("x", references=[tmp_path / "missing.png"]), 2))
    assert isinstance(vs, VariationSet)
    assert all(vs.errors) and vs.started == [None, None]
    assert model_requests(srv) == []


def test_variation_count_is_bounded() -> None:
    with pytest.raises(ValueError, match="between 2 and 8"):
        variation_requests(GenerateRequest("x"), 9)
    with pytest.raises(ValueError):
        variation_requests(GenerateRequest("x"), 1)
    assert [r.settings.seed for r in variation_requests(GenerateRequest("x"), 3)] == [None] * 3
