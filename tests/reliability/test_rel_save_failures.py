"""Disk full while an answer is saved: nothing partial stays in images/, and the billed answer's usage and
cost are recorded anyway (budgets must not undercount)."""

from __future__ import annotations

import errno
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rel_common import KEY, check_project

from banana_studio.config import Config
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.events import Failed, TurnSaved
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.store import ProjectError, ProjectStore


def _jpeg(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buf, "JPEG")
    return buf.getvalue()


def _full_disk_on(monkeypatch: pytest.MonkeyPatch, match: str) -> list[str]:
    import banana_studio.store.files as project_mod

    real = project_mod.atomic_write
    calls: list[str] = []

    def full(path: Path, data: bytes, **kw: Any) -> None:
        calls.append(str(path))
        if match in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, **kw)

    monkeypatch.setattr(project_mod, "atomic_write", full)
    return calls


def test_disk_full_on_the_second_final_image_leaves_nothing_and_keeps_the_bill(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    usage = {"prompt_tokens": 12, "candidates_tokens": 2240, "image_tokens": 2240, "thoughts_tokens": 300}
    with ProjectStore.open(tmp_path, "p") as s:
        t = s.create_turn(None, "a cat", GenerationSettings(), [], user_content("a cat"))
        s.set_status(t.id, "running")
        calls = _full_disk_on(monkeypatch, "images/0001-a-cat-2")
        mc = Content("model", [Part(mime_type="image/jpeg", data=_jpeg("gray"), thought=True),
                               Part(mime_type="image/jpeg", data=_jpeg("red")),
                               Part(mime_type="image/jpeg", data=_jpeg("blue"))])
        with pytest.raises(ProjectError, match="No space left on device"):
            s.complete_turn(t.id, model_content=mc, status="done", usage=usage, cost=0.134,
                            finish_reason="STOP", response_id="resp-1")
        assert any("0001-a-cat.jpg" in c for c in calls) and any("0001-a-cat-2" in c for c in calls)
        turn = s.get_turn(t.id)
        assert turn.status == "failed" and turn.error_kind == "storage" and turn.images == []
        assert turn.usage == usage and turn.cost == pytest.approx(0.134) and turn.response_id == "resp-1"
        assert s.costs()["project"] == pytest.approx(0.134)
    assert sorted(p.name for p in (tmp_path / "p" / "images").rglob("*") if p.is_file()) == []
    check_project(tmp_path / "p", turns=1)
    with ProjectStore.open(tmp_path, "p") as s:  # deleting the turn reclaims the blobs that did land
        s.delete_branch(t.id)
    assert [p for p in (tmp_path / "p" / "blobs").rglob("*") if p.is_file()] == []


async def test_disk_full_on_the_final_image_records_usage_and_cost(fake: FakeGemini, tmp_path: Path,
                                                                   iso_env: dict[str, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    studio = Studio.open(Config(base_url=fake.base_url, retry_attempts=1), project="disk", project_dir=tmp_path / "p")
    try:
        _full_disk_on(monkeypatch, "images/0001-")
        events = [ev async for ev in studio.generate(GenerateRequest(prompt="a mountain lake"))]
        failed = [e for e in events if isinstance(e, Failed)]
        assert failed and failed[-1].error.kind == "storage" and "No space left" in failed[-1].error.message
        assert isinstance(events[-1], TurnSaved)
        turn = studio.store.get_turn(events[-1].turn.id)
        assert turn.status == "failed" and turn.final_images == []
        assert turn.usage.get("candidates_tokens", 0) > 0, turn.usage  # the answer was billed ...
        assert turn.cost > 0  # ... and counts towards the budgets
        check_project(studio.store.path, turns=1)
    finally:
        await studio.aclose()


def test_a_database_that_cannot_take_the_answer_leaves_no_image_and_keeps_the_bill(tmp_path: Path) -> None:
    """Both finals are in images/ and then the commit of their rows fails (the database has no room):
    the files go again, and the failure is recorded with the answer's usage and cost."""
    import sqlite3

    usage = {"prompt_tokens": 12, "candidates_tokens": 2240, "image_tokens": 2240}
    with ProjectStore.open(tmp_path, "p") as s:
        t = s.create_turn(None, "a cat", GenerationSettings(), [], user_content("a cat"))
        s.set_status(t.id, "running")

        def no_image_rows(action: int, arg1: str | None, *_: object) -> int:
            return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_INSERT and arg1 == "images" else sqlite3.SQLITE_OK

        s._conn.set_authorizer(no_image_rows)
        mc = Content("model", [Part(mime_type="image/jpeg", data=_jpeg("red")),
                               Part(mime_type="image/jpeg", data=_jpeg("blue"))])
        with pytest.raises(ProjectError):
            s.complete_turn(t.id, model_content=mc, status="done", usage=usage, cost=0.134, finish_reason="STOP")
        s._conn.set_authorizer(None)
        turn = s.get_turn(t.id)
        assert turn.status == "failed" and turn.error_kind == "storage" and turn.images == []
        assert turn.usage == usage and turn.cost == pytest.approx(0.134)
    assert sorted(p.name for p in (tmp_path / "p" / "images").rglob("*") if p.is_file()) == []
    check_project(tmp_path / "p", turns=1)


def test_the_bill_is_recorded_even_when_the_blobs_tie_cannot_be(tmp_path: Path) -> None:
    """On a nearly full disk the failure record and the blobs' tie to the turn may not both fit: the bill
    goes in a transaction of its own, first (a real full tmpfs recorded cost 0 before)."""
    import sqlite3

    usage = {"prompt_tokens": 12, "candidates_tokens": 2240, "image_tokens": 2240}
    with ProjectStore.open(tmp_path, "p") as s:
        t = s.create_turn(None, "a cat", GenerationSettings(), [], user_content("a cat"))
        s.set_status(t.id, "running")

        def full(action: int, arg1: str | None, *_: object) -> int:
            denied = action == sqlite3.SQLITE_INSERT and arg1 in ("images", "turn_blobs")
            return sqlite3.SQLITE_DENY if denied else sqlite3.SQLITE_OK

        s._conn.set_authorizer(full)
        with pytest.raises(ProjectError):
            s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=_jpeg("red"))]),
                            status="done", usage=usage, cost=0.134, finish_reason="STOP")
        s._conn.set_authorizer(None)
        turn = s.get_turn(t.id)
        assert turn.status == "failed" and turn.usage == usage and turn.cost == pytest.approx(0.134)
    assert sorted(p.name for p in (tmp_path / "p" / "images").rglob("*") if p.is_file()) == []


