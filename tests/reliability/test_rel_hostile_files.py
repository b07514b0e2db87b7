"""Files and folders that fight back: exports aimed at the project itself, symlinked folders and config,
a ``.locks`` that is a file, devices, pipes and closed pipes, silly budgets, oversize prompts.  Every case
ends with a clear message and the right exit code, never a traceback, and never changes the project."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from rel_common import KEY, child_env, jpeg_bytes

from banana_studio.cli.main import main
from banana_studio.config import load_config
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import MAX_REQUEST_BYTES, GenerationSettings
from banana_studio.engine import validate_request
from banana_studio.store import ProjectError, ProjectStore


@pytest.fixture
def project(tmp_path: Path, iso_env: dict[str, str]) -> Path:
    with ProjectStore.open(tmp_path / "projects", "p") as s:
        t = s.create_turn(None, "a red fox", GenerationSettings(), [], user_content("a red fox"))
        s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=jpeg_bytes())]),
                        status="done")
    return tmp_path / "projects" / "p"


def _cli(args: list[str], project: Path) -> list[str]:
    return [*args, "--project-dir", str(project.parent), "--project", project.name]


def _snapshot(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and p.parent.name != ".locks" and p.name != ".open.lock"}


# -- exports never modify the project ----------------------------------------------------------------

@pytest.mark.parametrize("where", ["images", ".", "images/sub", "link-to-images"])
def test_export_into_the_project_is_refused_and_changes_nothing(where: str, project: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "link-to-images").symlink_to(project / "images")
    out = tmp_path / where if where == "link-to-images" else project / where
    before = _snapshot(project)
    assert main(_cli(["export", "1", "-o", str(out), "--storyboard"], project)) == 2  # a bad argument
    err = capsys.readouterr().err
    assert "inside the project" in err and "Traceback" not in err
    assert _snapshot(project) == before  # recipe and hash of the image intact


def test_export_never_writes_through_a_symlink_into_the_project(project: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "0001-a-red-fox.jpg").symlink_to(project / "images" / "0001-a-red-fox.jpg")
    before = _snapshot(project)
    assert main(_cli(["export", "1", "-o", str(out)], project)) == 0
    assert _snapshot(project) == before
    assert not (out / "0001-a-red-fox.jpg").is_symlink()
    assert (out / "0001-a-red-fox.jpg").read_bytes() == before["images/0001-a-red-fox.jpg"]


def test_export_works_when_images_is_a_symlink(project: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    moved = tmp_path / "other-disk" / "images"
    moved.parent.mkdir()
    (project / "images").rename(moved)
    (project / "images").symlink_to(moved)
    assert main(_cli(["export", "1", "-o", str(tmp_path / "out")], project)) == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "0001-a-red-fox.jpg").read_bytes() == (moved / "0001-a-red-fox.jpg").read_bytes()
    with ProjectStore.open_path(project) as s:  # a symlinked images/ is a user's choice, not an escape
        assert s.abs_path("images/0001-a-red-fox.jpg").is_file()
        for bad in ("../x.jpg", "/etc/passwd", "images/../../x"):
            with pytest.raises(ProjectError, match="outside the project"):
                s.abs_path(bad)


# -- .locks is a file -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "code"), [(["history"], 2), (["gen", "--demo", "-q", "a cat"], 2),
                                           (["export", "1", "-o", "OUT"], 2)])
def test_locks_being_a_file_is_a_clear_error(args: list[str], code: int, project: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    shutil.rmtree(project / ".locks", ignore_errors=True)
    (project / ".locks").write_text("not a folder")
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    assert main(_cli(argv, project)) == code  # 2 = invalid input or setup (the README's exit-code table)
    err = capsys.readouterr().err
    assert ".locks is not a folder" in err and "Traceback" not in err


# -- recipe: devices, pipes, closed pipes ------------------------------------------------------------------

def test_recipe_of_a_device_or_a_fifo_is_refused(tmp_path: Path, iso_env: dict[str, str],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for target in ("/dev/zero", str(fifo), str(tmp_path)):
        assert main(["recipe", target]) == 2  # an unreadable input file (the README's exit-code table)
        err = capsys.readouterr().err
        assert "not an image file" in err and "Traceback" not in err, err


def test_recipe_into_a_closed_pipe_exits_quietly(project: Path, tmp_path: Path) -> None:
    image = project / "images" / "0001-a-red-fox.jpg"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`| head -2`) is gone before anything is written
    proc = subprocess.run([sys.executable, "-m", "banana_studio", "recipe", str(image)], stdout=write_end,
                          stderr=subprocess.PIPE, env=child_env(tmp_path), timeout=60)
    os.close(write_end)
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr, proc.stderr
    assert proc.returncode == 141


@pytest.mark.parametrize("args", [["history"], ["history", "--json"], ["history", "--search", "fox"], ["projects"]])
def test_listings_into_a_closed_pipe_exit_quietly(args: list[str], project: Path, tmp_path: Path) -> None:
    """`history | head -1` said "error: cannot write the export: Broken pipe." (and exit 1)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    argv = [sys.executable, "-m", "banana_studio", *args, "--project-dir", str(project.parent)]
    if args[0] == "history":
        argv += ["--project", project.name]
    proc = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, env=child_env(tmp_path), timeout=60)
    os.close(write_end)
    assert proc.stderr == b"" and proc.returncode == 141, proc.stderr


