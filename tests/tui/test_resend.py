"""Unchanged images are written to the terminal once (issue #6, target 5).

The headless Pilot driver writes nothing, so these tests render every frame Textual hands to
``App._display`` exactly as the real driver would (``CompositorUpdate.render_segments``) and count
the sixel pictures in it, with the cursor position each one is drawn at.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from textual.app import App, ComposeResult
from textual.screen import ModalScreen
from textual.widgets import Static

from banana_studio.tui import images as im
from banana_studio.tui.images import sixel as im_sixel

_SIXEL = re.compile(r"(?:\x1b\[(\d+);(\d+)H)?(\x1bP[0-9;]*q.*?\x1b\\)", re.S)


@pytest.fixture
def sixel_protocol() -> Any:
    im.select_image_protocol("sixel")
    try:
        yield
    finally:
        im.select_image_protocol("halfcell")  # what conftest chose for every other TUI test


def record_sixels(app: App[Any]) -> list[tuple[tuple[int, int], str]]:
    """Every sixel picture the app writes from now on: ((row, column), sixel string)."""
    from textual._compositor import CompositorUpdate

    written: list[tuple[tuple[int, int], str]] = []
    original = app._display

    def display(screen: Any, renderable: Any) -> None:
        if isinstance(renderable, CompositorUpdate):
            for m in _SIXEL.finditer(renderable.render_segments(app.console)):
                written.append(((int(m.group(1) or 0), int(m.group(2) or 0)), m.group(3)))
        original(screen, renderable)

    app._display = display  # type: ignore[method-assign]
    return written


async def test_a_streamed_generation_sends_each_image_once(sixel_protocol: None, h: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Thoughts streaming around the drafts, preview title changes, the turn detail replacing the log
    and the saved final image being shown again from its file: no picture is written twice at the
    same place."""
    import banana_studio.services.studio as studio_mod
    from banana_studio.tui.app import make_app
    from banana_studio.tui.images import ImagePreview

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.05)  # thoughts keep arriving after the drafts
    im.CACHE.clear()
    im_sixel._SIXEL_CACHE.clear()
    studio = h.open_demo_studio()
    try:
        app = make_app(studio)
        async with app.run_test(size=(160, 50)) as pilot:
            await h.settle(pilot)
            written = record_sixels(app)
            main = app.screen
            await h.send_prompt(pilot, main, "a banana-shaped lighthouse")
            preview = main.query_one("#preview", ImagePreview)
            await h.wait_until(pilot, lambda: preview.source is not None, what="the saved final image")
            await pilot.pause(0.3)
            turn = studio.store.get_turn(main.selected_id)
            n_drafts = len(turn.draft_images)
            assert n_drafts >= 1 and turn.final_images
    finally:
        await studio.aclose()
    again = [(where, len(s)) for (where, s), n in Counter(written).items() if n > 1]
    assert not again, f"unchanged pictures written again at the same place: {again}"
    # Not vacuous: the final image in the preview and the turn's thumbnail in the detail are always drawn
    # (a draft superseded before the next paint is rightly never drawn, so drafts are not counted).
    assert len(written) >= 2, written


class _Modal(ModalScreen[None]):
    def compose(self) -> ComposeResult:
        yield Static("modal")


class _PreviewApp(App[None]):
    CSS = """
    Screen { layers: base top; }
    ImagePreview { width: 60; height: 20; }
    #cover { layer: top; offset: 10 5; width: 20; height: 3; }
    """

    def compose(self) -> ComposeResult:
        yield im.ImagePreview(id="preview", protocol="sixel")
        yield Static("status", id="status")


async def test_repaints_that_need_the_picture_still_send_it(sixel_protocol: None, tmp_path: Path) -> None:
    """Skipping re-sends must not lose the picture: after a modal screen, a terminal resize or a
    widget drawn over the image, it is written again; layout passes and unrelated updates do not."""
    path = tmp_path / "img.png"
    Image.new("RGB", (320, 180), (30, 140, 220)).save(path)
    app = _PreviewApp()
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.pause(0.2)
        written = record_sixels(app)
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(path)
        await pilot.pause(0.3)
        assert len(written) == 1
        first = written[0]

        status = app.query_one("#status", Static)
        for i in range(5):  # unrelated updates and a layout pass: nothing re-sent
            status.update(f"status {i}")
            await pilot.pause()
        preview.refresh(layout=True)
        await pilot.pause(0.1)
        assert len(written) == 1

        await app.push_screen(_Modal())
        await pilot.pause(0.1)
        app.pop_screen()
        await pilot.pause(0.2)
        assert written[1:] and written[-1] == first, "the picture comes back after the modal"

        n = len(written)
        await pilot.resize_terminal(90, 30)
        await pilot.pause(0.3)
        assert len(written) > n, "a resized terminal gets the picture again"

        n = len(written)
        cover = Static("over the picture", id="cover")
        await app.screen.mount(cover)
        await pilot.pause(0.2)
        await cover.remove()
        await pilot.pause(0.2)
        assert len(written) > n and written[-1][1] == first[1], "the picture is re-drawn where a widget covered it"
        n = len(written)
        preview.refresh()
        await pilot.pause(0.2)
        assert len(written) == n


class _ScrollApp(App[None]):
    CSS = """
    VerticalScroll { height: 1fr; }
    ImagePreview { width: 40; height: 10; }
    #tall { height: 80; }
    """

    def compose(self) -> ComposeResult:
        from textual.containers import VerticalScroll

        with VerticalScroll():
            yield im.ImagePreview(id="preview", protocol="sixel")
            yield Static("tall", id="tall")


async def test_a_picture_that_left_its_place_is_sent_again(sixel_protocol: None, tmp_path: Path) -> None:
    """Scrolled out of view and back to the very same cells, or hidden behind the placeholder and
    shown again: other cells were drawn there meanwhile, so the picture is written again."""
    from textual.containers import VerticalScroll

    path = tmp_path / "img.png"
    Image.new("RGB", (320, 180), (220, 60, 90)).save(path)
    app = _ScrollApp()
    async with app.run_test(size=(60, 24)) as pilot:
        await pilot.pause(0.2)
        written = record_sixels(app)
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(path)
        await pilot.pause(0.3)
        assert len(written) == 1
        scroll = app.query_one(VerticalScroll)
        scroll.scroll_end(animate=False)
        await pilot.pause(0.2)
        scroll.scroll_home(animate=False)
        await pilot.pause(0.3)
        assert len(written) == 2 and written[1] == written[0]

        preview.set_placeholder("Generating…")
        await pilot.pause(0.2)
        assert await preview.show_path(path)  # the same decoded image, the same widget
        await pilot.pause(0.3)
        assert len(written) == 3 and written[2] == written[0]
