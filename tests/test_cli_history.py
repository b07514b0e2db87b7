"""`history`, `export`, `projects` and `recipe` (stripped metadata) against a real project."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.cli.history import tree_order
from banana_studio.cli.main import main
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore, TurnNode


def jpeg(color: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    root = tmp_path / "data" / "projects"
    with ProjectStore.open(root, "default") as s:
        for parent, prompt, color in [(None, "a fox in snow", "red"), (1, "make the fox blue", "blue"),
                                      (1, "make the fox green", "green"), (3, "add a scarf", "yellow")]:
            t = s.create_turn(parent, prompt, GenerationSettings(), [], user_content(prompt))
            s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=jpeg(color))]),
                            status="done", cost=0.1)
        s.star(3)
    with ProjectStore.open(root, "other") as s:
        t = s.create_turn(None, "a lighthouse", GenerationSettings(), [], user_content("a lighthouse"))
        s.complete_turn(t.id, model_content=None, status="failed", error="blocked")
    return root


def test_history_tree(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines[:4]] == ["1", "2", "3", "4"]
    assert "  add a scarf" in lines[3] and "★" in lines[2]
    assert "total $0.400" in lines[-1]


def test_history_json_search_starred_limit(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--json", "--search", "fox"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {t["id"] for t in doc["turns"]} == {1, 2, 3}
    assert main(["history", "--json", "--starred"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)["turns"]] == [3]
    assert main(["history", "--json", "--limit", "2"]) == 0
    turns = json.loads(capsys.readouterr().out)["turns"]
    assert [(t["id"], t["depth"]) for t in turns] == [(3, 1), (4, 2)]
    assert main(["history", "--project", "other", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["turns"][0]["status"] == "failed"


def test_history_errors(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--project", "missing"]) == 2  # an unknown or invalid project: invalid input
    assert "No project 'missing'" in capsys.readouterr().err
    assert main(["history", "--project", "../etc"]) == 2
    assert "must not contain" in capsys.readouterr().err
    assert main(["history", "--project-dir", str(env.parent / "elsewhere")]) == 2


def test_export_and_storyboard(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    assert main(["export", "4", "-o", str(out), "--storyboard"]) == 0
    doc = json.loads((out / "branch.json").read_text())
    assert [t["id"] for t in doc["turns"]] == [1, 3, 4]
    assert (out / "0004-add-a-scarf.jpg").is_file()
    assert Image.open(out / "storyboard.png").size[0] > 0
    assert "add a scarf" in (out / "storyboard.md").read_text()
    assert "0004-add-a-scarf.jpg" in (out / "storyboard.html").read_text()
    assert main(["export", "x", "-o", str(out)]) == 2
    assert main(["export", "99", "-o", str(out)]) == 2  # an unknown turn is invalid input (README: exit codes)
    assert "Turn 99 does not exist" in capsys.readouterr().err


def test_projects_listing(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["projects", "--recent", "2"]) == 0
    out = capsys.readouterr().out
    assert "default" in out and "4 turns" in out and "other" in out
    assert "a lighthouse" in out.split("Most recent")[1]
    assert main(["projects", "--project-dir", str(env.parent / "none")]) == 0
    assert "No projects" in capsys.readouterr().out


def test_projects_listing_says_where_demo_play_went(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["projects"]) == 0
    assert "Demo mode" not in capsys.readouterr().out  # no demo projects yet: nothing to say
    with ProjectStore.open(env.parent / "projects-demo", "play") as s:
        s.create_turn(None, "a demo owl", GenerationSettings(), [], user_content("a demo owl"), target="local")
    assert main(["projects"]) == 0
    out = capsys.readouterr().out
    assert f"Demo mode keeps its own 1 project in {env.parent / 'projects-demo'}" in out and "--demo" in out
    assert main(["projects", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "play" in out and "Demo mode keeps" not in out


def test_recipe_cli_finds_stripped_image(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stripped = tmp_path / "stripped.jpg"
    stripped.write_bytes(jpeg("blue"))  # the model's bytes without our metadata
    assert main(["recipe", str(stripped)]) == 0
    assert "turn 2 of project default" in capsys.readouterr().out


def test_recipe_cli_names_where_an_image_was_made(env: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    demo_root = env.parent / "projects-demo"  # the folder demo mode uses, next to the real one
    with ProjectStore.open(demo_root, "play") as s:
        t = s.create_turn(None, "a demo owl", GenerationSettings(), [], user_content("a demo owl"), target="local")
        done = s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=jpeg("gray"))]),
                               status="done", cost=0.1, model_version="gemini-3-pro-image")
        image = s.abs_path(done.final_images[0].path)
    assert main(["recipe", str(image)]) == 0
    out = capsys.readouterr().out
    assert "Made on:  demo (local server) (DEMO" in out and "model version gemini-3-pro-image" in out
    with ProjectStore.open(env, "default") as s:  # made before targets were recorded: says so
        old = s.abs_path(s.get_turn(1).final_images[0].path)
    assert main(["recipe", str(old)]) == 0
    assert "Made on:  unknown target" in capsys.readouterr().out
    stripped = tmp_path / "stripped-owl.jpg"
    stripped.write_bytes(jpeg("gray"))  # metadata stripped: found by its hash in the demo folder too
    assert main(["recipe", str(stripped)]) == 0
    assert "turn 1 of project play" in capsys.readouterr().out


def test_tree_order_orphans_become_roots() -> None:
    def node(i: int, p: int | None) -> TurnNode:
        return TurnNode(i, p, str(i), "done", False, "", 0.0, 0, "generate", 0.0)

    order = tree_order([node(1, None), node(2, 1), node(5, 4), node(3, 1), node(6, 2)])
    assert [(n.id, d) for n, d in order] == [(1, 0), (2, 1), (6, 2), (3, 1), (5, 0)]