async def test_the_service_records_the_bill_again_when_the_store_could_not(fake: FakeGemini, tmp_path: Path,
                                                                        iso_env: dict[str, str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A real full tmpfs: the store's failure record with the bill did not fit, the plain status change just
    after it did, and the turn ended failed at cost 0.  The service tries the bill once more."""
    import sqlite3

    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    studio = Studio.open(Config(base_url=fake.base_url, retry_attempts=1), project="disk", project_dir=tmp_path / "p")
    try:
        _full_disk_on(monkeypatch, "images/0001-")
        denied: list[str] = []

        def full_once(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
            if action == sqlite3.SQLITE_UPDATE and arg1 == "turns" and arg2 == "usage_json" and not denied:
                denied.append("usage_json")
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        studio.store._conn.set_authorizer(full_once)
        events = [ev async for ev in studio.generate(GenerateRequest(prompt="a mountain lake"))]
        studio.store._conn.set_authorizer(None)
        assert denied and isinstance(events[-1], TurnSaved)
        turn = studio.store.get_turn(events[-1].turn.id)
        assert turn.status == "failed" and turn.error_kind == "storage"
        assert turn.usage.get("candidates_tokens", 0) > 0 and turn.cost > 0, (turn.usage, turn.cost)
        check_project(studio.store.path, turns=1)
    finally:
        await studio.aclose()
