"""Named references: the name rules, the libraries (save, re-point, history, remove), the expansion
and what the local server receives — a re-roll sends the recorded images even after a re-point."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.config import Config
from banana_studio.domain.content import b64decode_any
from banana_studio.domain.events import Failed, StudioEvent, TurnSaved
from banana_studio.domain.named_refs import RefNameError, annotate, complete, names_in, partial_at, validate_name
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.services.named_refs import NamedReferences, expand_references
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store.named_refs import RefLibrary
from banana_studio.store.recipe import read_recipe

KEY = "test-key-for-the-fake-server"


def png(color: tuple[int, int, int] | str = "orange", size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def png_file(path: Path, color: tuple[int, int, int] | str = "orange") -> Path:
    path.write_bytes(png(color))
    return path


# -- names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,want", [("@hero", "@hero"), ("hero", "@hero"), (" @logo-v2 ", "@logo-v2"),
                                      ("@a_1", "@a_1"), ("@9", "@9")])
def test_valid_names(raw: str, want: str) -> None:
    assert validate_name(raw) == want


@pytest.mark.parametrize("raw,why", [("", "empty"), ("@", "empty"), ("@Hero", "lowercase: try @hero"),
                                     ("@-x", "starts with a letter"), ("@he ro", "lowercase letters, digits"),
                                     ("@" + "a" * 41, "too long"), ("@h\x1b[31m", "lowercase letters"),
                                     ("@hé", "lowercase letters")])
def test_invalid_names_say_why(raw: str, why: str) -> None:
    with pytest.raises(RefNameError, match=why):
        validate_name(raw)


def test_mentions_escapes_and_emails() -> None:
    assert names_in("a poster of @hero and @logo, with @hero again") == ["@hero", "@logo"]
    assert names_in("mail me@example.com or @@hero") == []
    assert names_in("@Hero, @héro and @heroÉ are text; @hero's cape and (@logo) are names") == ["@hero", "@logo"]
    assert partial_at("a poster of @he") == "@he" and partial_at("x @") == "@" and partial_at("me@ex") is None
    assert partial_at("plain text") is None
    assert complete("@h", ["@logo", "@hero", "@shh"]) == ["@hero", "@shh"]


def test_annotate_numbers_the_images() -> None:
    text = annotate("@hero meets @logo, not @@logo", ["", "@hero", "@hero", "@logo"])
    assert text == "@hero (reference images 2-3) meets @logo (reference image 4), not @logo"
    assert annotate("no names", ["", ""]) == "no names"


# -- the library -----------------------------------------------------------------------------------

def test_save_repoint_history_remove(tmp_path: Path) -> None:
    lib = RefLibrary(tmp_path / "lib", "user")
    assert lib.all() == [] and not (tmp_path / "lib").exists()  # reading creates nothing
    first = lib.save("hero", [(png("red"), "red.png"), (png("blue"), "blue.png")])
    assert first.name == "@hero" and len(first.images) == 2
    assert all(i.path.is_file() and hashlib.sha256(i.path.read_bytes()).hexdigest() == i.sha256 for i in first.images)
    second = lib.save("@hero", [(png("green"), "green.png")])
    assert lib.get("@hero") == second and second.version > first.version
    history = lib.history("@hero")
    assert [len(h.images) for h in history] == [1, 2]  # newest first, the old pointing kept
    assert first.images[0].path.is_file()  # its images too
    assert lib.remove("@hero") and lib.get("@hero") is None and lib.all() == []
    assert lib.remove("@hero") is False
    assert [len(h.images) for h in lib.history("@hero")] == [0, 1, 2]


def test_save_refuses_bad_input(tmp_path: Path) -> None:
    lib = RefLibrary(tmp_path / "lib", "user")
    with pytest.raises(ProjectError, match="lowercase"):
        lib.save("Hero", [(png(), "a.png")])
    with pytest.raises(ProjectError, match="at least one image"):
        lib.save("hero", [])
    with pytest.raises(ProjectError, match=r"notes\.png"):
        lib.save("hero", [(b"plain text, not an image", "notes.png")])
    with pytest.raises(ProjectError, match="at most 14"):
        lib.save("hero", [(png((i, 0, 0)), f"{i}.png") for i in range(15)])
    assert lib.get("hero") is None


def test_a_hand_edited_library_offers_no_hostile_name(tmp_path: Path) -> None:
    import sqlite3

    lib = RefLibrary(tmp_path / "lib", "user")
    lib.save("hero", [(png(), "a.png")])
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite3") as conn:
        conn.execute("INSERT INTO pointings (name, images_json, created_at) VALUES (?, ?, 0)",
                     ("@evil\x1b[2J", '[{"sha256": "../../etc/passwd", "mime_type": "image/png"}]'))
        conn.execute("INSERT INTO pointings (name, images_json, created_at) VALUES (?, ?, 0)",
                     ("@odd", '[{"sha256": "../../../x", "mime_type": "text/html"}, 7, "x"]'))
    assert [r.name for r in lib.all()] == ["@hero"]  # @odd points at nothing usable: not offered
    assert lib.history("@odd")[0].images == []


def test_changed_image_on_disk_is_refused_and_a_save_mends_it(tmp_path: Path) -> None:
    lib = RefLibrary(tmp_path / "lib", "user")
    ref = lib.save("hero", [(png(), "a.png")])
    ref.images[0].path.write_bytes(png("black"))
    with pytest.raises(ProjectError, match="changed on disk"):
        lib.image_bytes(ref.images[0])
    lib.save("hero", [(png(), "a.png")])
    assert lib.image_bytes(ref.images[0]) == png()
    stale = ref.images[0].path.with_name(".x.png.1-2.999999999.bstmp")  # a dead process's half-written file
    stale.write_bytes(b"half")
    lib.save("logo", [(png("blue"), "b.png")])
    assert not stale.exists()


def test_project_name_hides_user_name(tmp_path: Path) -> None:
    refs = NamedReferences(tmp_path / "proj", user_root=tmp_path / "user")
    refs.library("user").save("hero", [(png("red"), "u.png")])
    refs.library("user").save("logo", [(png("blue"), "l.png")])
    refs.library("project").save("hero", [(png("green"), "p.png")])
    resolved = refs.resolve("@hero")
    assert resolved is not None and resolved.scope == "project"
    assert [(r.name, r.scope) for r in refs.all()] == [("@hero", "project"), ("@logo", "user")]
    assert refs.remove("@hero").scope == "project"
    resolved = refs.resolve("@hero")
    assert resolved is not None and resolved.scope == "user"


def test_expand_copies_tags_and_limits(tmp_path: Path) -> None:
    store = ProjectStore.open(tmp_path / "projects", "p")
    refs = NamedReferences(store.path, user_root=tmp_path / "user")
    refs.library("user").save("hero", [(png("red"), "a.png"), (png("blue"), "b.png")])
    plain = png_file(tmp_path / "plain.png", "white")
    out = expand_references(store, refs, "@hero on a beach", [plain], "gemini-3-pro-image")
    assert out[0] == plain and [getattr(r, "named", "") for r in out[1:]] == ["@hero", "@hero"]
    assert all((store.path / r.path).is_file() for r in out[1:])  # type: ignore[union-attr]
    assert expand_references(store, refs, "@hero again", out, "gemini-3-pro-image") == out  # not twice
    with pytest.raises(ProjectError, match=r"There is no named reference @nope\. Saved names: @hero"):
        expand_references(store, refs, "@nope", [], "gemini-3-pro-image")
    many = [png_file(tmp_path / f"{i}.png", (i, 9, 9)) for i in range(2)]
    with pytest.raises(ProjectError, match=r"4 reference images \(@hero 2 images, 2 other references\): "
                                           r"Nano Banana 2 Lite accepts at most 3"):
        expand_references(store, refs, "@hero", many, "gemini-3.1-flash-lite-image")
    store.close()


# -- through the studio, against the local server --------------------------------------------------

@pytest.fixture
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True) as server:
        yield server


@pytest.fixture
async def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> AsyncIterator[Studio]:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    config = Config(project_dir=str(tmp_path / "projects"), base_url=srv.base_url, retry_attempts=1,
                    timeout_seconds=20)
    s = Studio.open(config, project="test")
    yield s
    await s.aclose()


async def run(studio: Studio, req: GenerateRequest) -> list[StudioEvent]:
    return [ev async for ev in studio.generate(req)]


def sent_user_parts(srv: FakeGemini) -> list[dict]:
    body = [r for r in srv.requests if "enerateContent" in r.path][-1].body
    return body["contents"][-1]["parts"]


def inline_hashes(parts: list[dict]) -> list[str]:
    return [hashlib.sha256(b64decode_any(p["inlineData"]["data"])).hexdigest() for p in parts if "inlineData" in p]


async def test_send_expands_and_reroll_replays_recorded_hashes(studio: Studio, srv: FakeGemini) -> None:
    lib = NamedReferences(studio.store.path)
    hero = lib.save_files("@hero", [png_file(studio.store.path.parent / "h1.png", "red"),
                                    png_file(studio.store.path.parent / "h2.png", "blue")])
    events = await run(studio, GenerateRequest(prompt="a poster of @hero", expand_names=True))
    turn = events[-1].turn
    assert isinstance(events[-1], TurnSaved) and turn.status == "done", turn.error
    assert turn.prompt == "a poster of @hero"  # kept as written
    assert [r.named for r in turn.references] == ["@hero", "@hero"]
    assert [r.sha256 for r in turn.references] == [i.sha256 for i in hero.images]
    parts = sent_user_parts(srv)
    assert parts[0]["text"] == "a poster of @hero (reference images 1-2)"
    assert inline_hashes(parts) == [i.sha256 for i in hero.images]
    # The recipe records the name and the hashes.
    recipe = read_recipe((studio.store.path / turn.final_images[0].path).read_bytes())
    assert recipe is not None and recipe["named_references"] == {"@hero": [i.sha256 for i in hero.images]}
    assert recipe["prompt"] == "a poster of @hero"

    lib.save_files("@hero", [png_file(studio.store.path.parent / "h3.png", "green")])  # re-pointed
    events = await run(studio, studio.reroll(turn.id))
    again = events[-1].turn
    assert again.status == "done", again.error
    assert inline_hashes(sent_user_parts(srv)) == [i.sha256 for i in hero.images]  # the recorded images
    assert [r.named for r in again.references] == ["@hero", "@hero"]
    events = await run(studio, studio.retry(turn.id))
    assert inline_hashes(sent_user_parts(srv)) == [i.sha256 for i in hero.images]

    fresh = await run(studio, GenerateRequest(prompt="a poster of @hero", expand_names=True))
    assert fresh[-1].turn.status == "done"
    assert len(inline_hashes(sent_user_parts(srv))) == 1  # a new prompt: the name as it is now


async def test_unknown_name_and_limit_record_nothing(studio: Studio, srv: FakeGemini) -> None:
    events = await run(studio, GenerateRequest(prompt="@ghost at night", expand_names=True))
    assert len(events) == 1 and isinstance(events[0], Failed) and events[0].error.kind == "validation"
    assert "There is no named reference @ghost" in events[0].error.message
    NamedReferences(studio.store.path).library("project").save(
        "crowd", [(png((i, 1, 1)), f"{i}.png") for i in range(4)])
    lite = GenerationSettings(model="gemini-3.1-flash-lite-image")
    events = await run(studio, GenerateRequest(prompt="@crowd", settings=lite, expand_names=True))
    assert isinstance(events[0], Failed) and "accepts at most 3" in events[0].error.message
    assert studio.store.tree_index() == [] and not [r for r in srv.requests if "enerateContent" in r.path]


async def test_variations_expand_once_and_send_the_same_images(studio: Studio, srv: FakeGemini,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from banana_studio.services import named_refs
    from banana_studio.services.variations import VariationSet, generate_variations

    hero = NamedReferences(studio.store.path).library("user").save("hero", [(png("red"), "a.png")])
    calls: list[str] = []
    real = named_refs.NamedReferences.resolve

    def counting(self: NamedReferences, name: str) -> object:
        calls.append(name)
        return real(self, name)

    monkeypatch.setattr(named_refs.NamedReferences, "resolve", counting)
    out = VariationSet(3)
    async for v in generate_variations(studio, GenerateRequest("@hero, three ways", expand_names=True), 3):
        out.feed(v)
    assert len(out.done) == 3 and calls == ["@hero"]  # looked up once for all three
    assert all([r.sha256 for r in t.references] == [hero.images[0].sha256] for t in out.done)
    assert all(t.references[0].named == "@hero" for t in out.done)


async def test_a_region_edit_numbers_named_images_after_the_source_and_guide(studio: Studio, srv: FakeGemini) -> None:
    from banana_studio.domain.region import Box, RegionSpec

    first = await run(studio, GenerateRequest(prompt="a street"))
    parent = first[-1].turn
    hero = NamedReferences(studio.store.path).library("user").save("hero", [(png("red"), "a.png")])
    region = GenerationSettings(region=RegionSpec((Box(0.1, 0.1, 0.3, 0.3),)).to_json())
    events = await run(studio, GenerateRequest(prompt="put @hero here", parent_id=parent.id, settings=region,
                                               kind="region", expand_names=True))
    assert events[-1].turn.status == "done", events[-1].turn.error
    parts = sent_user_parts(srv)
    assert "@hero (reference image 3)" in parts[0]["text"]  # 1 source, 2 guide, 3 the named image
    assert inline_hashes(parts)[2] == hero.images[0].sha256
