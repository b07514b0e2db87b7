"""A few deterministic SVG snapshots of the studio (pytest-textual-snapshot).

Fixed terminal sizes, no cursor blink, halfcell images, a fixed clock for the turn header, and data
from the local fake server (deterministic for a given prompt and settings).  Update with
``pytest tests/tui/test_snapshots.py --snapshot-update`` after checking the new SVGs by eye.
"""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, Select, TextArea

from banana_studio.tui import images as tui_images
from banana_studio.tui.app import make_app
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets import turn_detail


@pytest.fixture(autouse=True)
def _deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turn_detail, "format_timestamp", lambda ts: "2026-01-02 03:04")
    tui_images.select_image_protocol("halfcell")


def _no_blink(app: Any) -> None:
    for widget in app.screen.query("TextArea, Input"):
        if isinstance(widget, TextArea | Input):
            widget.cursor_blink = False


async def _settle(pilot: Any) -> None:
    from textual.worker import WorkerState

    quiet = 0
    for _ in range(600):  # idle (no worker, no generation) for 10 consecutive checks
        await pilot.pause(0.03)
        busy = any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers)
        main = pilot.app.screen if isinstance(pilot.app.screen, MainScreen) else None
        quiet = 0 if busy or (main is not None and main.generating) else quiet + 1
        if quiet >= 10:
            break
    await pilot.pause(0.1)
    _no_blink(pilot.app)
    await pilot.pause(0.05)


async def _generate(pilot: Any, prompt: str) -> None:
    from banana_studio.tui.widgets.prompt import PromptArea

    main = pilot.app.screen
    main.query_one(PromptArea).load_text(prompt)
    await pilot.press("ctrl+j")
    await pilot.pause(0.1)
    await _settle(pilot)


def test_snapshot_empty_project(snap_compare: Any, sync_demo_studio: Any) -> None:
    assert snap_compare(make_app(sync_demo_studio), terminal_size=(140, 45), run_before=_settle)


def test_snapshot_after_generation(snap_compare: Any, sync_demo_studio: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        await _generate(pilot, "a lighthouse at dusk, oil painting")
        await _generate(pilot, "now make it stormy")

    assert snap_compare(make_app(sync_demo_studio), terminal_size=(140, 45), run_before=run_before)


def test_snapshot_small_terminal_80x24(snap_compare: Any, sync_demo_studio: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        await _generate(pilot, "a red fox in the snow")

    assert snap_compare(make_app(sync_demo_studio), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_settings_invalid_for_model(snap_compare: Any, sync_demo_studio: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        screen = pilot.app.screen
        screen.show_settings(True)  # folded below 180 columns: the notes are in the open sidebar
        screen.query_one("#size", Select).value = "4K"
        await pilot.pause()
        screen.query_one("#model", Select).value = "gemini-3.1-flash-lite-image"
        await pilot.pause()
        screen.query_one("#temperature", Input).value = "3"
        await _settle(pilot)

    assert snap_compare(make_app(sync_demo_studio), terminal_size=(140, 45), run_before=run_before)


def test_snapshot_too_small(snap_compare: Any, sync_demo_studio: Any) -> None:
    assert snap_compare(make_app(sync_demo_studio), terminal_size=(70, 20), run_before=_settle)


def test_snapshot_help(snap_compare: Any, sync_demo_studio: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        await pilot.press("f1")
        await _settle(pilot)

    assert snap_compare(make_app(sync_demo_studio), terminal_size=(140, 45), run_before=run_before)


def test_snapshot_no_key(snap_compare: Any, zero_latency: None) -> None:
    from banana_studio.config import load_config
    from banana_studio.services import Studio

    studio = Studio.open(load_config(), project="nokey", demo=False)
    try:
        assert snap_compare(make_app(studio), terminal_size=(100, 30), run_before=_settle)
    finally:
        studio.store.close()


def test_snapshot_160x48_picture_first(snap_compare: Any, sync_demo_studio: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        await _generate(pilot, "a lighthouse at dusk, oil painting")

    assert snap_compare(make_app(sync_demo_studio), terminal_size=(160, 48), run_before=run_before)


def test_snapshot_80x24_tree_on(snap_compare: Any, sync_demo_studio: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        await _generate(pilot, "a red fox in the snow")
        await pilot.press("escape")  # to the tree: it takes the turn panel's place
        await _settle(pilot)

    assert snap_compare(make_app(sync_demo_studio), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_focus_mode(snap_compare: Any, sync_demo_studio: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await _settle(pilot)
        await _generate(pilot, "a red fox in the snow")
        await pilot.press("f6")
        await _settle(pilot)

    assert snap_compare(make_app(sync_demo_studio), terminal_size=(100, 30), run_before=run_before)
