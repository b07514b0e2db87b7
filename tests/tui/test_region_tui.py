"""Pilot tests of region edits in the studio: mark (keys and mouse), send, change map, output switch."""

from __future__ import annotations

from typing import Any

from textual.widgets import Input, Static

from banana_studio.domain.region import region_of
from banana_studio.tui.app import make_app
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.screens.compare import CompareScreen
from banana_studio.tui.screens.confirm import TextPromptScreen
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.screens.viewer import ViewerScreen
from banana_studio.tui.widgets.region_overlay import RegionCanvas
from banana_studio.tui.widgets.sidebar import SettingsSidebar
from banana_studio.tui.widgets.turn_detail import TurnDetail

SIZE = (140, 45)


def main_of(app: Any) -> MainScreen:
    for screen in app.screen_stack:
        if isinstance(screen, MainScreen):
            return screen
    raise AssertionError("no main screen")


async def open_region_mode(pilot: Any, app: Any, h: Any) -> tuple[ViewerScreen, RegionCanvas]:
    main = main_of(app)
    main.set_focus(None)
    await pilot.press("r")
    await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen) and bool(app.screen.query(RegionCanvas)),
                       what="the viewer in region mode")
    viewer = app.screen
    assert isinstance(viewer, ViewerScreen)
    canvas = viewer.query_one(RegionCanvas)
    await h.wait_until(pilot, lambda: canvas.size.width > 0, what="the canvas laid out")
    return viewer, canvas


async def test_region_edit_with_keys_from_the_main_screen(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        viewer, canvas = await open_region_mode(pilot, app, h)
        assert canvas.current is not None and not canvas.boxes
        await pilot.press("shift+right", "shift+right", "left", "enter")  # resize, move, add
        await pilot.press("enter")  # a second rectangle beside the first
        assert len(canvas.boxes) == 2
        first = canvas.boxes[0]
        assert abs(first.w - (1 / 3 + 2 / 32)) < 1e-6 and abs(first.x - (1 / 3 - 1 / 32)) < 1e-6
        shot = app.export_screenshot()
        assert "┌" in shot and "┘" in shot  # the overlay is drawn in the terminal cells
        assert "2 rectangles" in str(viewer.query_one("#viewer-info", Static).render())
        await pilot.press("e")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="the edit prompt")
        app.screen.query_one(Input).value = "a red boat"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the main screen")
        await h.wait_until(pilot, lambda: main.generating or demo_studio.store.tree_index()[-1].id == 2,
                           what="the edit to start")
        await h.wait_generation(pilot, main)
        edit = demo_studio.store.get_turn(2)
        assert edit.kind == "region" and edit.parent_id == 1 and edit.prompt == "a red boat"
        spec = region_of(edit.settings)
        assert len(spec.boxes) == 2 and spec.protect
        assert any(i.kind == "model" for i in edit.images)  # the untouched output is kept
        await h.wait_until(pilot, lambda: "Region" in app.export_screenshot(), what="the region in the detail")
        detail = main.query_one(TurnDetail)
        assert "2 rectangles" in str(detail.query_one("#detail-meta", Static).render())
        sidebar = main.query_one(SettingsSidebar)
        assert not sidebar.settings.region  # the next plain prompt is no region edit ...
        await h.wait_until(pilot, lambda: main.selected_id == 2 and main.shown_turn is not None
                           and main.shown_turn.id == 2, what="the edit selected")
        main.set_focus(None)
        await pilot.press("ctrl+f")  # ... but fork with changed settings replays the region
        await h.wait_until(pilot, lambda: bool(sidebar.settings.region), what="the region in the fork")
        await h.send_prompt(pilot, main, "a blue boat")
        fork = demo_studio.store.get_turn(3)
        assert fork.parent_id == 1 and region_of(fork.settings).boxes == spec.boxes
        assert any(i.kind == "model" for i in fork.images)


