"""Where a turn was made (issue 18): schema migration, real-money totals, the budget and one "today"."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from banana_studio.domain.content import b64encode, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import LOCAL_SIGNATURE_MAGIC, Target, first_crossing, infer_target
from banana_studio.fakeserver import protocol
from banana_studio.services.budget import check_budget, spending
from banana_studio.store import ProjectStore, list_projects
from banana_studio.store import schema as schema_mod
from banana_studio.store.totals import totals_across


def test_local_server_signatures_have_the_recognised_shape() -> None:
    sig = protocol.Signer(b"any secret").sign("resp-1", 0)
    assert sig.startswith(LOCAL_SIGNATURE_MAGIC)
    assert infer_target([sig]) is Target.LOCAL
    assert infer_target([b"\x0a\x20" + b"google" * 40]) is Target.UNKNOWN
    assert infer_target([]) is Target.UNKNOWN


def test_first_crossing_rules() -> None:
    local_sig = protocol.Signer().sign("r", 0)
    foreign = b"\x0a\x99google-signature"
    assert first_crossing([(1, Target.LOCAL, [local_sig])], Target.GEMINI_API) == (1, Target.LOCAL)
    assert first_crossing([(1, Target.GEMINI_API, [foreign])], Target.VERTEX) == (1, Target.GEMINI_API)
    assert first_crossing([(1, Target.GEMINI_API, [foreign])], Target.GEMINI_API) is None
    # Unknown turns: the signature shape decides.
    assert first_crossing([(1, Target.UNKNOWN, [local_sig])], Target.GEMINI_API) == (1, Target.LOCAL)
    assert first_crossing([(1, Target.UNKNOWN, [foreign])], Target.LOCAL) == (1, Target.UNKNOWN)
    assert first_crossing([(1, Target.UNKNOWN, [foreign])], Target.GEMINI_API) is None


def build_v3_project(project: Path, *, demo_cost: float = 1.146, real_cost: float = 0.134) -> None:
    """A project as schema 3 wrote it: one demo turn (local-server signature), one real one."""
    project.mkdir(parents=True)
    conn = sqlite3.connect(project / "project.db")
    schema_mod.create_v1(conn)
    schema_mod._v2(conn)
    schema_mod._v3(conn)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO meta(key, value) VALUES ('uuid', 'u3'), ('name', 'old')")
    settings = json.dumps({"model": "gemini-2.5-flash-image"})
    uj = json.dumps({"role": "user", "parts": [{"text": "x"}]})
    local = b64encode(protocol.Signer().sign("rid-demo", 0))
    google = b64encode(b"\x0a\x30" + bytes(range(48)))
    now = time.time()
    for i, (sig, cost) in enumerate([(local, demo_cost), (google, real_cost)], start=1):
        mj = json.dumps({"role": "model", "parts": [{"text": "", "thought_signature": sig}]})
        conn.execute("INSERT INTO turns (parent_id, prompt, status, settings_json, user_json, model_json, cost, "
                     "model_version, created_at, updated_at) VALUES (?, ?, 'done', ?, ?, ?, ?, ?, ?, ?)",
                     (i - 1 or None, f"turn {i}", settings, uj, mj, cost, "gemini-2.5-flash-image", now, now))
    conn.execute("INSERT INTO turns (parent_id, prompt, status, settings_json, created_at, updated_at) "
                 "VALUES (NULL, 'failed one', 'failed', ?, ?, ?)", (settings, now, now))
    conn.commit()
    conn.close()


def test_migration_classifies_existing_turns(tmp_path: Path) -> None:
    build_v3_project(tmp_path / "old")
    with ProjectStore.open(tmp_path, "old") as s:
        assert s._query("PRAGMA user_version")[0][0] == schema_mod.SCHEMA_VERSION >= 4
        assert [s.get_turn(i).target for i in (1, 2, 3)] == ["local", "unknown", "unknown"]
        assert [n.target for n in s.tree_index()] == ["local", "unknown", "unknown"]
        assert s.get_turn(1).is_demo and not s.get_turn(2).is_demo
        new = s.create_turn(None, "new", GenerationSettings(), [], user_content("new"), target="gemini-api")
        assert new.target == "gemini-api"
        costs = s.costs(2)
        # Real money only; the demo turn's simulated cost is reported apart.
        assert costs["project"] == pytest.approx(0.134) and costs["today"] == pytest.approx(0.134)
        assert costs["branch"] == pytest.approx(0.134) and costs["demo_branch"] == pytest.approx(1.146)
        assert costs["demo_project"] == pytest.approx(1.146) and costs["demo_today"] == pytest.approx(1.146)
        assert s.costs(1)["turn"] == 0.0 and s.costs(1)["demo_turn"] == pytest.approx(1.146)


def test_unmigrated_projects_are_classified_in_read_only_peeks(tmp_path: Path) -> None:
    build_v3_project(tmp_path / "old")  # never opened: still schema 3
    totals = totals_across([tmp_path])
    assert totals.today == pytest.approx(0.134) and totals.demo_today == pytest.approx(1.146)
    info = list_projects(tmp_path)[0]
    assert info.cost == pytest.approx(0.134) and info.demo_cost == pytest.approx(1.146)


def _turn(store: ProjectStore, target: str, cost: float, status: str = "done") -> int:
    t = store.create_turn(None, f"{target} turn", GenerationSettings(), [], user_content("p"), target=target)
    if status == "done":
        store.complete_turn(t.id, model_content=None, status="done", cost=cost)
    return t.id


def test_demo_turns_are_excluded_from_budgets_and_today(tmp_path: Path) -> None:
    with ProjectStore.open(tmp_path, "a") as a, ProjectStore.open(tmp_path, "b") as b:
        _turn(a, "local", 1.146)
        _turn(a, "gemini-api", 0.1)
        _turn(b, "gemini-api", 0.2)
        _turn(b, "local", 0.0, status="pending")  # a demo generation in flight: not committed money
        s = spending(tmp_path, a.path)
        assert s.today == pytest.approx(0.3) and s.project == pytest.approx(0.1) and s.in_flight_today == 0.0
        # The status line's "today" (store.costs) is the budget's "today": all projects, real money.
        assert a.costs()["today"] == pytest.approx(s.today) == b.costs()["today"]
        verdict = check_budget(GenerationSettings(), daily_budget=0.5, project_budget=0.3, root=tmp_path,
                               project_dir=a.path)
        assert verdict.ok, verdict.message  # 1.146 of demo play would have exceeded both


def test_today_counts_a_project_outside_the_root(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "projects", tmp_path / "elsewhere"
    root.mkdir()
    with ProjectStore.open(root, "inside") as inside, ProjectStore.open(elsewhere, "out") as out:
        _turn(inside, "gemini-api", 0.25)
        _turn(out, "vertex", 0.5)
        out.spending_roots = [root, elsewhere]
        assert out.costs()["today"] == pytest.approx(0.75)
        assert spending(root, out.path, roots=[elsewhere]).today == pytest.approx(0.75)


def test_recipe_and_export_carry_the_target(tmp_path: Path, png_bytes: bytes) -> None:
    from banana_studio.domain.content import Content, Part
    from banana_studio.store.recipe import read_recipe

    with ProjectStore.open(tmp_path, "p") as s:
        t = s.create_turn(None, "a cat", GenerationSettings(), [], user_content("a cat"), target="local")
        content = Content("model", [Part(mime_type="image/png", data=png_bytes, thought_signature=b"sig")])
        done = s.complete_turn(t.id, model_content=content, status="done", cost=0.039,
                               model_version="gemini-3-pro-image-preview")
        recipe = read_recipe(s.abs_path(done.final_images[0].path).read_bytes())
        assert recipe is not None
        assert recipe["target"] == "local" and recipe["model_version"] == "gemini-3-pro-image-preview"
        doc = json.loads(s.export_branch(t.id, tmp_path / "out").read_text())
        assert doc["turns"][0]["target"] == "local" and doc["turns"][0]["demo"] is True
        assert doc["costs"]["branch"] == 0.0 and doc["costs"]["demo_branch"] == pytest.approx(0.039)


@pytest.fixture
def png_bytes() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, "PNG")
    return buf.getvalue()
