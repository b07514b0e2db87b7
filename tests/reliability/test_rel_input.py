"""Bad input: reference files, settings, config, project databases and names, odd prompts.

Each case asserts the clear message the user gets AND that nothing was damaged or half-recorded.
"""

from __future__ import annotations

import errno
import os
import struct
import unicodedata
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rel_common import KEY, check_project, jpeg_bytes, png_bytes

from banana_studio.cli.main import main
from banana_studio.config import Config, load_config
from banana_studio.domain.events import Failed, StudioEvent, TurnSaved
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store.recipe import read_recipe
from banana_studio.store.schema import SCHEMA_VERSION


@pytest.fixture
async def studio(fake: FakeGemini, tmp_path: Path, iso_env: dict[str, str],
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Studio]:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    s = Studio.open(Config(base_url=fake.base_url, retry_attempts=1), project="inputs", project_dir=tmp_path / "p")
    yield s
    await s.aclose()


async def run(studio: Studio, req: GenerateRequest) -> list[StudioEvent]:
    return [ev async for ev in studio.generate(req)]


def model_requests(fake: FakeGemini) -> int:
    return sum(1 for r in fake.requests if "enerateContent" in r.path)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A few hundred bytes claiming 1.6 gigapixels (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def make_ref(tmp_path: Path, case: str) -> tuple[Path, str]:
    p = tmp_path / "refs-in"
    p.mkdir(exist_ok=True)
    if case == "missing":
        return p / "nope.png", "does not exist"
    if case == "not_image":
        f = p / "notes.png"
        f.write_text("this is a text file, not a picture\n" * 20)
        return f, "not an image"
    if case == "empty":
        f = p / "empty.jpg"
        f.write_bytes(b"")
        return f, "empty"
    if case == "truncated_png":
        f = p / "cut.png"
        data = png_bytes((400, 300), "red")
        f.write_bytes(data[: len(data) // 2])
        return f, "truncated or corrupt"
    if case == "truncated_jpeg":
        f = p / "cut.jpg"
        data = jpeg_bytes((400, 300), "red")
        f.write_bytes(data[: len(data) // 2])
        return f, "truncated or corrupt"
    if case == "bomb":
        f = p / "bomb.png"
        f.write_bytes(bomb_png())
        return f, "decompression bomb"
    if case == "huge_50mb":
        f = p / "huge.png"
        with f.open("wb") as fh:  # sparse: 50 MB + 1 byte without writing them
            fh.write(png_bytes())
            fh.truncate(50 * 1024 * 1024 + 1)
        return f, "too large"
    raise AssertionError(case)


REF_CASES = ["missing", "not_image", "empty", "truncated_png", "truncated_jpeg", "bomb", "huge_50mb"]


@pytest.mark.parametrize("case", REF_CASES)
async def test_bad_reference_is_refused_before_anything_is_recorded(case: str, studio: Studio, fake: FakeGemini,
                                                                    tmp_path: Path) -> None:
    path, phrase = make_ref(tmp_path, case)
    events = await run(studio, GenerateRequest(prompt="use this", references=[path]))
    assert len(events) == 1 and isinstance(events[0], Failed)
    err = events[0].error
    assert err.kind == "validation" and phrase in err.message and path.name in err.message, err.message
    assert model_requests(fake) == 0
    assert studio.store.tree_index() == []
    assert not list((studio.store.path / "refs").glob("*")) if (studio.store.path / "refs").exists() else True
    check_project(studio.store.path, turns=0)
    # the project still works afterwards
    ok = await run(studio, GenerateRequest(prompt="plain"))
    assert isinstance(ok[-1], TurnSaved) and ok[-1].turn.status == "done"


def test_bad_reference_via_cli_exits_2(tmp_path: Path, iso_env: dict[str, str],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path, phrase = make_ref(tmp_path, "bomb")
    code = main(["gen", "--demo", "x", "--ref", str(path), "--project-dir", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 2 and phrase in err and "Traceback" not in err


async def test_fifteen_references_refused_fourteen_accepted(studio: Studio, fake: FakeGemini,
                                                            tmp_path: Path) -> None:
    colours = ["red", "green", "blue", "yellow", "purple", "orange", "pink", "brown", "gray", "black", "white",
               "cyan", "magenta", "navy", "olive"]
    refs = []
    for i, c in enumerate(colours):
        f = tmp_path / f"r{i:02d}.png"
        f.write_bytes(png_bytes((40, 30), c))
        refs.append(f)
    events = await run(studio, GenerateRequest(prompt="collage", references=refs))
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert "15 reference images: Nano Banana Pro accepts at most 14" in events[0].error.message
    assert model_requests(fake) == 0 and studio.store.tree_index() == []
    events = await run(studio, GenerateRequest(prompt="collage", references=refs[:14]))
    turn = events[-1].turn
    assert turn.status == "done" and len(turn.references) == 14
    check_project(studio.store.path, turns=1)


@pytest.mark.parametrize(("settings", "phrase"), [
    (GenerationSettings(aspect_ratio="7:3"), "aspect ratio 7:3"),
    (GenerationSettings(image_size="2k"), "uppercase K"),
    (GenerationSettings(image_size="8K"), "size 8K"),
    (GenerationSettings(model="gemini-3.1-flash-lite-image", image_size="4K"), "size 4K"),
    (GenerationSettings(model="gemini-3-pro-image", aspect_ratio="8:1"), "aspect ratio 8:1"),
    (GenerationSettings(model=""), "Model id is empty"),
    (GenerationSettings(temperature=5.0), "Temperature"),
], ids=["aspect", "lower-k", "8K", "flash-lite-4K", "pro-8:1", "empty-model", "temperature"])
async def test_invalid_settings_refused_before_sending(settings: GenerationSettings, phrase: str, studio: Studio,
                                                       fake: FakeGemini) -> None:
    events = await run(studio, GenerateRequest(prompt="a cat", settings=settings))
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert events[0].error.kind == "validation" and phrase in events[0].error.message
    assert model_requests(fake) == 0 and studio.store.tree_index() == []


@pytest.mark.parametrize("model", ["gemini-2.5-flash-image", "gemini-3-pro-image-preview", "no-such/model"])
async def test_unknown_or_retired_model_fails_clearly(model: str, studio: Studio) -> None:
    events = await run(studio, GenerateRequest(prompt="a cat", settings=GenerationSettings(model=model)))
    turn = events[-1].turn
    assert turn.status == "failed" and turn.error_kind == "not_found", turn.error
    assert repr(model) in turn.error and "gemini-3-pro-image" in turn.error
    check_project(studio.store.path, turns=1)


async def test_unknown_model_id_is_a_warning_not_a_block(studio: Studio) -> None:
    """Unknown ids are passed through (new models appear before the catalogue knows them), with a warning."""
    from banana_studio.domain.settings import validate_settings

    s = GenerationSettings(model="gemini-9-ultra-image")
    problems = validate_settings(s)
    assert [p.fatal for p in problems] == [False] and "Unknown model id" in problems[0].message
    turn = (await run(studio, GenerateRequest(prompt="a cat", settings=s)))[-1].turn
    assert turn.status == "done" and turn.settings.model == "gemini-9-ultra-image"


# -- config --------------------------------------------------------------------------------------------

def test_malformed_config_names_the_line_and_keeps_defaults(tmp_path: Path, iso_env: dict[str, str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text('default_project = "mine"\n[generation]\naspect_ratio = "16:9\n[ui]\ntheme = "x"\n')
    cfg = load_config()
    assert len(cfg.problems) == 1 and "line 3" in cfg.problems[0] and str(cfg_path) in cfg.problems[0]
    assert "Using defaults" in cfg.problems[0]
    assert cfg.default_project == "default" and cfg.defaults == GenerationSettings()
    assert main(["config"]) in (0, 1)  # `config` reports problems with a non-zero status
    out = capsys.readouterr()
    assert "line 3" in out.out + out.err
    assert cfg_path.read_text().startswith('default_project = "mine"')  # never rewritten


def test_wrong_typed_config_values_keep_defaults(tmp_path: Path, iso_env: dict[str, str]) -> None:
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text('[network]\nretry_attempts = "five"\ntimeout_seconds = 30\n[ui]\nimage_protocol = "ascii"\n'
                        '[generation]\nbogus = 1\naspect_ratio = "16:9"\n')
    cfg = load_config()
    assert cfg.retry_attempts == 5 and cfg.timeout_seconds == 30.0  # the good value is kept
    assert cfg.image_protocol == "auto" and cfg.defaults.aspect_ratio == "16:9"
    text = "\n".join(cfg.problems)
    assert "network.retry_attempts" in text and "ui.image_protocol" in text


async def test_wrong_typed_generation_defaults_never_crash_gen(tmp_path: Path, iso_env: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """`temperature = "hot"` used to reach validate_settings and crash every generation with a TypeError."""
    from dataclasses import fields

    import banana_studio.services.studio as studio_mod
    from banana_studio.config import _GENERATION_TYPES

    assert set(_GENERATION_TYPES) == {f.name for f in fields(GenerationSettings)}  # the type table keeps up
    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text('[generation]\ntemperature = "hot"\nseed = true\naspect_ratio = 5\n'
                        'include_thoughts = "yes"\nimage_size = "2K"\ntemperature_typo = 1\n')
    cfg = load_config()
    assert cfg.defaults == GenerationSettings(image_size="2K")  # good values kept, bad ones defaulted
    text = "\n".join(cfg.problems)
    for key in ("temperature", "seed", "aspect_ratio", "include_thoughts", "temperature_typo"):
        assert f"generation.{key}" in text
    code = await _in_thread(["gen", "--demo", "-q", "a cat", "--project-dir", str(tmp_path / "p")])
    out = capsys.readouterr()
    assert code == 0 and "Traceback" not in out.err, out.err
    assert "generation.temperature: expected a number" in out.err


async def test_malformed_config_does_not_stop_generation(tmp_path: Path, iso_env: dict[str, str],
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import banana_studio.services.studio as studio_mod

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text("this is = = not toml\n")
    code = await _in_thread(["gen", "--demo", "-q", "a cat", "--project-dir", str(tmp_path / "p")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "line 1" in out.err and out.out.strip().endswith(".jpg")


async def _in_thread(argv: list[str]) -> int:
    import asyncio

    return await asyncio.to_thread(main, argv)


# -- damaged projects ------------------------------------------------------------------------------

def _snapshot(d: Path) -> dict[str, bytes]:
    """Every file's bytes; the store's empty cross-process open lock (``.open.lock``) does not count."""
    snap = {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}
    if snap.get(".open.lock") == b"":
        del snap[".open.lock"]
    return snap


def _corrupt(project: Path, how: str) -> None:
    project.mkdir(parents=True)
    db = project / "project.db"
    if how == "garbage":
        db.write_bytes(b"definitely not a database\n" * 200)
    elif how == "bad_pages":
        db.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    elif how == "newer":
        import sqlite3

        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE turns (id INTEGER PRIMARY KEY, future TEXT)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 7}")
        conn.commit()
        conn.close()


@pytest.mark.parametrize(("how", "phrase"), [("garbage", "not a SQLite database"), ("bad_pages", "untouched"),
                                             ("newer", "newer than this Banana Studio")])
def test_damaged_or_newer_project_refused_never_overwritten(how: str, phrase: str, tmp_path: Path,
                                                            iso_env: dict[str, str],
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "p"
    project = root / "old"
    _corrupt(project, how)
    before = _snapshot(project)
    with pytest.raises(ProjectError, match=phrase):
        ProjectStore.open(root, "old")
    with pytest.raises(ProjectError):
        Studio.open(Config(), project="old", project_dir=root, demo=True)
    assert main(["gen", "--demo", "x", "--project", "old", "--project-dir", str(root)]) == 2
    assert main(["history", "--project", "old", "--project-dir", str(root)]) != 0
    err = capsys.readouterr().err
    assert phrase in err and "Traceback" not in err
    assert _snapshot(project) == before  # byte-identical, no -wal/-shm/probe files added


def test_read_only_project_dir(tmp_path: Path, iso_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "p"
    ProjectStore.open(root, "ro").close()
    project = root / "ro"
    before = _snapshot(project)
    os.chmod(project, 0o555)
    try:
        if os.access(project, os.W_OK):  # root ignores modes: simulate a read-only file system instead
            real_open = os.open

            def ro_open(path, flags, *a, **k):  # type: ignore[no-untyped-def]
                if str(path).startswith(str(project)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                    raise OSError(errno.EROFS, "Read-only file system")
                return real_open(path, flags, *a, **k)

            monkeypatch.setattr(os, "open", ro_open)
        with pytest.raises(ProjectError, match="not writable"):
            Studio.open(Config(), project="ro", project_dir=root, demo=True)
        assert main(["gen", "--demo", "x", "--project", "ro", "--project-dir", str(root)]) == 2
        err = capsys.readouterr().err
        assert "not writable" in err and "Traceback" not in err
    finally:
        os.chmod(project, 0o755)
    assert _snapshot(project) == before


@pytest.mark.parametrize("name", ["../evil", "..", "a/b", "/abs", "x\x1b[31m", ".hidden", "a\\b", "", " pad"])
def test_bad_project_names_refused(name: str, tmp_path: Path, iso_env: dict[str, str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "inside" / "projects"
    with pytest.raises(ProjectError):
        Studio.open(Config(), project=name or None, project_dir=root, demo=True) if name else \
            ProjectStore.open(root, name)
    if name:
        assert main(["gen", "--demo", "x", "--project", name, "--project-dir", str(root)]) == 2
        err = capsys.readouterr().err
        assert "Project name" in err and "Traceback" not in err
    assert not (tmp_path / "evil").exists() and not (tmp_path / "inside" / "evil").exists()
    made = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert made == []  # nothing written anywhere


# -- prompts ---------------------------------------------------------------------------------------

BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ODD_PROMPTS = [
    "a cat 🐱🍌 with a banana 👩‍🎨, skin tones 👋🏽",
    "שלום עולם — a sign that says مرحبا بالعالم",
    "ansi \x1b[31mred\x1b[0m bell\x07 backspace\x08 nul\x00 end",
    "bidi override \u202egnirts desrever\u202c and zero\u200bwidth",
    "line one\nline two\ttabbed\r\nthree",
]


@pytest.mark.parametrize("prompt", ODD_PROMPTS, ids=["emoji", "rtl", "control", "bidi", "newlines"])
async def test_odd_prompts_round_trip_and_print_safely(prompt: str, studio: Studio, fake: FakeGemini,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    events = await run(studio, GenerateRequest(prompt=prompt))
    turn = events[-1].turn
    assert turn.status == "done", turn.error
    sent = [r for r in fake.requests if "enerateContent" in r.path][-1].body
    assert sent["contents"][-1]["parts"][0]["text"] == prompt  # sent exactly as typed
    stored = studio.store.get_turn(turn.id)
    assert stored.prompt == prompt and stored.user_content.parts[0].text == prompt
    image = studio.store.abs_path(stored.final_images[0].path)
    assert image.name.isascii() and image.name.isprintable()
    assert read_recipe(image.read_bytes())["prompt"] == prompt
    check_project(studio.store.path, turns=1)
    # The history listing never writes raw control characters (escape sequences) to the terminal.
    capsys.readouterr()
    assert main(["history", "--project", "inputs", "--project-dir", str(studio.store.path.parent)]) == 0
    out = capsys.readouterr().out
    assert not [ch for ch in out if ch != "\n" and (unicodedata.category(ch) == "Cc" or ch in BIDI)], repr(out)
    assert "\\x1b[31m" in out if "\x1b" in prompt else True  # shown escaped, not executed


async def test_gen_streams_model_text_without_terminal_escapes(tmp_path: Path, iso_env: dict[str, str],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The demo model echoes the prompt in its thoughts: `gen` must not replay escape sequences."""
    import banana_studio.services.studio as studio_mod

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    prompt = ODD_PROMPTS[2] + " " + ODD_PROMPTS[3]
    code = await _in_thread(["gen", "--demo", prompt, "--project-dir", str(tmp_path / "p")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "\\x1b[31mred" in out.err  # shown, escaped
    assert not [ch for ch in out.err if ch not in "\n\t" and (unicodedata.category(ch) == "Cc" or ch in BIDI)]


@pytest.mark.parametrize(("line", "key"), [("[network]\ntimeout_seconds = inf", "network.timeout_seconds"),
                                           ("[network]\ntimeout_seconds = nan", "network.timeout_seconds"),
                                           ("[budget]\ndaily = -5", "budget.daily"),
                                           ("[budget]\nproject = inf", "budget.project")])
async def test_non_finite_or_negative_numbers_keep_defaults(line: str, key: str, tmp_path: Path,
                                                            iso_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """TOML allows inf/nan: `timeout_seconds = inf` made every request fail with an OverflowError."""
    import banana_studio.services.studio as studio_mod

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text(line + "\n")
    cfg = load_config()
    assert any(key in p and "finite number" in p for p in cfg.problems), cfg.problems
    assert cfg.timeout_seconds == 360.0 and cfg.daily_budget is None and cfg.project_budget is None
    code = await _in_thread(["gen", "--demo", "-q", "a cat", "--project-dir", str(tmp_path / "p")])
    out = capsys.readouterr()
    assert code == 0, out.err


async def test_prompt_bytes_that_are_not_utf8(tmp_path: Path, iso_env: dict[str, str],
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Invalid UTF-8 from stdin or argv (lone surrogates in Python) crashed the request with a traceback."""
    import io

    import banana_studio.services.studio as studio_mod

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    root = str(tmp_path / "p")
    stdin = io.TextIOWrapper(io.BytesIO(b"a cat \xff\xfe from stdin"), encoding="utf-8", errors="strict")
    monkeypatch.setattr("sys.stdin", stdin)
    assert await _in_thread(["gen", "--demo", "-q", "-", "--project-dir", root]) == 0, capsys.readouterr().err
    argv_prompt = b"argv \xff cat".decode("utf-8", "surrogateescape")  # what Python makes of such argv bytes
    assert await _in_thread(["gen", "--demo", "-q", argv_prompt, "--project-dir", root]) == 0, capsys.readouterr().err
    with ProjectStore.open(tmp_path / "p", "default") as store:
        assert [store.get_turn(i).prompt for i in (1, 2)] == ["a cat \ufffd\ufffd from stdin", "argv \ufffd cat"]
    check_project(tmp_path / "p" / "default", turns=2)


async def test_config_file_not_utf8(tmp_path: Path, iso_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A config saved as Latin-1 crashed every command with UnicodeDecodeError."""
    import io
    import stat

    import banana_studio.services.studio as studio_mod

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    original = b'# settings\n[ui]\ntheme = "caf\xe9"\n'
    cfg_path.write_bytes(original)
    cfg = load_config()
    assert len(cfg.problems) == 1 and "line 3" in cfg.problems[0] and "UTF-8" in cfg.problems[0]
    assert await _in_thread(["gen", "--demo", "-q", "a cat", "--project-dir", str(tmp_path / "p")]) == 0
    assert "not valid UTF-8" in capsys.readouterr().err
    # storing a key keeps every other byte of the file as it was
    monkeypatch.setattr("sys.stdin", io.StringIO(KEY + "\n"))
    assert main(["config", "--set-key"]) == 0
    data = cfg_path.read_bytes()
    assert data.endswith(original) and KEY.encode() in data
    assert stat.S_IMODE(cfg_path.stat().st_mode) == 0o600
