"""What stays on a sixel terminal's screen, not how many pictures were sent (issue 10).

Every frame the app writes is fed, byte for byte as the real driver would write it, into a small
terminal model (``vscreen.py``) that knows which cells still show a picture and which were
overwritten by text.  A repaint that skips re-sending an unchanged picture must not let Textual paint
blank cells over it: the bug of fcf4907 left one band of every preview, card and viewer.
The real-terminal pixel checks (xterm under Xvfb) are in tests/realterm/.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from textual.app import App, ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static
from vscreen import VirtualScreen, attach

from banana_studio.tui import images as im
from banana_studio.tui.images import sixel as im_sixel


@pytest.fixture
def sixel_protocol() -> Any:
    im.select_image_protocol("sixel")
    try:
        yield
    finally:
        im.select_image_protocol("halfcell")  # what conftest chose for every other TUI test


def new_screen(app: App[Any]) -> VirtualScreen:
    cell = im.get_cell_size()
    screen = VirtualScreen(app.size.width, app.size.height, (cell.width, cell.height))
    attach(app, screen)
    return screen


def pictures(app: App[Any]) -> list[tuple[Any, Any]]:
    """(widget, visible screen region) of every sixel picture widget on the active screen."""
    found = []
    for widget in app.screen.query(im.StableSixelImpl):
        try:
            region = app.screen.find_widget(widget).visible_region
        except Exception:
            continue
        if region.area and widget.image is not None:
            found.append((widget, region))
    return found


def share(screen: VirtualScreen, region: Any) -> float:
    return screen.picture_share(region.x, region.y, region.width, region.height)


def assert_all_shown(app: App[Any], screen: VirtualScreen, at_least: int = 1, what: str = "") -> None:
    shown = pictures(app)
    assert len(shown) >= at_least, f"{what}: expected {at_least}+ pictures, found {len(shown)}"
    for widget, region in shown:
        got = share(screen, region)
        assert got == 1.0, (f"{what}: only {got:.0%} of the picture of {widget.parent!r} at {region} is "
                            f"still on the terminal")


async def wait_all_shown(app: App[Any], screen: VirtualScreen, at_least: int = 1, what: str = "",
                         timeout: float = 30.0) -> None:
    """:func:`assert_all_shown` once the pictures have been drawn (decoding and sixel encoding run in
    threads: on a busy machine they land later).  A picture cut to a strip stays cut: the deadline is
    for a loaded 2-core box, not a measurement, and the last failure is what the test reports."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert_all_shown(app, screen, at_least, what)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


class _Modal(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        yield Static("modal")


class _PreviewApp(App[None]):
    CSS = """
    ImagePreview { width: 60; height: 20; }
    """

    def compose(self) -> ComposeResult:
        yield im.ImagePreview(id="preview", protocol="sixel")
        yield Static("status", id="status")


async def test_repaints_that_skip_the_picture_leave_it_on_screen(sixel_protocol: None, tmp_path: Path) -> None:
    """Layout passes, a refresh of the preview itself, unrelated updates, a modal, a resize: after
    each, every cell of the picture still shows it."""
    path = tmp_path / "img.png"
    Image.new("RGB", (320, 180), (30, 140, 220)).save(path)
    app = _PreviewApp()
    async with app.run_test(size=(80, 30)) as pilot:
        screen = new_screen(app)
        await pilot.pause(0.1)
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(path)
        await pilot.pause(0.3)
        await wait_all_shown(app, screen, what="first shown")
        skips = im.STATS.sixel_skips

        preview.refresh(layout=True)
        await pilot.pause(0.1)
        preview.refresh()
        await pilot.pause(0.1)
        for i in range(3):
            app.query_one("#status", Static).update(f"status {i}")
            await pilot.pause()
        assert im.STATS.sixel_skips > skips, "the repaints above went through the no-resend path"
        await wait_all_shown(app, screen, what="after repaints that re-send nothing")

        await app.push_screen(_Modal())
        await pilot.pause(0.1)
        app.pop_screen()
        await pilot.pause(0.3)
        preview.refresh()
        await pilot.pause(0.1)
        await wait_all_shown(app, screen, what="after a modal closed")

        screen.resize(90, 32)  # the window first, then the app hears of it and redraws
        await pilot.resize_terminal(90, 32)
        await pilot.pause(0.4)
        preview.refresh()
        await pilot.pause(0.1)
        await wait_all_shown(app, screen, what="after a resize")


async def test_studio_previews_cards_and_viewer_stay_whole(sixel_protocol: None, h: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The real studio after a generation: the main preview and the turn's thumbnails, a gallery card
    and the full-screen viewer each keep the whole picture on screen."""
    import banana_studio.services.studio as studio_mod
    from banana_studio.tui.app import make_app

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    im.CACHE.clear()
    im_sixel._SIXEL_CACHE.clear()
    studio = h.open_demo_studio()
    try:
        app = make_app(studio)
        async with app.run_test(size=(140, 40)) as pilot:
            screen = new_screen(app)
            await h.settle(pilot)
            main = app.screen
            await h.send_prompt(pilot, main, "a lighthouse at dusk")
            await h.settle(pilot)
            await pilot.pause(0.3)
            preview = main.query_one("#preview", im.ImagePreview)
            assert preview.source is not None
            await wait_all_shown(app, screen, at_least=2, what="main screen (preview + turn thumbnails)")

            await pilot.press("ctrl+g")
            await h.settle(pilot)
            await pilot.pause(0.3)
            assert app.screen is not main
            await wait_all_shown(app, screen, what="gallery")

            await pilot.press("enter")
            await h.settle(pilot)
            await pilot.pause(0.3)
            await wait_all_shown(app, screen, what="viewer")
            await pilot.press("escape")
            await h.settle(pilot)
            await pilot.press("escape")
            await h.settle(pilot)
            await pilot.pause(0.3)
            assert app.screen is main
            await wait_all_shown(app, screen, at_least=2, what="main screen after the gallery closed")
    finally:
        await studio.aclose()
