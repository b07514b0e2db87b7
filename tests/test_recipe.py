"""Recipes embedded in PNG / JPEG bytes: round trip, pixels untouched, no API key, `recipe` CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.cli.main import main
from banana_studio.store.recipe import embed_recipe, read_recipe

RECIPE = {"prompt": "a cat in a hat ☂", "model": "gemini-3-pro-image", "turn_id": 42, "parent_id": 7,
          "project": "demo", "project_uuid": "u-1", "settings": {"aspect_ratio": "16:9", "image_size": "2K"},
          "references": ["ab" * 32], "app_version": "0.1.0"}


def encoded(fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_round_trip_keeps_pixels(fmt: str) -> None:
    raw = encoded(fmt)
    out = embed_recipe(raw, RECIPE)
    assert out != raw
    assert read_recipe(out) == RECIPE
    assert read_recipe(raw) is None
    with Image.open(io.BytesIO(out)) as a, Image.open(io.BytesIO(raw)) as b:
        assert a.format == fmt and a.tobytes() == b.tobytes()
    again = embed_recipe(out, {**RECIPE, "turn_id": 43})  # replaces, never stacks
    assert read_recipe(again)["turn_id"] == 43
    assert len(again) == len(out)


def test_jpeg_with_exif_app1_kept() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    raw = encoded("JPEG", exif=exif.tobytes())
    out = embed_recipe(raw, RECIPE)
    assert read_recipe(out) == RECIPE
    with Image.open(io.BytesIO(out)) as im:
        assert im.getexif()[0x010F] == "Camera"


def test_unknown_format_unchanged() -> None:
    raw = encoded("WEBP")
    assert embed_recipe(raw, RECIPE) == raw
    assert read_recipe(b"") is None and read_recipe(b"\x89PNG\r\n\x1a\ngarbage") is None


def test_api_key_never_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "AIza" + "k" * 35
    monkeypatch.setenv("GEMINI_API_KEY", "my-secret-env-key")
    out = embed_recipe(encoded("PNG"), {**RECIPE, "prompt": f"oops {key} my-secret-env-key"})
    assert key.encode() not in out and b"my-secret-env-key" not in out
    assert "[REDACTED]" in read_recipe(out)["prompt"]


def test_recipe_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    img = tmp_path / "x.png"
    img.write_bytes(embed_recipe(encoded("PNG"), RECIPE))
    assert main(["recipe", str(img)]) == 0
    out = capsys.readouterr().out
    assert "a cat in a hat" in out and "Turn:     42 (parent 7)" in out and "16:9" in out
    assert main(["recipe", str(img), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == RECIPE
    plain = tmp_path / "plain.png"
    plain.write_bytes(encoded("PNG"))
    assert main(["recipe", str(plain)]) == 1
    assert "No Banana Studio recipe" in capsys.readouterr().err
    assert main(["recipe", str(tmp_path / "missing.png")]) == 2  # a missing input file: invalid input


def test_recipe_cli_names_the_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """A region edit's picture carries its region; the plain listing showed no trace of it."""
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    recipe = {**RECIPE, "settings": {**RECIPE["settings"],
                                     "region": {"boxes": [[0.25, 0.25, 0.3, 0.3]], "protect": True, "feather": 12}}}
    img = tmp_path / "r.png"
    img.write_bytes(embed_recipe(encoded("PNG"), recipe))
    assert main(["recipe", str(img)]) == 0
    out = capsys.readouterr().out
    assert "Region:   1 rectangle (9.0% of the image: 0.25,0.25,0.3,0.3) · protect outside (feather 12 px)" in out
    recipe["settings"]["region"] = {"boxes": [], "protect": False, "outpaint": "16:9:left"}
    img.write_bytes(embed_recipe(encoded("PNG"), recipe))
    assert main(["recipe", str(img)]) == 0
    assert "Region:   outpaint to 16:9:left · not protected" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("pause", [False, True])
def test_the_pieces_written_atomically_are_the_embedded_file(fmt: str, pause: bool, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The store writes a final image's file as pieces (a JPEG's scan is a view, not a copy), with the
    # crash tests' pause half-way through: the file on disk is the one embed_recipe makes.
    from banana_studio.domain.content import sha256_hex, sha256_of
    from banana_studio.store.files import atomic_write
    from banana_studio.store.recipe import embed_recipe_pieces

    if pause:
        monkeypatch.setenv("BANANA_STUDIO_TEST_WRITE_DELAY", "0")
    raw = encoded(fmt)
    pieces = embed_recipe_pieces(raw, RECIPE)
    assert fmt == "PNG" or isinstance(pieces[-1], memoryview)
    atomic_write(tmp_path / "img", pieces)
    on_disk = (tmp_path / "img").read_bytes()
    assert on_disk == embed_recipe(raw, RECIPE) and read_recipe(on_disk) == read_recipe(embed_recipe(raw, RECIPE))
    assert sha256_of(pieces) == sha256_hex(on_disk)
