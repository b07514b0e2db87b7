"""``history [--all] QUERY`` (text and JSON, hostile text escaped, bad queries refused with where) and
``tag TURN... --add/--remove/--list``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from banana_studio.cli.main import main
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    root = tmp_path / "data" / "projects"
    for name, prompts in [("default", ["a fox in snow", "a fox at night \x1b]0;pwned\x07"]),
                          ("posters", ["a lighthouse poster \u202eevil", "a fox poster"])]:
        with ProjectStore.open(root, name) as s:
            for i, prompt in enumerate(prompts):
                t = s.create_turn(None, prompt, GenerationSettings(aspect_ratio="16:9" if i else "1:1"), [],
                                  user_content(prompt))
                s.complete_turn(t.id, model_content=Content("model", [Part(text="thinking", thought=True)]),
                                status="done", cost=0.1 + i / 10)
    return root


def test_history_all_json_across_projects(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--all", "--json", "fox"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["all_projects"] is True and doc["query"] == "fox"
    assert {(t["project"], t["id"]) for t in doc["turns"]} == {("default", 1), ("default", 2), ("posters", 2)}
    # A negated filter starts with "-": after "--" (or inside one quoted argument) it is not an option.
    assert main(["history", "--all", "--json", "--", "fox", "aspect:16:9", "-project:posters"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(t["project"], t["id"], t["aspect"]) for t in doc["turns"]] == [("default", 2, "16:9")]
    assert doc["turns"][0]["prompt"] == "a fox at night \x1b]0;pwned\x07"  # the data, exactly


def test_history_all_text_escapes_hostile_text(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--all"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07" in out and "\\u202eevil" in out
    assert "4 turns shown · all projects" in out.splitlines()[-1]


def test_history_query_in_one_project(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--project", "posters", "--json", "poster", "cost>0.15"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["all_projects"] is False and [t["id"] for t in doc["turns"]] == [2]
    assert main(["history", "--project", "nope", "fox"]) == 2
    assert "No project 'nope'" in capsys.readouterr().err


def test_history_bad_query_exits_2_and_points_at_it(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--all", "fox", "colour:red"]) == 2
    err = capsys.readouterr().err
    assert 'Unknown filter "colour:"' in err
    assert "fox colour:red\n    ^^^^^^^" in err


def test_tag_add_remove_list_and_search(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tag", "1", "2", "--add", "hero,client x", "--add", "print"]) == 0
    out = capsys.readouterr().out
    assert "2 turns updated (6 tag changes)" in out and "client x, hero, print" in out
    assert main(["tag", "2", "--remove", "print"]) == 0
    capsys.readouterr()
    assert main(["tag", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "     2  client x" in listing and "     1  print" in listing
    assert main(["tag", "2"]) == 0
    assert capsys.readouterr().out.split() == ["2", "client", "x,", "hero"]
    assert main(["history", "--all", "--json", "tag:print"]) == 0
    assert [t["id"] for t in json.loads(capsys.readouterr().out)["turns"]] == [1]
    assert main(["history", "--all", "--json", 'fox -tag:"client x"']) == 0
    assert {t["project"] for t in json.loads(capsys.readouterr().out)["turns"]} == {"posters"}


def test_tag_refuses_bad_input(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tag", "1", "99", "--add", "x"]) == 2
    assert "Turn 99 does not exist" in capsys.readouterr().err
    assert main(["tag", "1", "--add=-x"]) == 2
    assert "cannot start with '-'" in capsys.readouterr().err
    assert main(["tag", "one", "--add", "x"]) == 2
    assert main(["tag", "--add", "x"]) == 2
    with ProjectStore.open(env, "default") as s:
        assert s.tags_of([1]) == {1: []}


def test_history_all_json_names_the_model_version_and_an_old_index_is_rebuilt(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    with ProjectStore.open(env, "posters") as s:
        t = s.create_turn(None, "a versioned fox", GenerationSettings(), [], user_content("a versioned fox"))
        s.complete_turn(t.id, model_content=Content("model", [Part(text="ok")]), status="done",
                        model_version="gemini-3-pro-image-preview-11-2025")
    assert main(["history", "--all", "--json", "versioned"]) == 0
    [turn] = json.loads(capsys.readouterr().out)["turns"]
    assert turn["model_version"] == "gemini-3-pro-image-preview-11-2025" and turn["target"]
    index = next(env.parent.rglob("search-index.db"))
    with sqlite3.connect(index) as conn:  # an index written by the release before model_version
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    assert main(["history", "--all", "--json", "versioned"]) == 0
    assert json.loads(capsys.readouterr().out)["turns"][0]["model_version"] == "gemini-3-pro-image-preview-11-2025"