# -- references -------------------------------------------------------------------------------------------

def test_fifo_reference_is_not_called_missing(project: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "ref.png"
    os.mkfifo(fifo)
    with ProjectStore.open_path(project) as s:
        with pytest.raises(ProjectError, match="not a regular file") as exc:
            s.add_reference(fifo)
        assert "does not exist" not in str(exc.value)
        with pytest.raises(ProjectError, match="does not exist"):
            s.add_reference(tmp_path / "missing.png")


def test_reference_pixel_limit_is_the_one_the_readme_states(project: Path) -> None:
    from banana_studio.domain.imagetype import MAX_REFERENCE_PIXELS

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"more than {MAX_REFERENCE_PIXELS // 1_000_000} megapixels" in readme
    assert "60 megapixels" not in readme
    Image.MAX_IMAGE_PIXELS, saved = None, Image.MAX_IMAGE_PIXELS
    try:
        buf = io.BytesIO()
        Image.new("1", (10_000, 9_000)).save(buf, "PNG")  # 90 MP, a few KB
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    with ProjectStore.open_path(project) as s, pytest.raises(ProjectError, match="89 megapixel limit"):
        s.add_reference_bytes(buf.getvalue(), "", "huge.png")


def test_oversize_reference_is_refused_before_it_is_sniffed(project: Path) -> None:
    from banana_studio.domain.imagetype import MAX_REFERENCE_BYTES

    heif_header = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    with ProjectStore.open_path(project) as s, pytest.raises(ProjectError, match="too large"):
        s.add_reference_bytes(heif_header + bytes(MAX_REFERENCE_BYTES), "", "big.heic")


# -- misleading words ----------------------------------------------------------------------------------------

def test_an_oversize_prompt_is_called_an_oversize_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    import banana_studio.engine.request as request_mod

    limit = min(MAX_REQUEST_BYTES, 2 * 1024 * 1024)  # the wording, not the limit's value, is under test
    monkeypatch.setattr(request_mod, "MAX_REQUEST_BYTES", limit)
    msgs = validate_request([], user_content("a" * (limit + 1024)), GenerationSettings())
    assert len(msgs) == 1 and "prompt text alone" in msgs[0] and "history" not in msgs[0]
    ref = b"\x89PNG\r\n\x1a\n" + bytes(limit)
    msgs = validate_request([], user_content("x", [(ref, "image/png")]), GenerationSettings())
    assert len(msgs) == 1 and "reference images are" in msgs[0] and "history" not in msgs[0]
    big = Content("model", [Part(mime_type="image/png", data=ref)])
    msgs = validate_request([user_content("x"), big], user_content("again"), GenerationSettings())
    assert len(msgs) == 1 and "branch history re-sends" in msgs[0]


@pytest.mark.parametrize("value", ["1e-300", "0.001", "-5", "1e300", "inf"])
def test_silly_budgets_are_refused_not_shown_as_zero(value: str, tmp_path: Path, iso_env: dict[str, str]) -> None:
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text(f"[budget]\ndaily = {value}\nproject = 2.5\n")
    cfg = load_config()
    assert cfg.daily_budget is None and cfg.project_budget == 2.5
    assert len(cfg.problems) == 1 and "budget.daily" in cfg.problems[0]


def test_budgets_are_kept_to_the_cent(tmp_path: Path, iso_env: dict[str, str]) -> None:
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text("[budget]\ndaily = 0\nproject = 1.234\n")
    cfg = load_config()
    assert cfg.problems == [] and cfg.daily_budget == 0.0 and cfg.project_budget == 1.23


# -- config --set-key --------------------------------------------------------------------------------------

ORIGINAL_CONFIG = '''# my settings, hand-written
default_project = "work"   # keep this comment
api_key = "AIzaOLD"  # old key

[ui]
theme = "dark"
notes = """
api_key = "this line is part of a string"
"""

[budget]
daily = 5
'''


def test_set_key_replaces_only_the_key_and_writes_through_a_symlink(tmp_path: Path, iso_env: dict[str, str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "dotfiles" / "banana.toml"
    real.parent.mkdir()
    real.write_text(ORIGINAL_CONFIG)
    real.chmod(0o644)
    link = Path(iso_env["BANANA_STUDIO_CONFIG"])
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))
    assert main(["config", "--set-key"]) == 0
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_text() == ORIGINAL_CONFIG.replace('"AIzaOLD"', f'"{KEY}"')
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert load_config().api_key == KEY


def test_set_key_adds_one_line_and_keeps_every_other_byte(tmp_path: Path, iso_env: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    without = ORIGINAL_CONFIG.replace('api_key = "AIzaOLD"  # old key\n', "")
    cfg_path.write_text(without)
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))
    assert main(["config", "--set-key"]) == 0
    assert cfg_path.read_text() == f'api_key = "{KEY}"\n' + without
    cfg = load_config()
    assert cfg.api_key == KEY and cfg.problems == []


