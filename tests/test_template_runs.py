"""Template runs (issue 16): planning and pricing, parallel and batch runs against the local server, the
run record in the index and its migration, and the `template` command."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from banana_studio.cli.main import main
from banana_studio.config import load_config
from banana_studio.domain.content import user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import Studio
from banana_studio.services.budget import request_estimate
from banana_studio.services.templates import (
    RunOptions,
    TemplateError,
    TemplateLibrary,
    build_plan,
    grid_of_run,
    run_interactive,
    submit_batch,
)
from banana_studio.store import ProjectStore
from banana_studio.store import template_runs as runs
from banana_studio.store.batch_jobs import load_records
from banana_studio.store.schema import MIGRATIONS, SCHEMA_VERSION, create_v1

KEY = "k-template-runs-0123456789"
PORTRAIT = 'description = "portraits"\nprompt = "A {style} {subject}"\n[slots]\nstyle = "ink"\n' \
           'subject = ["fox", "owl"]\n[settings]\nsize = "1K"\n'


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(small=True, batch_seconds=0) as s:
        yield s


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    for name in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
                 "BANANA_STUDIO_TEMPLATES_DIR"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.toml").write_text(f'base_url = "{srv.base_url}"\n', encoding="utf-8")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "portrait.toml").write_text(PORTRAIT, encoding="utf-8")
    return tmp_path


def open_studio(project: str = "tpl") -> Studio:
    return Studio.open(load_config(), project=project)


def generate_calls(srv: FakeGemini) -> list[object]:
    return [r for r in srv.requests if "generatecontent" in r.path.lower() and "batch" not in r.path.lower()]


def test_plan_prices_every_cell_and_the_batch_lane(env: Path) -> None:
    studio = open_studio()
    try:
        tpl = TemplateLibrary.for_store(studio.store).get("portrait")
        plan = build_plan(studio.store, tpl, RunOptions(aspects=["1:1", "16:9"],
                                                        models=["gemini-3-pro-image", "gemini-3.1-flash-image"]),
                          GenerationSettings())
        assert plan.count == 8 and not plan.problems
        pro = GenerationSettings(model="gemini-3-pro-image")
        flash = GenerationSettings(model="gemini-3.1-flash-image")
        want = 4 * request_estimate(pro) + 4 * request_estimate(flash)
        assert plan.total == pytest.approx(want)
        assert plan.batch_total == pytest.approx(4 * request_estimate(pro, batch=True)
                                                 + 4 * request_estimate(flash, batch=True))
        assert plan.batch_total < plan.total
        assert "8 requests (2 subject × 2 aspect × 2 model)" in plan.summary()
        assert {r.kind for r in plan.requests} == {"template"}
        bad = build_plan(studio.store, tpl, RunOptions(aspects=["7:3"]), GenerationSettings())
        assert bad.problems and "7:3" in bad.problems[0]
    finally:
        studio.store.close()


def test_interactive_run_records_cells_before_sending_and_links_each_turn(env: Path, srv: FakeGemini) -> None:
    (env / "subjects.txt").write_text("# one per line\nfox\nowl\nlynx\n", encoding="utf-8")
    studio = open_studio()

    async def go() -> int:
        try:
            tpl = TemplateLibrary.for_store(studio.store).get("portrait")
            plan = build_plan(studio.store, tpl, RunOptions({"subject": [f"@{env / 'subjects.txt'}"]},
                                                            seeds=[1, 2]), GenerationSettings())
            assert plan.count == 6
            seen: list[int] = []

            def recorded(run: runs.TemplateRun) -> None:  # before any request went out
                seen.append(len(generate_calls(srv)))
                assert [c.turn_id for c in run.cells] == [None] * 6

            async for _ in run_interactive(studio, plan, concurrency=2, on_run=recorded):
                pass
            assert seen == [0]
            return runs.list_runs(studio.store)[0].id
        finally:
            await studio.aclose()

    run_id = asyncio.run(go())
    assert len(generate_calls(srv)) == 6
    with ProjectStore.open(env / "data" / "projects", "tpl") as store:
        g = grid_of_run(store, run_id)
        assert g.run.name == "portrait" and g.run.template_text == PORTRAIT and g.run.lane == "interactive"
        assert g.layout.columns == ["fox", "owl", "lynx"] and g.layout.rows == ["1", "2"]
        for r, row in enumerate(g.layout.grid):
            for c, idx in enumerate(row):
                turn = g.turns[idx]
                assert turn.status == "done" and turn.kind == "template"
                assert turn.prompt == f"A ink {g.layout.columns[c]}" and turn.settings.seed == r + 1
        assert len({t.parent_id for t in g.turns.values()}) == 1  # siblings
        assert runs.run_of_turn(store, g.turns[0].id) == (run_id, 0)
        assert runs.turns_of_template(store, "portrait") == sorted(t.id for t in g.turns.values())
        assert runs.turns_of_template(store, "other") == []
        # a turn deleted later leaves its cell, shown as deleted
        store.delete_branch(g.turns[1].id)
        assert grid_of_run(store, run_id).turns[1] is None


def test_batch_run_is_one_job_per_model_and_cells_find_their_turns(env: Path, srv: FakeGemini) -> None:
    studio = open_studio()

    async def go() -> int:
        from banana_studio.services.batch import BatchLane

        try:
            tpl = TemplateLibrary.for_store(studio.store).get("portrait")
            plan = build_plan(studio.store, tpl, RunOptions(models=["gemini-3-pro-image", "gemini-3.1-flash-image"]),
                              GenerationSettings())
            run, records = await submit_batch(studio, plan)
            assert [r.model for r in records] == ["gemini-3-pro-image", "gemini-3.1-flash-image"]
            assert grid_of_run(studio.store, run.id).turns == {}  # nothing imported yet
            for r in records:
                await BatchLane(studio).wait(r, interval=0)
            return run.id
        finally:
            await studio.aclose()

    run_id = asyncio.run(go())
    assert generate_calls(srv) == []
    with ProjectStore.open(env / "data" / "projects", "tpl") as store:
        g = grid_of_run(store, run_id)
        assert len(g.turns) == 4 and all(t.status == "done" and t.kind == "batch" for t in g.turns.values())
        assert {c.batch_job for c in g.run.cells} == {r.name for r in load_records(store.path)}
        assert g.turns[g.layout.grid[1][0]].settings.model == "gemini-3.1-flash-image"


def test_save_a_turn_as_template_keeps_its_braces_literal(env: Path) -> None:
    with ProjectStore.open(env / "data" / "projects", "tpl") as store:
        settings = GenerationSettings(aspect_ratio="16:9", seed=5, system_instruction="sys")
        t = store.create_turn(None, 'a {json: "x"} sign', settings, [], user_content("x"))
        lib = TemplateLibrary(store.path, env / "templates")
        path = lib.from_turn(store, t.id, "sign")
        tpl = lib.get("sign")
        assert path == env / "templates" / "sign.toml" and tpl.slot_names == []
        assert tpl.settings["aspect_ratio"] == "16:9" and tpl.settings["seed"] == 5
        plan = build_plan(store, tpl, RunOptions(), GenerationSettings())
        assert plan.requests[0].prompt == 'a {json: "x"} sign'
        with pytest.raises(TemplateError, match="already exists"):
            lib.from_turn(store, t.id, "sign")
        lib.from_turn(store, t.id, "sign", "project")
        assert lib.get("sign").origin == "project"


def test_migration_adds_template_runs_to_an_old_project(tmp_path: Path) -> None:
    project = tmp_path / "old"
    project.mkdir()
    conn = sqlite3.connect(project / "project.db")
    create_v1(conn)
    old = 1
    for version, step in MIGRATIONS:  # every migration before this one (the lead may renumber them)
        if step.__name__ == "_template_runs":
            break
        step(conn)
        old = version
    conn.execute(f"PRAGMA user_version = {old}")
    conn.execute("INSERT INTO meta(key, value) VALUES ('uuid', 'u'), ('name', 'old')")
    conn.execute("INSERT INTO turns (prompt, status, created_at, updated_at) VALUES ('kept', 'done', 1, 1)")
    conn.commit()
    conn.close()
    assert 1 < old < SCHEMA_VERSION
    with ProjectStore.open(tmp_path, "old") as store:
        assert store._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert store.get_turn(1).prompt == "kept"
        assert runs.list_runs(store) == [] and runs.run_of_turn(store, 1) is None


# -- the command line -------------------------------------------------------------------------------

def test_cli_list_show_and_broken_files(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "templates" / "broken.toml").write_text('prompt = "fine"\n[settings]\nseed = "x"\n', encoding="utf-8")
    (env / "templates" / "evil.toml").write_text('description = "\\u001b]0;pwned\\u0007"\nprompt = "{a}"\n',
                                                 encoding="utf-8")
    assert main(["template", "list"]) == 0
    out = capsys.readouterr().out
    assert "portrait" in out and "BROKEN" in out and "broken.toml, line 3: seed must be an integer" in out
    assert "\x1b" not in out and "\\x1b]0;pwned" in out
    assert main(["template", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in doc["templates"]} == {"portrait", "broken", "evil"}
    assert main(["template", "show", "portrait", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["slots"] == {"style": ["ink"], "subject": ["fox", "owl"]}
    assert main(["template", "show", "broken"]) == 2
    assert "line 3" in capsys.readouterr().err
    assert main(["template", "show", "../etc"]) == 2
    assert not (env / "data" / "projects").exists()  # reading never creates a project


def test_cli_run_shows_grid_and_cost_and_refuses_without_a_terminal(env: Path, srv: FakeGemini,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    args = ["template", "run", "portrait", "--set", "subject=fox,owl", "--aspect", "1:1,16:9", "-p", "cli"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "4 requests (2 subject × 2 aspect)" in err and "Batch lane $" in err and "half price" in err
    assert "aspect \\ subject" in err and "not sent without --yes" in err
    assert generate_calls(srv) == []
    assert main([*args, "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["count"] == 4 and plan["grid"]["columns"] == ["fox", "owl"]
    assert plan["estimate"] > plan["batch_estimate"] > 0
    assert generate_calls(srv) == []
    assert main([*args, "--yes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in doc["cells"]] == ["done"] * 4
    assert all(Path(c["images"][0]).is_file() for c in doc["cells"])
    assert len(generate_calls(srv)) == 4
    assert main(["template", "runs", "-p", "cli"]) == 0
    assert "portrait" in capsys.readouterr().out
    assert main(["template", "grid", str(doc["run"]), "-p", "cli"]) == 0
    grid = capsys.readouterr().out.splitlines()
    assert grid[1].startswith("aspect \\ subject") and grid[2].count("✓") == 2


def test_cli_run_budget_and_bad_input(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "config.toml").write_text(f'base_url = "{srv.base_url}"\n[budget]\ndaily = 0.2\n', encoding="utf-8")
    assert main(["template", "run", "portrait", "-p", "b", "--yes"]) == 0  # --yes sends over the budget too
    capsys.readouterr()
    assert main(["template", "run", "portrait", "-p", "b", "--set", "subject=a,b,c"]) == 3
    assert "over your daily budget" in capsys.readouterr().err
    assert main(["template", "run", "portrait", "-p", "b", "--set", "nope=1", "--yes"]) == 2
    assert "no slot 'nope'" in capsys.readouterr().err
    assert main(["template", "run", "portrait", "-p", "b", "--seed", "x", "--yes"]) == 2
    assert main(["template", "run", "portrait", "-p", "b", "--size", "3K", "--yes"]) == 2
    assert "3K" in capsys.readouterr().err
    assert main(["template", "run", "portrait", "-p", "b", "--seed", ",".join(map(str, range(51))), "--yes"]) == 2
    assert "more than 100 at once: submit them to the Batch lane" in capsys.readouterr().err
    assert len(generate_calls(srv)) == 2


def test_cli_new_from_turn_and_edit(env: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with ProjectStore.open(env / "data" / "projects", "default") as store:
        store.create_turn(None, "a lighthouse at dusk", GenerationSettings(aspect_ratio="4:3"), [], user_content("x"))
    assert main(["template", "new", "light", "--from-turn", "1"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == env / "templates" / "light.toml" and "a lighthouse at dusk" in path.read_text()
    editor = env / "ed.py"
    editor.write_text("import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
                      "p.write_text(p.read_text().replace('a lighthouse at dusk', 'a {thing} at dusk')"
                      ".replace('\\n[slots]\\n', '\\n[slots]\\nthing = \"barn\"\\n'))\n", encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"python3 {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    assert main(["template", "edit", "light"]) == 0
    assert TemplateLibrary(None, env / "templates").get("light").slots == {"thing": ["barn"]}
    editor.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('prompt = [')\n", encoding="utf-8")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False, raising=False)
    before = path.read_text()
    assert main(["template", "edit", "light"]) == 2
    assert "light.toml, line 1" in capsys.readouterr().err and path.read_text() == before


def test_a_batch_run_whose_job_cannot_be_created_is_not_kept(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from banana_studio.services.batch import BatchError, BatchLane

    async def refuse(self: object, prompts: object, *, display_name: str = "") -> object:
        raise BatchError("The batch job could not be created: 503", 1)

    monkeypatch.setattr(BatchLane, "submit", refuse)
    studio = open_studio()

    async def go() -> None:
        try:
            tpl = TemplateLibrary.for_store(studio.store).get("portrait")
            plan = build_plan(studio.store, tpl, RunOptions(), GenerationSettings())
            with pytest.raises(BatchError, match="503"):
                await submit_batch(studio, plan)
            assert runs.list_runs(studio.store) == []
        finally:
            await studio.aclose()

    asyncio.run(go())


def test_cli_edit_fixes_a_broken_template(env: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    broken = env / "templates" / "broken.toml"
    broken.write_text('prompt = "a {x}\n', encoding="utf-8")
    editor = env / "fix.py"
    editor.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text('prompt = \"a {x}\"\\n')\n",
                      encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"python3 {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    assert main(["template", "show", "broken"]) == 2
    capsys.readouterr()
    assert main(["template", "edit", "broken"]) == 0
    assert broken.read_text() == 'prompt = "a {x}"\n'
    assert main(["template", "show", "broken", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["slots"] == {"x": []}


def test_cli_run_asks_on_a_terminal_and_keeps_stdout_for_json(env: Path, srv: FakeGemini,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    assert main(["template", "run", "portrait", "-p", "ask", "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Send 2 requests for ~$" in err and "Not sent." in err
    assert generate_calls(srv) == []
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    assert main(["template", "run", "portrait", "-p", "ask", "--json"]) == 0
    assert [c["status"] for c in json.loads(capsys.readouterr().out)["cells"]] == ["done", "done"]


def test_a_template_from_a_turn_keeps_its_at_names_not_their_images(env: Path) -> None:
    """A turn's references that a @name brought are not listed in the template: its prompt keeps the
    @name, which expands when the template runs (listing them would send those images twice)."""
    from banana_studio.domain.turn import Reference

    with ProjectStore.open(env / "data" / "projects", "tpl") as store:
        refs = [Reference("a" * 64, "image/png", "own.png", "refs/own.png"),
                Reference("b" * 64, "image/png", "hero.png", "refs/hero.png", named="@hero")]
        t = store.create_turn(None, "a poster of @hero", GenerationSettings(), refs, user_content("x"))
        lib = TemplateLibrary(store.path, env / "templates")
        lib.from_turn(store, t.id, "poster")
        tpl = lib.get("poster")
        assert [r.sha256 for r in tpl.references] == ["a" * 64]
        assert "@hero" in tpl.prompt
