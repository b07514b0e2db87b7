"""Pilot tests for issue 18: the DEMO badge, "continue from the image alone" and the cross-target
refusal in the studio, and demo mode asking before it adds turns to a real project."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.widgets import Static

from banana_studio.tui.app import make_app
from banana_studio.tui.screens.confirm import ConfirmScreen
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.ref_tray import RefTray
from banana_studio.tui.widgets.turn_detail import TurnDetail

SIZE = (140, 45)


def tree_lines(tree: BranchTree) -> list[str]:
    return [tree.render_line(y).text for y in range(tree.node_count)]


async def _real_turn(studio: Any, h: Any) -> int:
    from banana_studio.domain.content import Content, Part, user_content
    from banana_studio.domain.settings import GenerationSettings

    store = studio.store
    t = await asyncio.to_thread(store.create_turn, None, "a real lighthouse", GenerationSettings(), [],
                                user_content("a real lighthouse"), "generate", "gemini-api")
    content = Content("model", [Part(mime_type="image/png", data=h.png_bytes(), thought_signature=b"\x0agoogle")])
    await asyncio.to_thread(store.complete_turn, t.id, model_content=content, status="done", cost=0.134,
                            model_version="gemini-3-pro-image-preview")
    return t.id


async def test_tree_shows_a_demo_badge_only_on_demo_turns(demo_studio: Any, h: Any) -> None:
    real_id = await _real_turn(demo_studio, h)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.settle(pilot)
        main.parent_override = -1  # a new root, beside the real turn
        await h.send_prompt(pilot, main, "a demo lighthouse")
        tree = main.query_one(BranchTree)
        await h.wait_until(pilot, lambda: tree.node_count == 2, what="two turns")
        if tree.size.width == 0:  # the layout hides the tree at this width by default: show it
            main.action_toggle_tree()
        # the tree fetches its display rows lazily: wait until both are drawn
        await h.wait_until(pilot, lambda: sum(f"#{i} " in "".join(tree_lines(tree))
                                              for i in (real_id, main.selected_id)) == 2, what="both tree rows")
        lines = tree_lines(tree)
        real_line = next((line for line in lines if f"#{real_id} " in line), "")
        demo_id = main.selected_id
        demo_line = next((line for line in lines if f"#{demo_id} " in line), "")
        assert real_line and demo_line, lines
        assert "DEMO" in demo_line and "DEMO" not in real_line
        tree.styles.width = 60  # wide enough for the cost column
        await h.settle(pilot)
        lines = tree_lines(tree)
        assert "$0.13" in lines[0] and "$" not in lines[1]  # simulated costs are not money
        detail = main.query_one(TurnDetail)
        await h.wait_until(pilot, lambda: detail.turn_id is not None and detail.turn_id != real_id,
                           what="the demo turn's detail")
        head = str(detail.query_one("#detail-head", Static).render())
        meta = str(detail.query_one("#detail-meta", Static).render())
        assert "DEMO" in head and "local demo server" in meta and "simulated" in meta


async def test_cross_target_send_is_refused_and_offers_the_image_alone(demo_studio: Any, h: Any) -> None:
    real_id = await _real_turn(demo_studio, h)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.settle(pilot)
        assert main.selected_id == real_id
        prompt = main.query_one(PromptArea)
        prompt.focus()
        prompt.load_text("now at night")
        await pilot.press("ctrl+j")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer")
        offer = str(app.screen.query_one(".modal-message", Static).render())
        assert "made with Gemini API" in offer and "continue from the image alone" in offer
        assert demo_studio.demo_server is None  # nothing was sent: the local server never even started
        await pilot.press("y")
        await h.settle(pilot)
        tray = main.query_one(RefTray)
        assert len(tray.paths) == 1 and tray.paths[0] == demo_studio.store.abs_path(
            demo_studio.store.get_turn(real_id).final_images[0].path)
        assert "image alone" in str(prompt.border_title) and "not carried over" in str(prompt.border_title)
        assert prompt.text == "now at night"  # given back for the new send
        await pilot.press("ctrl+j")
        await h.wait_generation(pilot, main)
        nodes = await asyncio.to_thread(demo_studio.store.tree_index)
        new = max(nodes, key=lambda n: n.id)
        assert new.parent_id is None and new.kind == "from_image" and new.target == "local"
        assert new.status == "done"


async def test_cross_target_reroll_offers_the_image_alone_with_its_prompt(demo_studio: Any, h: Any) -> None:
    from banana_studio.domain.content import Content, Part, user_content
    from banana_studio.domain.settings import GenerationSettings

    real_id = await _real_turn(demo_studio, h)
    store = demo_studio.store
    child = await asyncio.to_thread(store.create_turn, real_id, "the kite at dusk", GenerationSettings(), [],
                                    user_content("the kite at dusk"), "edit", "gemini-api")
    content = Content("model", [Part(mime_type="image/png", data=h.png_bytes(), thought_signature=b"\x0agoogle")])
    await asyncio.to_thread(store.complete_turn, child.id, model_content=content, status="done", cost=0.134)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.settle(pilot)
        assert main.selected_id == child.id
        main.query_one(BranchTree).focus()
        await pilot.press("ctrl+r")  # same prompt, same parent (#real_id, made with the Gemini API)
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer")
        assert demo_studio.demo_server is None  # nothing was sent
        await pilot.press("y")
        await h.settle(pilot)
        prompt = main.query_one(PromptArea)
        assert main.query_one(RefTray).paths == [store.abs_path(store.get_turn(real_id).final_images[0].path)]
        assert prompt.text == "the kite at dusk" and "image alone" in str(prompt.border_title)


async def test_cross_target_variations_offer_the_image_alone_before_the_grid(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.confirm import TextPromptScreen

    real_id = await _real_turn(demo_studio, h)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.settle(pilot)
        prompt = main.query_one(PromptArea)
        prompt.focus()
        prompt.load_text("starry sky")
        await pilot.press("f5")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="how many")
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer")
        offer = str(app.screen.query_one(".modal-message", Static).render())
        assert "made with Gemini API" in offer and "continue from the image alone" in offer
        assert demo_studio.demo_server is None  # no grid of refusals, nothing sent
        await pilot.press("y")
        await h.settle(pilot)
        assert main.query_one(RefTray).paths == [demo_studio.store.abs_path(
            demo_studio.store.get_turn(real_id).final_images[0].path)]
        assert prompt.text == "starry sky"
        assert [n.id for n in await asyncio.to_thread(demo_studio.store.tree_index)] == [real_id]


async def test_history_refused_by_the_server_offers_the_image_alone(demo_studio: Any, h: Any) -> None:
    """Same target, but the server does not know the history's signatures (another key's project, a
    reinstalled demo server): not knowable before sending, so the real 400 comes back, with the offer."""
    from banana_studio.domain.content import Content, Part, user_content
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.domain.target import LOCAL_SIGNATURE_MAGIC

    store = demo_studio.store
    t = await asyncio.to_thread(store.create_turn, None, "an old demo kite", GenerationSettings(), [],
                                user_content("an old demo kite"), "generate", "local")
    foreign = LOCAL_SIGNATURE_MAGIC + b"1 made by another secret"
    content = Content("model", [Part(mime_type="image/png", data=h.png_bytes(), thought_signature=foreign)])
    await asyncio.to_thread(store.complete_turn, t.id, model_content=content, status="done", cost=0.134)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.settle(pilot)
        assert main.selected_id == t.id
        prompt = main.query_one(PromptArea)
        prompt.focus()
        prompt.load_text("now at night")
        await pilot.press("ctrl+j")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the offer")
        offer = str(app.screen.query_one(".modal-message", Static).render())
        assert "Corrupted thought signature." in offer and "Continue from the image alone" in offer
        assert demo_studio.demo_server is not None and demo_studio.demo_server.requests  # it was sent
        await pilot.press("y")
        await h.settle(pilot)
        tray = main.query_one(RefTray)
        assert tray.paths == [store.abs_path(store.get_turn(t.id).final_images[0].path)]
        assert "image alone" in str(prompt.border_title)


async def test_continue_from_image_key_palette_and_help(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.commands import palette_actions

    assert any(a.binding_id == "main.continue_from_image" for a in palette_actions())
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.send_prompt(pilot, main, "a fox")
        first = main.selected_id
        await pilot.press("escape")  # leave the prompt: letters act on the turn
        await pilot.press("i")
        await h.settle(pilot)
        assert main.parent_override == -1 and main.image_alone_of == first
        assert len(main.query_one(RefTray).paths) == 1
        await pilot.press("f1")
        await h.settle(pilot)
        from banana_studio.tui.screens.help import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        rows = [str(c) for c in app.screen._table().columns[2]._cells]
        assert "main.continue_from_image" in rows


async def test_demo_mode_asks_before_adding_to_a_real_project(zero_latency: None, h: Any, tmp_path: Path) -> None:
    from banana_studio.config import load_config
    from banana_studio.services import Studio

    config = load_config()
    real = Studio.open(config, project="mine")
    await _real_turn(real, h)
    await real.aclose()
    studio = Studio.open(config, project="mine", project_dir=config.projects_root(), demo=True)
    try:
        assert "made with the real API" in studio.demo_into_real
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the question")
            text = str(app.screen.query_one(".modal-message", Static).render())
            assert "'mine' is a real project" in text and "marked DEMO" in text
            await pilot.press("n")
            await h.wait_until(pilot, lambda: app.return_code == 1, what="quit")
    finally:
        await studio.aclose()


async def test_gallery_badge_and_status_line_today_across_projects(demo_studio: Any, h: Any) -> None:
    """The gallery marks demo turns; "Today" in the status line is the budget's: real money in every
    project (issue 14), demo costs shown apart."""
    from banana_studio.store import ProjectStore
    from banana_studio.tui.screens.gallery import GalleryScreen
    from banana_studio.tui.widgets.status_line import StatusLine

    with ProjectStore.open(demo_studio.store.path.parent, "other") as other:
        await _real_turn(SimpleStudio(other), h)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.send_prompt(pilot, main, "a demo owl")
        status = main.query_one(StatusLine)
        assert status.money.today_cost == 0.134 and status.money.project_cost == 0.0 and status.money.demo_cost > 0
        demo_studio.config.daily_budget = 100.0
        budget = await asyncio.to_thread(demo_studio.check_budget, demo_studio.config.defaults)
        assert budget.spent_today == status.money.today_cost
        await pilot.press("ctrl+g")
        await h.wait_until(pilot, lambda: isinstance(app.screen, GalleryScreen), what="the gallery")
        gallery = app.screen
        await h.wait_until(pilot, lambda: bool(gallery.tiles) and all(t.query(".gallery-caption")
                                                                      for t in gallery.tiles), what="captions")
        assert "DEMO" in str(gallery.tiles[0].query_one(".gallery-caption", Static).render())


class SimpleStudio:
    def __init__(self, store: Any) -> None:
        self.store = store


async def test_demo_mode_asks_again_when_switching_into_a_real_project(zero_latency: None, h: Any) -> None:
    from banana_studio.config import load_config
    from banana_studio.services import Studio

    config = load_config()
    for name in ("first", "second"):
        real = Studio.open(config, project=name)
        await _real_turn(real, h)
        await real.aclose()
    studio = Studio.open(config, project="first", project_dir=config.projects_root(), demo=True)
    app = make_app(studio, project_dir=config.projects_root())
    async with app.run_test(size=SIZE) as pilot:
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the first question")
        await pilot.press("y")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the project")
        await app.open_project("second")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the second question")
        assert "'second' is a real project" in str(app.screen.query_one(".modal-message", Static).render())
        await pilot.press("n")
        await h.settle(pilot)
        assert app.studio.store.name == "first" and isinstance(app.screen, MainScreen)
        await app.open_project("second")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="asked again")
        await pilot.press("y")
        await h.wait_until(pilot, lambda: app.studio.store.name == "second", what="switched")
    await app.studio.aclose()
