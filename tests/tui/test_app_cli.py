"""``banana-studio`` / ``studio`` / ``open IMAGE``: argument handling before the App runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from banana_studio.cli.main import main
from banana_studio.domain.events import TurnSaved
from banana_studio.services import GenerateRequest


class _FakeApp:
    def __init__(self) -> None:
        self.ran = False
        self.return_code = 0

    def run(self) -> None:
        self.ran = True


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Pretend to be a terminal; record what the CLI builds instead of running the App."""
    seen: dict[str, Any] = {}
    import banana_studio.cli.studio as cli_mod
    import banana_studio.tui.app as app_mod
    import banana_studio.tui.images as images_mod

    def fake_make_app(studio: Any, **kwargs: Any) -> _FakeApp:
        seen["studio"] = studio
        seen.update(kwargs)
        seen["app"] = _FakeApp()
        return seen["app"]

    monkeypatch.setattr(cli_mod, "is_terminal", lambda: True)
    monkeypatch.setattr(app_mod, "make_app", fake_make_app)
    monkeypatch.setattr(images_mod, "select_image_protocol", lambda pref: seen.setdefault("protocol", pref))
    return seen


def test_needs_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--demo"]) == 2
    assert "interactive terminal" in capsys.readouterr().err


def test_open_missing_image(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["open", str(tmp_path / "nope.png")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_open_foreign_image_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path, h: Any) -> None:
    other = tmp_path / "holiday.png"
    other.write_bytes(h.png_bytes())
    assert main(["open", str(other)]) == 2
    assert "was not made by a Banana Studio project" in capsys.readouterr().err


def test_studio_builds_app_with_protocol_override(captured: dict[str, Any], zero_latency: None) -> None:
    assert main(["--demo", "--project", "posters", "--image-protocol", "sixel"]) == 0
    assert captured["protocol"] == "sixel"
    assert captured["studio"].demo and captured["studio"].store.name == "posters"
    assert captured["app"].ran
    captured["studio"].store.close()


def test_bad_project_name_is_a_clear_error(capsys: pytest.CaptureFixture[str], captured: dict[str, Any]) -> None:
    assert main(["--demo", "--project", "../x"]) == 2
    assert "must not" in capsys.readouterr().err
    assert "app" not in captured


async def test_open_image_jumps_to_its_turn(captured: dict[str, Any], demo_studio: Any, tmp_path: Path) -> None:
    saved = None
    async for event in demo_studio.generate(GenerateRequest(prompt="a teapot")):
        if isinstance(event, TurnSaved):
            saved = event.turn
    assert saved is not None and saved.status == "done"
    copy = tmp_path / "elsewhere" / "teapot.jpg"
    copy.parent.mkdir()
    shutil.copy(demo_studio.store.abs_path(saved.final_images[0].path), copy)
    assert main(["open", str(copy), "--demo"]) == 0
    assert captured["open_turn"] == saved.id
    assert captured["studio"].store.name == demo_studio.store.name
    captured["studio"].store.close()


def test_image_protocol_flag_on_the_studio_subcommand(captured: dict[str, Any], zero_latency: None) -> None:
    assert main(["studio", "--demo", "--image-protocol", "halfcell"]) == 0
    assert captured["protocol"] == "halfcell"
    captured["studio"].store.close()