async def test_region_drawn_with_the_mouse_and_esc_leaves(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        await h.send_prompt(pilot, main_of(app), "a harbour at dawn")
        viewer, canvas = await open_region_mode(pilot, app, h)
        ox, oy, pw, ph = canvas.geometry()
        await pilot.mouse_down(canvas, offset=(ox + 2, oy + 1))
        await pilot.hover(canvas, offset=(ox + pw // 2, oy + ph // 4))
        await pilot.mouse_up(canvas, offset=(ox + pw // 2, oy + ph // 4))
        await h.wait_until(pilot, lambda: len(canvas.boxes) == 1, what="the dragged rectangle")
        box = canvas.boxes[0]
        assert abs(box.x - 2 / pw) < 0.02 and abs(box.right - (pw // 2 + 1) / pw) < 0.02
        assert 0.3 < box.h < 0.7
        await pilot.press("escape")  # leaves region mode, stays in the viewer
        await h.wait_until(pilot, lambda: not viewer.query(RegionCanvas), what="region mode to end")
        assert app.screen is viewer and viewer.preview.display


async def test_change_map_and_output_switch_in_the_viewer_and_compare(demo_studio: Any, h: Any) -> None:
    from banana_studio.domain.region import Box, RegionSpec
    from banana_studio.services import GenerateRequest

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        settings = demo_studio.store.get_turn(1).settings.copy(
            region=RegionSpec((Box(0.1, 0.1, 0.3, 0.3),)).to_json())
        assert main.start_region_edit(GenerateRequest("a kite", parent_id=1, settings=settings, kind="region"),
                                      "Region edit of #1")
        await h.wait_until(pilot, lambda: main.generating, what="the edit to start")
        await h.wait_generation(pilot, main)
        edit = demo_studio.store.get_turn(2)
        store = demo_studio.store
        app.push_screen(ViewerScreen([store.abs_path(edit.final_images[0].path)], 0))
        await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen), what="the viewer")
        viewer = app.screen
        await pilot.press("d")
        await h.wait_until(pilot, lambda: viewer.change_map_on, what="the change map")
        info = str(viewer.query_one("#viewer-info", Static).render())
        assert "inside the region" in info and "outside" in info and "#2 vs #1" in info
        assert "0.0% outside" in info  # the local model painted inside only, and protect is on anyway
        await pilot.press("d")
        await h.wait_until(pilot, lambda: not viewer.change_map_on, what="the picture again")
        shown = viewer.current
        await pilot.press("o")
        await h.wait_until(pilot, lambda: viewer.current != shown, what="the model output")
        assert store.get_turn(2).final_images[0].path.endswith(".jpg")  # the untouched output is shown now
        await pilot.press("o")
        await h.wait_until(pilot, lambda: viewer.current == shown, what="the protected picture")
        await pilot.press("escape")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
        app.push_screen(CompareScreen(demo_studio, 1, 2))
        await h.wait_until(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.turns is not None,
                           what="the compare screen")
        compare = app.screen
        await pilot.press("d")
        await h.wait_until(pilot, lambda: bool(compare.change_caption), what="the compare change map")
        assert "inside the region" in compare.change_caption
        preview = compare.query_one("#compare-image-b", ImagePreview)
        # the picture file made way for the heat map (shown from memory: no file of the project)
        await h.wait_until(pilot, lambda: preview.source is None and preview.source_size is not None,
                           what="the heat map shown")
        await pilot.press("d")
        await h.wait_until(pilot, lambda: not compare.change_caption and preview.source is not None,
                           what="the picture again")


async def test_outpaint_from_the_viewer(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        main.set_focus(None)
        await pilot.press("v")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen), what="the viewer")
        await pilot.press("x")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="the outpaint prompt")
        dialog = app.screen
        dialog.query_one(Input).value = "16:9:sideways a beach"
        await pilot.press("enter")  # a bad side: refused with the reason in the dialog (the text is kept)
        await h.wait_until(pilot, lambda: "sideways" in str(dialog.query_one("#text-error", Static).render()),
                           what="the reason shown in the dialog")
        assert app.screen is dialog and dialog.query_one(Input).value == "16:9:sideways a beach"
        dialog.query_one(Input).value = "16:9:top a beach"  # a square grows sideways to 16:9: not on top
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: "adds width" in str(dialog.query_one("#text-error", Static).render()),
                           what="the layout's reason shown in the dialog")
        assert app.screen is dialog
        assert len(demo_studio.store.tree_index()) == 1
        dialog.query_one(Input).value = "16:9:left a beach"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back on the main screen")
        await h.wait_until(pilot, lambda: len(demo_studio.store.tree_index()) == 2, what="the outpaint turn")
        await h.wait_generation(pilot, main)
        edit = demo_studio.store.get_turn(2)
        assert edit.kind == "outpaint" and edit.settings.aspect_ratio == "16:9" and edit.prompt == "a beach"
        assert edit.final_images[0].width > edit.final_images[0].height
        assert any(i.kind == "model" for i in edit.images)


async def test_change_map_of_a_plain_edit_from_the_main_screen_viewer(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        await h.send_prompt(pilot, main, "now at night")  # continues from #1: a plain edit
        main.set_focus(None)
        await pilot.press("v")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen), what="the viewer")
        viewer = app.screen
        await pilot.press("d")
        await h.wait_until(pilot, lambda: viewer.change_map_on, what="the change map")
        info = str(viewer.query_one("#viewer-info", Static).render())
        assert "#2 vs #1" in info and "of the image" in info and "inside" not in info


async def test_region_mode_keys_are_readable_at_80_columns(demo_studio: Any, h: Any) -> None:
    """At 80×24 the one-line info cut the help after "drag with the mouse, or", and the footer had no
    room for "e": nothing on screen said how to write the edit."""
    app = make_app(demo_studio)
    async with app.run_test(size=(80, 24)) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        viewer, _canvas = await open_region_mode(pilot, app, h)
        info = viewer.query_one("#viewer-info", Static)
        await h.wait_until(pilot, lambda: info.size.height > 1, timeout=10, what="the region help wrapped")
        await pilot.pause()
        text = _screen_words(app)
        assert "e: write the edit" in text and "esc leaves" in text, text
        await pilot.press("escape")  # region mode left: the info is one line again
        await h.wait_until(pilot, lambda: info.size.height == 1, timeout=10, what="the info back to one line")


def _screen_words(app: Any) -> str:
    """The words on screen, in reading order (line breaks and padding ignored)."""
    update = app.screen._compositor.render_full_update()
    rows = ["".join(strip.text for strip in row) if not hasattr(row, "text") else row.text for row in update.strips]
    return " ".join(" ".join(rows).split())


async def test_outpaint_typing_adds_to_the_suggested_ratio(demo_studio: Any, h: Any) -> None:
    """The dialog offers "16:9:center " to be continued: typing used to replace it (select on focus),
    so "a beach" was sent as the ratio and refused."""
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        main.set_focus(None)
        await pilot.press("v")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen), what="the viewer")
        await pilot.press("x")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="the outpaint prompt")
        await pilot.press(*"a beach", "enter")
        await h.wait_until(pilot, lambda: len(demo_studio.store.tree_index()) == 2, what="the outpaint turn")
        await h.wait_generation(pilot, main)
        edit = demo_studio.store.get_turn(2)
        assert edit.kind == "outpaint" and edit.prompt == "a beach" and edit.settings.aspect_ratio == "16:9"


