"""``gen --region/--outpaint/--protect`` and ``diff`` against the local server (never the network)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from banana_studio.cli.main import main
from banana_studio.domain.region import Box
from banana_studio.domain.turn import Turn
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import region_pixels as px
from banana_studio.store import ProjectStore

KEY = "test-key-for-the-fake-server"


@pytest.fixture
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True, image_format="png") as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", srv.base_url)
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def cli(env: Path, *args: str) -> int:
    return main([*args, "--project-dir", str(env / "projects"), "--project", "cli"])


def turn(env: Path, turn_id: int) -> tuple[Turn, Path]:
    with ProjectStore.open(env / "projects", "cli", create=False) as store:
        return store.get_turn(turn_id), store.path


def test_gen_region_protect_then_diff(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(env, "gen", "a lighthouse", "-q") == 0
    srv.region_leak = True
    assert cli(env, "gen", "a red door", "--parent", "1", "--region", "0.25,0.25,0.5,0.25", "--feather", "6") == 0
    out, err = capsys.readouterr()
    assert "every pixel is the source's" in err
    edit, root_dir = turn(env, 2)
    assert edit.kind == "region" and edit.settings.region["feather"] == 6
    shown_path = Path(out.strip().splitlines()[-1])
    assert shown_path == root_dir / edit.final_images[0].path
    source = Image.open(root_dir / turn(env, 1)[0].final_images[0].path).convert("RGB")
    shown = Image.open(shown_path).convert("RGB")
    grown = Image.new("L", shown.size, 255)
    left, top, right, bottom = Box(0.25, 0.25, 0.5, 0.25).pixels(*shown.size)
    grown.paste(0, (left - 6, top - 6, right + 6, bottom + 6))
    diff = ImageChops.difference(shown, px.source_at(source, shown.size)).convert("L").point(lambda v: 255 if v else 0)
    assert ImageChops.multiply(diff, grown).getbbox() is None

    heat = env / "heat.png"
    assert cli(env, "diff", "1", "2", "-o", str(heat), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert heat.is_file() and Image.open(heat).size == shown.size
    assert data["outside"] < 0.01 and data["inside"] > 0.2 and data["before"] == 1

    assert cli(env, "gen", "a red door", "--parent", "1", "--region", "0.25,0.25,0.5,0.25", "--no-protect", "-q") == 0
    capsys.readouterr()
    assert cli(env, "diff", "3", "--json") == 0  # vs its parent
    assert json.loads(capsys.readouterr().out)["outside"] > 0.3  # the leak shows


def test_gen_region_in_pixels_and_bad_regions(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(env, "gen", "a lighthouse", "-q") == 0
    assert cli(env, "gen", "x", "--parent", "1", "--region", "0,0,256,256", "-q") == 0
    edit, _ = turn(env, 2)
    w = turn(env, 1)[0].final_images[0].width
    assert edit.settings.region["boxes"][0][2] == pytest.approx(256 / w, abs=1e-4)
    capsys.readouterr()
    assert cli(env, "gen", "x", "--parent", "1", "--region", "0.1,0.2,0.3") == 2
    assert "four numbers" in capsys.readouterr().err
    assert cli(env, "gen", "x", "--region", "0.1,0.2,0.3,0.3") == 2
    assert "needs a picture" in capsys.readouterr().err
    assert cli(env, "gen", "x", "--parent", "1", "--outpaint", "16:9:up") == 2


def test_gen_outpaint(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(env, "gen", "a lighthouse", "-q") == 0
    assert cli(env, "gen", "more sea", "--parent", "1", "--outpaint", "16:9:left", "-q") == 0
    edit, _ = turn(env, 2)
    assert edit.kind == "outpaint" and edit.settings.aspect_ratio == "16:9"
    assert edit.final_images[0].width > edit.final_images[0].height
    assert cli(env, "gen", "more harbour", "--parent", "1", "--outpaint", "1.5x:top", "-q") == 0  # zoom out
    zoom, _ = turn(env, 3)
    assert zoom.kind == "outpaint" and zoom.settings.aspect_ratio == "1:1" and len(zoom.settings.region["boxes"]) == 3
    assert cli(env, "diff", "3", "--json") == 0


def test_diff_of_a_region_edit_of_a_reference_compares_with_that_picture(
        env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    """A new thread's region edit has no parent: its change map is against the reference it edited
    (``diff`` said "no parent to compare with")."""
    src = env / "photo.png"
    Image.new("RGB", (512, 512), (40, 90, 160)).save(src)
    srv.region_leak = True
    assert cli(env, "gen", "a kite", "--ref", str(src), "--region", "0.5,0.1,0.3,0.3", "-q") == 0
    capsys.readouterr()
    assert cli(env, "diff", "1", "--json", "-o", str(env / "heat.png")) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["before"] is None and got["source"] == "photo.png" and got["after"] == 1
    assert got["inside"] > 0.5 and got["outside"] < 0.01  # the leak undone outside the feathered edge
    assert Image.open(env / "heat.png").format == "PNG"
    assert cli(env, "diff", "1") == 0
    assert capsys.readouterr().out.startswith("its source picture (photo.png) → #1: changed")
    assert cli(env, "gen", "plain", "--ref", str(src), "-q") == 0
    capsys.readouterr()
    assert cli(env, "diff", "2") == 2  # a plain new thread has nothing it edited
    assert "no parent" in capsys.readouterr().err
