"""The cost guard: daily / project budgets, in-flight and batch commitments, `gen` refusing without --yes."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.cli.main import main
from banana_studio.config import load_config
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine import estimate_cost
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import Studio
from banana_studio.services.batch import BATCH_DIR, BatchItem, BatchRecord
from banana_studio.services.budget import check_budget, request_estimate, spending
from banana_studio.store import ProjectStore

PRO = GenerationSettings()
ONE = estimate_cost(PRO)


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, format="JPEG")
    return buf.getvalue()


def add_turn(root: Path, project: str, cost: float, *, status: str = "done", days_ago: float = 0) -> int:
    with ProjectStore.open(root, project) as s:
        t = s.create_turn(None, f"cost {cost}", PRO, [], user_content("x"))
        if status != "pending":
            s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=jpeg())]),
                            status=status, cost=cost)
    if days_ago:
        conn = sqlite3.connect(root / project / "project.db")
        conn.execute("UPDATE turns SET created_at = ? WHERE id = ?", (time.time() - days_ago * 86400, t.id))
        conn.commit()
        conn.close()
    return t.id


def test_request_estimate_scales_and_batch_halves() -> None:
    assert request_estimate(PRO, 4) == pytest.approx(4 * ONE)
    assert request_estimate(PRO, 4, batch=True) == pytest.approx(2 * ONE)
    assert request_estimate(PRO.copy(image_size="4K"), 1) > ONE


def test_no_budget_is_always_ok(tmp_path: Path) -> None:
    v = check_budget(PRO, 100, daily_budget=None, project_budget=None, root=tmp_path, project_dir=None)
    assert v.ok and v.estimate == pytest.approx(100 * ONE)


def test_daily_budget_counts_every_project_today_only(tmp_path: Path) -> None:
    add_turn(tmp_path, "a", 0.30)
    add_turn(tmp_path, "b", 0.10)
    add_turn(tmp_path, "b", 5.00, days_ago=2)  # old spending: not today's
    s = spending(tmp_path, tmp_path / "b")
    assert s.today == pytest.approx(0.40) and s.project == pytest.approx(5.10)

    v = check_budget(PRO, daily_budget=0.40 + ONE + 0.01, project_budget=None, root=tmp_path,
                     project_dir=tmp_path / "b", project_name="b")
    assert v.ok, v.message
    v = check_budget(PRO, 2, daily_budget=0.40 + ONE + 0.01, project_budget=None, root=tmp_path,
                     project_dir=tmp_path / "b", project_name="b")
    assert not v.ok and v.exceeded == ("daily",)
    assert "over your daily budget of $" in v.message and f"{2 * ONE:.3f}" in v.message
    assert "for 2 images" in v.message


def test_project_budget(tmp_path: Path) -> None:
    add_turn(tmp_path, "big", 9.95, days_ago=3)
    v = check_budget(PRO, daily_budget=100.0, project_budget=10.0, root=tmp_path, project_dir=tmp_path / "big",
                     project_name="big")
    assert v.exceeded == ("project",)
    assert "project 'big'" in v.message and "$10.00" in v.message
    v = check_budget(PRO, daily_budget=100.0, project_budget=10.0, root=tmp_path, project_dir=tmp_path / "other")
    assert v.ok


def test_in_flight_generations_count(tmp_path: Path) -> None:
    """A generation still running (here or in another process) is money already committed."""
    add_turn(tmp_path, "p", 0.0, status="pending")
    v = check_budget(PRO, daily_budget=ONE * 1.5, project_budget=None, root=tmp_path, project_dir=tmp_path / "p")
    assert not v.ok and v.committed_today == pytest.approx(ONE)
    assert "still in flight" in v.message


def test_unfinished_batch_jobs_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", "k-budget-test")
    (tmp_path / "config.toml").write_text("[budget]\nproject = 1.0\n", encoding="utf-8")
    studio = Studio.open(load_config(), project="p")
    try:
        assert studio.check_budget(PRO, 1).ok
        rec = BatchRecord(name="batches/x1", model=PRO.model, display_name="", created_at=time.time(), target="t",
                          input_mode="inline", estimate=0.95, items=[BatchItem("k", "p", PRO.to_json())])
        (studio.store.path / BATCH_DIR).mkdir()
        (studio.store.path / BATCH_DIR / "x1.json").write_text(json.dumps(rec.to_json()), encoding="utf-8")
        v = studio.check_budget(PRO, 1)
        assert not v.ok and v.committed_project == pytest.approx(0.95)
        rec.imported = True  # once imported, its real cost is in the turns instead
        (studio.store.path / BATCH_DIR / "x1.json").write_text(json.dumps(rec.to_json()), encoding="utf-8")
        assert studio.check_budget(PRO, 1).ok
    finally:
        studio.store.close()


def test_demo_requests_and_demo_batch_jobs_are_not_money(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Real spending over the daily budget does not stop demo play, and a demo batch job still running
    in a (mixed) project does not count against the real budgets."""
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", "k-budget-test")
    monkeypatch.setenv("BANANA_STUDIO_DEMO_LATENCY", "0")
    monkeypatch.setenv("BANANA_STUDIO_DEMO_SMALL", "1")
    (tmp_path / "config.toml").write_text("[budget]\ndaily = 0.10\nproject = 0.10\n", encoding="utf-8")
    real = Studio.open(load_config(), project="p")
    try:
        t = real.store.create_turn(None, "real", PRO, [], user_content("real"), target="gemini-api")
        real.store.complete_turn(t.id, model_content=None, status="done", cost=0.09)
        assert not real.check_budget(PRO, 1).ok  # $0.09 spent + ~$0.134 > $0.10
        rec = BatchRecord(name="batches/d1", model=PRO.model, display_name="", created_at=time.time(),
                          target="Demo (local server) http://127.0.0.1:1", input_mode="inline", estimate=0.95,
                          items=[BatchItem("k", "p", PRO.to_json())])
        (real.store.path / BATCH_DIR).mkdir()
        (real.store.path / BATCH_DIR / "d1.json").write_text(json.dumps(rec.to_json()), encoding="utf-8")
        assert real.check_budget(PRO, 1).committed_project == 0.0
    finally:
        real.store.close()
    demo = Studio.open(load_config(), project="p", project_dir=tmp_path / "data" / "projects", demo=True)
    try:
        verdict = demo.check_budget(PRO, 4)
        assert verdict.ok and verdict.spent_today == pytest.approx(0.09)  # the real figures, never a stop
    finally:
        demo.store.close()
    assert main(["gen", "a demo fox", "-q", "--demo", "-p", "play"]) == 0  # no --yes needed
    capsys.readouterr()


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(small=True) as s:
        yield s


def test_gen_refuses_over_budget_without_yes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", "k-budget-test")
    (tmp_path / "config.toml").write_text(f'base_url = "{srv.base_url}"\n[budget]\ndaily = 0.05\n',
                                          encoding="utf-8")
    assert main(["gen", "a costly fox", "-q", "-p", "g"]) == 3
    err = capsys.readouterr().err
    assert "over your daily budget of $0.05" in err and "--yes" in err
    assert not [r for r in srv.requests if "generatecontent" in r.path.lower()]
    with ProjectStore.open(tmp_path / "data" / "projects", "g") as s:
        assert s.tree_index() == []  # nothing recorded either
    assert main(["gen", "a costly fox", "-q", "-p", "g", "--yes"]) == 0
    assert [r for r in srv.requests if "generatecontent" in r.path.lower()]
