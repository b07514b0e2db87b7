"""``banana-studio ref save|list|show|rm`` and ``gen "@name"`` end to end, against the local server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.cli.main import main
from banana_studio.domain.content import b64decode_any
from banana_studio.fakeserver import FakeGemini
from banana_studio.store import ProjectStore

KEY = "AIza" + "R" * 35


@pytest.fixture(scope="module")
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", srv.base_url)
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "config.toml").write_text("[network]\nretry_attempts = 1\n")
    return tmp_path


def img(path: Path, color: str | tuple[int, int, int]) -> Path:
    Image.new("RGB", (32, 24), color).save(path, "PNG")
    return path


def ref(env: Path, *args: str) -> int:
    return main(["ref", *args, "--project-dir", str(env / "projects")])


def gen(env: Path, *args: str) -> int:
    return main(["gen", *args, "--project-dir", str(env / "projects"), "--project", "cli", "-q"])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def last_inline(srv: FakeGemini) -> list[str]:
    body = [r for r in srv.requests if "enerateContent" in r.path][-1].body
    parts = body["contents"][-1]["parts"]
    return [hashlib.sha256(b64decode_any(p["inlineData"]["data"])).hexdigest() for p in parts if "inlineData" in p]


def test_save_list_show_repoint_rm(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = img(env / "a.png", "red"), img(env / "b.png", "blue")
    assert ref(env, "save", "@hero", str(a), str(b)) == 0
    assert "@hero saved in the user library: 2 images" in capsys.readouterr().out
    assert ref(env, "list", "--json") == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["name"] == "@hero" and entry["scope"] == "user"
    assert [i["sha256"] for i in entry["images"]] == [sha(a), sha(b)] and entry["images"][0]["label"] == "a.png"
    assert ref(env, "save", "hero", str(img(env / "c.png", "green"))) == 0
    assert "re-pointed in the user library: 1 image (was 2 images" in capsys.readouterr().out
    assert ref(env, "show", "@hero") == 0
    out = capsys.readouterr().out
    assert "c.png" in out and "History (newest first)" in out and sha(a)[:12] in out
    assert ref(env, "rm", "@hero") == 0
    assert "removed from the user library" in capsys.readouterr().out
    assert ref(env, "list") == 0 and "No named references yet" in capsys.readouterr().out
    assert ref(env, "show", "@hero", "--json") == 0  # removed: its history is still there
    shown = json.loads(capsys.readouterr().out)
    assert shown["current"] is None and len(shown["history"]) == 3
    assert ref(env, "show", "@never") == 2 and "there never was" in capsys.readouterr().err


def test_bad_names_and_images_are_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = img(env / "a.png", "red")
    assert ref(env, "save", "@Hero", str(a)) == 2
    assert "lowercase: try @hero" in capsys.readouterr().err
    assert ref(env, "save", "@he\x1b]0;pwned\x07", str(a)) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b" in err  # shown, escaped
    bad = env / "notes.png"
    bad.write_text("not an image")
    assert ref(env, "save", "@hero", str(bad)) == 2 and "notes.png" in capsys.readouterr().err
    assert ref(env, "save", "@hero", str(env / "missing.png")) == 2 and "does not exist" in capsys.readouterr().err
    assert ref(env, "rm", "@nobody") == 2 and "no named reference @nobody" in capsys.readouterr().err
    assert ref(env, "save", "@hero", str(a), "--project", "nope") == 2
    assert "there is no project 'nope'" in capsys.readouterr().err
    assert not (env / "projects" / "nope").exists()  # no project folder made up


def test_hostile_file_name_is_shown_escaped(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = img(env / "evil\x1b[2J\u202e.png", "red")
    assert ref(env, "save", "@evil", str(a)) == 0
    capsys.readouterr()
    assert ref(env, "list") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b[2J\\u202e.png" in out
    assert ref(env, "list", "--json") == 0
    raw = capsys.readouterr().out
    assert "\x1b" not in raw and "\u202e" not in raw
    assert json.loads(raw)[0]["images"][0]["label"] == "evil\x1b[2J\u202e.png"


def test_gen_expands_names_and_the_server_gets_the_images(env: Path, srv: FakeGemini,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    a, b = img(env / "a.png", "red"), img(env / "b.png", "blue")
    plain = img(env / "plain.png", "white")
    assert ref(env, "save", "@hero", str(a), str(b)) == 0
    assert gen(env, "a poster of @hero", "--ref", str(plain)) == 0
    image = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert last_inline(srv) == [sha(plain), sha(a), sha(b)]
    assert main(["recipe", str(image)]) == 0
    assert "Named:    @hero (2)" in capsys.readouterr().out
    body = [r for r in srv.requests if "enerateContent" in r.path][-1].body
    assert body["contents"][-1]["parts"][0]["text"] == "a poster of @hero (reference images 2-3)"
    store = ProjectStore.open(env / "projects", "cli")
    turn = store.get_turn(store.tree_index()[-1].id)
    store.close()
    assert turn.prompt == "a poster of @hero"
    assert [(r.named, r.sha256) for r in turn.references] == [("", sha(plain)), ("@hero", sha(a)), ("@hero", sha(b))]


def test_project_name_first_and_save_from_turn(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    assert ref(env, "save", "@logo", str(img(env / "u.png", "red"))) == 0
    assert gen(env, "a plain logo") == 0
    turn_image = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert ref(env, "save", "@logo", "--turn", "1", "--project", "cli") == 0
    assert "saved in the project 'cli'" in capsys.readouterr().out
    assert ref(env, "list", "--project", "cli") == 0
    out = capsys.readouterr().out
    assert out.count("@logo") == 1 and "project" in out and "turn #1 of cli" in out
    assert main(["--project", "cli", "--project-dir", str(env / "projects"), "ref", "list"]) == 0
    assert capsys.readouterr().out == out  # the top-level --project counts too
    assert ref(env, "save", "@logo", str(img(env / "u2.png", "blue")), "--project", "cli", "--user") == 0
    assert "still means the project's own @logo" in capsys.readouterr().out
    assert gen(env, "@logo on a mug") == 0
    store = ProjectStore.open(env / "projects", "cli")
    first = store.get_turn(1)
    store.close()
    assert last_inline(srv) == [first.final_images[0].sha256]
    assert turn_image.is_file()


def test_gen_refuses_unknown_name_and_over_the_limit(env: Path, srv: FakeGemini,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    before = len(srv.requests)
    assert gen(env, "a poster of @ghost") == 2
    err = capsys.readouterr().err
    assert "There is no named reference @ghost" in err and "@@ghost" in err
    four = [str(img(env / f"{i}.png", (i * 40, 0, 0))) for i in range(4)]
    assert ref(env, "save", "@crowd", *four) == 0
    assert gen(env, "@crowd", "--model", "gemini-3.1-flash-lite-image") == 2
    assert "4 reference images (@crowd 4 images): Nano Banana 2 Lite accepts at most 3" in capsys.readouterr().err
    assert [r for r in srv.requests[before:] if "enerateContent" in r.path] == []
    assert gen(env, "write @@crowd on a sign") == 0  # the escape: text only
    body = [r for r in srv.requests if "enerateContent" in r.path][-1].body
    assert body["contents"][-1]["parts"] == [{"text": "write @crowd on a sign"}]


def test_batch_prompts_expand_names_and_the_turns_record_them(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    with FakeGemini(batch_seconds=0, small=True) as batch_srv:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", batch_srv.base_url)
        a, b = img(env / "a.png", "red"), img(env / "b.png", "blue")
        assert ref(env, "save", "@hero", str(a), str(b)) == 0
        prompts = env / "p.txt"
        prompts.write_text("@hero in the rain\na plain fox\n", encoding="utf-8")
        assert main(["batch", str(prompts), "--project-dir", str(env / "projects"), "-p", "b", "--poll", "0"]) == 0
        capsys.readouterr()
        create = [r for r in batch_srv.requests if r.path.endswith(":batchGenerateContent")][-1]
        sent = create.body["batch"]["inputConfig"]["requests"]["requests"]
        parts = sent[0]["request"]["contents"][-1]["parts"]
        assert parts[0]["text"] == "@hero (reference images 1-2) in the rain"
        got = [hashlib.sha256(b64decode_any(p["inlineData"]["data"])).hexdigest() for p in parts if "inlineData" in p]
        assert got == [sha(a), sha(b)]
        assert not [p for p in sent[1]["request"]["contents"][-1]["parts"] if "inlineData" in p]
        with ProjectStore.open(env / "projects", "b") as store:
            turns = [store.get_turn(n.id) for n in store.tree_index()]
        hero = next(t for t in turns if t.prompt.startswith("@hero"))
        assert [(r.named, r.sha256) for r in hero.references] == [("@hero", sha(a)), ("@hero", sha(b))]
        assert hero.user_content is not None
        assert hero.user_content.parts[0].text == "@hero (reference images 1-2) in the rain"
