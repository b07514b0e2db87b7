"""Pilot tests of templates in the studio: pick → the run modal (slot values, grid, count, cost) → the
live X/Y grid; a recorded run's grid from the gallery; save a turn as a template; submit to the Batch API."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from textual.widgets import Input, Static

from banana_studio.services.templates import RunOptions, TemplateLibrary, build_plan, run_interactive
from banana_studio.store import template_runs as runs
from banana_studio.tui.app import make_app
from banana_studio.tui.screens.confirm import TextPromptScreen
from banana_studio.tui.screens.gallery import GalleryScreen
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.screens.matrix_grid import MatrixCell, MatrixGridScreen
from banana_studio.tui.screens.template_picker import TemplatePickerScreen
from banana_studio.tui.screens.template_run import TemplateRunScreen
from banana_studio.tui.widgets.prompt import PromptArea

SIZE = (140, 45)
TEMPLATE = ('description = "zoo \\u001b[31m red"\nprompt = "a {subject} in {place}"\n'
            '[slots]\nsubject = ["fox", "owl"]\nplace = "snow"\n[settings]\nsize = "1K"\n')


def library() -> Path:
    folder = Path(os.environ["BANANA_STUDIO_CONFIG"]).parent / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def main_of(app: Any) -> MainScreen:
    return next(s for s in app.screen_stack if isinstance(s, MainScreen))


def text_of(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_run_template_modal_shows_grid_and_cost_then_the_live_grid(demo_studio: Any, h: Any) -> None:
    (library() / "zoo.toml").write_text(TEMPLATE, encoding="utf-8")
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.settle(pilot)
        await pilot.press("f7")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TemplatePickerScreen), what="template picker")
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TemplateRunScreen), what="run modal")
        modal = app.screen
        assert isinstance(modal, TemplateRunScreen)
        await h.wait_until(pilot, lambda: modal.plan is not None and modal.plan.count == 2, what="first plan")
        assert "2 requests (2 subject)" in text_of(modal, "#tpl-summary")
        assert "Batch lane $" in text_of(modal, "#tpl-summary")
        modal.query_one("#axis-aspects", Input).value = "1:1, 16:9"
        await h.wait_until(pilot, lambda: modal.plan is not None and modal.plan.count == 4, what="4-cell plan")
        summary = text_of(modal, "#tpl-summary")
        assert "4 requests (2 subject × 2 aspect)" in summary and f"${modal.plan.total:.3f}" in summary
        assert f"${modal.plan.batch_total:.3f}" in summary and modal.plan.batch_total < modal.plan.total
        grid = text_of(modal, "#tpl-grid")
        assert "aspect \\ subject" in grid and "fox" in grid and "16:9" in grid
        modal.query_one("#axis-aspects", Input).value = "5:1"
        await h.wait_until(pilot, lambda: modal.plan is not None and bool(modal.plan.problems), what="a problem")
        assert "5:1" in text_of(modal, "#tpl-problems")
        await pilot.press("f5")  # refused while there are problems
        assert isinstance(app.screen, TemplateRunScreen)
        modal.query_one("#axis-aspects", Input).value = "1:1,16:9"
        await h.wait_until(pilot, lambda: modal.plan is not None and modal.plan.count == 4 and not modal.plan.problems,
                           what="fixed plan")
        await pilot.press("f5")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MatrixGridScreen), what="live grid")
        grid_screen = app.screen
        assert isinstance(grid_screen, MatrixGridScreen)
        await h.wait_until(pilot, lambda: len(grid_screen.cells) == 4 and all(
            c.has_class("-done") for c in grid_screen.cells), timeout=60, what="4 cells done")
        heads = [str(s.render()) for s in grid_screen.query(".matrix-colhead")]
        rows = [str(s.render()) for s in grid_screen.query(".matrix-row .matrix-rowhead")]
        assert heads == ["fox", "owl"] and rows == ["1:1", "16:9"]
        corner = grid_screen.query_one(".matrix-corner")
        assert "aspect ╲ subject" in str(corner.render()) and corner.content_region.height == 1  # visible
        run = (await asyncio.to_thread(runs.list_runs, demo_studio.store))[0]
        g = await asyncio.to_thread(runs.get_run, demo_studio.store, run.id)
        # the cell under "owl" / "16:9" is the owl in 16:9
        await pilot.press("right", "down")
        focused = grid_screen.focused
        assert isinstance(focused, MatrixCell)
        cell = g.cells[focused.index]
        assert cell.slots["subject"] == "owl" and cell.settings["aspect_ratio"] == "16:9"
        turn = await asyncio.to_thread(demo_studio.store.get_turn, cell.turn_id)
        assert turn.prompt == "a owl in snow" and turn.settings.aspect_ratio == "16:9" and turn.kind == "template"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back to main")
        await h.wait_until(pilot, lambda: main.selected_id == cell.turn_id, what="the picked turn selected")
        assert app.session.demo_cost >= sum(t.cost for t in grid_screen.saved) > 0  # counted, apart (demo)


async def test_a_recorded_run_opens_as_a_grid_from_the_gallery(demo_studio: Any, h: Any) -> None:
    (library() / "zoo.toml").write_text(TEMPLATE, encoding="utf-8")
    tpl = TemplateLibrary.for_store(demo_studio.store).get("zoo")
    plan = build_plan(demo_studio.store, tpl, RunOptions({"place": ["snow", "sand"]}), demo_studio.config.defaults)
    async for _ in run_interactive(demo_studio, plan):
        pass
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        await h.settle(pilot)
        await pilot.press("ctrl+g")
        await h.wait_until(pilot, lambda: isinstance(app.screen, GalleryScreen), what="gallery")
        gallery = app.screen
        await h.wait_until(pilot, lambda: gallery.focused_tile is not None, what="a focused tile")
        await pilot.press("x")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MatrixGridScreen), what="grid from the gallery")
        grid = app.screen
        await h.wait_until(pilot, lambda: len(grid.cells) == 4 and all(c.has_class("-done") for c in grid.cells),
                           what="cells shown")
        assert [str(s.render()) for s in grid.query(".matrix-colhead")] == ["fox", "owl"]
        assert [str(s.render()) for s in grid.query(".matrix-row .matrix-rowhead")] == ["snow", "sand"]
        assert "\x1b" not in text_of(grid, "#matrix-title")
        await pilot.press("escape")
        await h.wait_until(pilot, lambda: isinstance(app.screen, GalleryScreen), what="back to the gallery")
        await pilot.press("x")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MatrixGridScreen), what="the grid again")
        grid = app.screen
        await h.wait_until(pilot, lambda: len(grid.cells) == 4 and all(c.turn_id for c in grid.cells),
                           what="cells with turns")
        await pilot.press("down")
        chosen = grid.focused
        assert isinstance(chosen, MatrixCell) and chosen.turn_id is not None
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="gallery closed on a pick")
        await h.wait_until(pilot, lambda: main_of(app).selected_id == chosen.turn_id, what="the cell's turn")


async def test_save_a_turn_as_template_and_submit_a_run_to_the_batch_lane(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a lighthouse at dusk")
        main.action_save_as_template()
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="name prompt")
        app.screen.query_one(Input).value = "../bad"
        await pilot.press("enter")
        assert isinstance(app.screen, TextPromptScreen)  # refused, the dialog stays
        app.screen.query_one(Input).value = "light"
        await pilot.press("enter")
        path = library() / "light.toml"
        await h.wait_until(pilot, path.exists, what="the template file")
        text = path.read_text(encoding="utf-8")
        assert 'prompt = "a lighthouse at dusk"' in text
        path.write_text(text.replace("a lighthouse at dusk", "a lighthouse at {time}").replace(
            "\n[slots]\n", '\n[slots]\ntime = ["dusk", "dawn"]\n'), encoding="utf-8")
        main.query_one(PromptArea).blur()
        await pilot.press("f7")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TemplatePickerScreen), what="picker")
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TemplateRunScreen), what="run modal")
        modal = app.screen
        await h.wait_until(pilot, lambda: modal.plan is not None and modal.plan.count == 2, what="plan")
        await pilot.press("f8")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="submitted")
        await h.wait_until(pilot, lambda: bool(runs.list_runs(demo_studio.store)), what="the run recorded")
        run = runs.get_run(demo_studio.store, runs.list_runs(demo_studio.store)[0].id)
        assert run.lane == "batch" and run.name == "light"
        await h.wait_until(pilot, lambda: all(c.batch_job for c in
                                              runs.get_run(demo_studio.store, run.id).cells), what="jobs saved")


async def test_the_modal_reads_a_templates_own_value_file_next_to_it(demo_studio: Any, h: Any) -> None:
    (library() / "lights.txt").write_text("dawn\n# not this\ndusk\nnoon\n", encoding="utf-8")
    (library() / "lit.toml").write_text('prompt = "a barn at {light}"\n[slots]\nlight = "@lights.txt"\n',
                                        encoding="utf-8")
    tpl = TemplateLibrary.for_store(demo_studio.store).get("lit")
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        await h.settle(pilot)
        modal = TemplateRunScreen(demo_studio, tpl, demo_studio.config.defaults)
        app.push_screen(modal)
        await h.wait_until(pilot, lambda: modal.plan is not None, what="plan")
        assert modal.query_one("#slot-light", Input).value == "@lights.txt"
        assert [r.prompt for r in modal.plan.requests] == ["a barn at dawn", "a barn at dusk", "a barn at noon"]
        modal.query_one("#slot-light", Input).value = "@nowhere.txt"
        await h.wait_until(pilot, lambda: modal.plan is None, what="a missing file refused")
        assert "nowhere.txt does not exist" in text_of(modal, "#tpl-problems")
        assert modal.query_one("#tpl-send").disabled
        await pilot.press("escape")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="closed")


async def test_edit_template_keeps_only_an_edit_that_reads(demo_studio: Any, h: Any, monkeypatch: Any) -> None:
    from banana_studio.tui import platform

    broken = library() / "broken.toml"
    broken.write_text('prompt = "a {x}\n', encoding="utf-8")
    edits: list[tuple[str, str]] = []
    answers = iter(['prompt = [\n', 'prompt = "a {x}"\n[slots]\nx = "cat"\n'])

    def fake_editor(app: Any, text: str, *, suffix: str = ".txt", what: str = "") -> Any:
        edits.append((text, suffix))
        return platform.Edited(next(answers))

    monkeypatch.setattr(platform, "edit_text", fake_editor)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.settle(pilot)
        for attempt in range(2):
            main.action_edit_template()
            await h.wait_until(pilot, lambda: isinstance(app.screen, TemplatePickerScreen), what="picker")
            await pilot.press("enter")  # the broken one can be picked to edit it
            await h.wait_until(pilot, lambda n=attempt: len(edits) == n + 1, what="the editor")
            await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back")
        assert edits[0] == ('prompt = "a {x}\n', ".toml")
        await h.wait_until(pilot, lambda: any("Saved" in n.message for n in app._notifications), what="saved")
        assert any("line 1" in n.message and "not changed" in n.message for n in app._notifications)
        assert broken.read_text(encoding="utf-8") == 'prompt = "a {x}"\n[slots]\nx = "cat"\n'