def test_set_key_refuses_a_file_that_is_not_toml(tmp_path: Path, iso_env: dict[str, str],
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg_path = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg_path.parent.mkdir(parents=True)
    cfg_path.write_text("[ui\ntheme = 'x'\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))
    assert main(["config", "--set-key"]) == 1
    assert "not valid TOML" in capsys.readouterr().err
    assert cfg_path.read_text() == "[ui\ntheme = 'x'\n"


def test_gen_output_into_the_project_is_refused(project: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`gen -o <project>/images/x.jpg` would leave an image in images/ that the index does not record."""
    from rel_common import check_project

    argv = _cli(["gen", "--demo", "--mix-demo", "-q", "a cat", "-o", str(project / "images" / "mine.jpg")], project)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "inside the project" in err and "Traceback" not in err
    assert not (project / "images" / "mine.jpg").exists()
    check_project(project, turns=2)


@pytest.mark.parametrize("fmt", ["AVIF", "GIF", "BMP", "TIFF"])
def test_formats_the_api_does_not_take_become_png(fmt: str, project: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, fmt)
    with ProjectStore.open_path(project) as s:
        ref = s.add_reference_bytes(buf.getvalue(), "", f"x.{fmt.lower()}")
        assert ref.mime_type == "image/png" and s.reference_bytes(ref).startswith(b"\x89PNG\r\n\x1a\n")


def test_a_heif_header_followed_by_junk_is_refused_not_sent(project: Path) -> None:
    junk = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(4096)
    with ProjectStore.open_path(project) as s, pytest.raises(ProjectError, match=r"photo\.heic"):
        s.add_reference_bytes(junk, "", "photo.heic")


def test_save_as_never_writes_into_the_project_or_through_a_link(project: Path, tmp_path: Path) -> None:
    """The studio's "save image as" (ProjectStore.save_copy): refused inside the project, and a link at the
    destination is replaced, not written through."""
    with ProjectStore.open_path(project) as s:
        img = project / s.get_turn(1).images[0].path
        before = _snapshot(project)
        with pytest.raises(ProjectError, match="inside the project"):
            s.save_copy(img, project / "images" / "copy.jpg")
        victim = tmp_path / "victim.txt"
        victim.write_text("keep me")
        link = tmp_path / "out" / "link.jpg"
        link.parent.mkdir()
        link.symlink_to(victim)
        out = s.save_copy(img, link)
        assert out.read_bytes() == img.read_bytes() and not out.is_symlink()
        assert victim.read_text() == "keep me"
        assert _snapshot(project) == before


def test_export_into_another_project_is_refused_and_changes_nothing(project: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Turn 1 of project "q" has the same file name as turn 1 of "p": exporting it into p's images/ would
    replace p's image (and leave q's drafts and branch.json there, off p's record)."""
    with ProjectStore.open(tmp_path / "projects", "q") as s:
        t = s.create_turn(None, "a red fox", GenerationSettings(), [], user_content("a red fox"))
        s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg",
                                                                   data=jpeg_bytes(color="blue"))]), status="done")
    before = _snapshot(project)
    for out in (project / "images", project / "images" / "new", project):
        assert main(["export", "1", "-o", str(out), "--storyboard", "--project-dir", str(tmp_path / "projects"),
                     "--project", "q"]) == 2
        err = capsys.readouterr().err
        assert "inside the project 'p'" in err and "Traceback" not in err, err
    assert _snapshot(project) == before