async def _terminal_drag(pilot: Any, app: Any, start: tuple[int, int], end: tuple[int, int]) -> None:
    """A mouse drag as the terminal driver delivers it: events that carry a position but no widget (Pilot's
    own mouse_down names the widget, which hid that a selector-bound handler never ran in a terminal)."""
    from textual import events

    for cls, (x, y), button in ((events.MouseDown, start, 1), (events.MouseMove, end, 1), (events.MouseUp, end, 1)):
        app.mouse_position = (x, y)
        app.screen._forward_event(cls(None, x, y, 0, 0, button, False, False, False, screen_x=x, screen_y=y))
        await pilot.pause()


async def test_region_dragged_on_the_main_preview(demo_studio: Any, h: Any) -> None:
    """A rectangle dragged with the mouse over the main screen's picture opens region mode with it."""
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        preview = main.query_one("#preview", ImagePreview)
        await h.wait_until(pilot, lambda: preview.source is not None and preview.image_widget is not None
                           and preview.image_widget.region.width > 8, what="the picture on the preview")
        pic = preview.image_widget.region
        start = (pic.width // 4, pic.height // 4)
        end = (pic.width // 2 - 1, pic.height // 2 - 1)
        await _terminal_drag(pilot, app, (pic.x + start[0], pic.y + start[1]), (pic.x + end[0], pic.y + end[1]))
        await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen) and bool(app.screen.query(RegionCanvas)),
                           what="the viewer in region mode")
        canvas = app.screen.query_one(RegionCanvas)
        assert len(canvas.boxes) == 1 and canvas.current is None
        box = canvas.boxes[0]
        assert abs(box.x - start[0] / pic.width) < 1e-6 and abs(box.right - (end[0] + 1) / pic.width) < 1e-6
        assert abs(box.y - start[1] / pic.height) < 1e-6 and abs(box.bottom - (end[1] + 1) / pic.height) < 1e-6
        await pilot.press("e")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="the edit prompt")
        app.screen.query_one(Input).value = "a red boat"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: len(demo_studio.store.tree_index()) == 2, what="the region edit")
        await h.wait_generation(pilot, main)
        edit = demo_studio.store.get_turn(2)
        stored = region_of(edit.settings).boxes
        assert edit.kind == "region" and len(stored) == 1 and stored[0].to_json() == box.to_json()


async def test_a_click_on_the_main_preview_is_no_region(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a harbour at dawn")
        preview = main.query_one("#preview", ImagePreview)
        await h.wait_until(pilot, lambda: preview.source is not None and preview.image_widget is not None,
                           what="the picture on the preview")
        await pilot.click(preview.image_widget, offset=(3, 3))
        assert app.screen is main
