"""Pilot tests of the studio shell against the demo Studio (local fake server, zero latency)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import ContentSwitcher, Input, Select, Static, Switch

from banana_studio.domain import events as ev
from banana_studio.tui.app import make_app
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.messages import GenerationEvent
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.ref_tray import RefTray
from banana_studio.tui.widgets.sidebar import SettingsSidebar
from banana_studio.tui.widgets.status_line import StatusLine
from banana_studio.tui.widgets.thinking_log import ThinkingLog
from banana_studio.tui.widgets.turn_detail import TurnDetail

SIZE = (140, 45)


def main_of(app: Any) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen), f"expected MainScreen on top, got {screen!r}"
    return screen


def static_text(widget: Static) -> str:
    return str(widget.render())


async def test_generate_streams_thoughts_drafts_and_saves(demo_studio: Any, h: Any) -> None:
    seen: list[Any] = []

    def hook(message: Any) -> None:
        if isinstance(message, GenerationEvent):
            seen.append(message.event)

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a lighthouse at dusk")
        kinds = [type(e).__name__ for e in seen]
        assert kinds[0] == "TurnStarted" and kinds[-1] == "TurnSaved", kinds
        assert "ThoughtText" in kinds and "DraftImage" in kinds and "FinalImage" in kinds
        # Order as streamed: thoughts before the first draft, drafts before the final image.
        assert kinds.index("ThoughtText") < kinds.index("DraftImage") < kinds.index("FinalImage")
        saved = seen[-1].turn
        assert saved.status == "done" and saved.final_images

        log = main.query_one(ThinkingLog)
        assert log.thought_text.strip(), "thought text was streamed into the log"
        assert log.n_drafts >= 1
        assert "Done" in static_text(log.query_one("#log-status", Static))

        tree = main.query_one(BranchTree)
        assert tree.node_count == 1 and tree.cursor_id == saved.id
        assert main.selected_id == saved.id
        detail = main.query_one(TurnDetail)
        await h.wait_until(pilot, lambda: detail.turn_id == saved.id, what="detail of the new turn")
        assert "a lighthouse at dusk" in static_text(detail.query_one("#detail-prompt", Static))
        assert main.query_one("#info", ContentSwitcher).current == "detail"
        preview = main.query_one(ImagePreview)
        await h.wait_until(pilot, lambda: preview.source is not None, what="final image in the preview")
        assert preview.source == demo_studio.store.abs_path(saved.final_images[0].path)
        status = main.query_one(StatusLine)
        # Demo turns cost nothing real: the simulated cost is shown apart (issue 18).
        assert status.money.session_cost == 0 and status.money.project_cost == 0 and status.money.today_cost == 0
        assert status.money.demo_cost > 0 and status.money.turn_cost and status.money.turn_simulated
        assert "simulated" in str(status.render())
        assert main.query_one(PromptArea).text == "", "the prompt is cleared after sending"
        assert str(main.query_one(PromptArea).border_title) == f"Prompt → continues from #{saved.id}"


async def test_continue_fork_and_reroll(demo_studio: Any, h: Any) -> None:
    store = demo_studio.store
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a red fox")
        await h.send_prompt(pilot, main, "make it winter")
        t1, t2 = 1, 2
        assert store.get_turn(t2).parent_id == t1, "a send continues from the selected turn"

        # Re-roll #2: a sibling with the same prompt.
        await pilot.press("ctrl+r")
        await h.wait_generation(pilot, main)
        t3 = store.get_turn(3)
        assert t3.parent_id == t1 and t3.prompt == "make it winter" and t3.kind == "reroll"

        # Fork #2 with changed settings: loads its prompt, the send becomes a sibling of #2.
        main.query_one(BranchTree).select_turn(t2)
        await h.wait_until(pilot, lambda: main.shown_turn is not None and main.shown_turn.id == t2)
        await pilot.press("ctrl+f")
        prompt = main.query_one(PromptArea)
        assert prompt.text == "make it winter"
        assert "fork" in str(prompt.border_title).lower()
        main.query_one("#aspect", Select).value = "16:9"
        await pilot.pause()
        await pilot.press(*", wide")  # typed: the cursor waits at the end of the loaded prompt
        assert prompt.text == "make it winter, wide"
        await pilot.press("ctrl+j")
        await h.wait_generation(pilot, main)
        t4 = store.get_turn(4)
        assert t4.parent_id == t1 and t4.settings.aspect_ratio == "16:9"
        assert t4.final_images[0].width == 1376 and t4.final_images[0].height == 768

        # New thread: a new root.
        await pilot.press("ctrl+n")
        await h.send_prompt(pilot, main, "an unrelated owl")
        assert store.get_turn(5).parent_id is None


async def test_tree_navigation_shows_each_turn(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "first")
        await h.send_prompt(pilot, main, "second")
        await h.send_prompt(pilot, main, "third")
        tree = main.query_one(BranchTree)
        await pilot.press("f3")
        assert tree.has_focus
        detail = main.query_one(TurnDetail)
        await pilot.press("left")  # parent of #3
        await h.wait_until(pilot, lambda: detail.turn_id == 2, what="detail of #2")
        assert main.selected_id == 2
        assert "second" in static_text(detail.query_one("#detail-prompt", Static))
        await pilot.press("left")
        await h.wait_until(pilot, lambda: detail.turn_id == 1, what="detail of #1")
        await pilot.press("right")
        await h.wait_until(pilot, lambda: detail.turn_id == 2, what="back to #2")
        assert "continues from #2" in str(main.query_one(PromptArea).border_title)
        # Letters act on the selected turn when not typing: star it.
        await pilot.press("s")
        await h.wait_until(pilot, lambda: demo_studio.store.get_turn(2).starred, what="star")
        # u: the selected turn's image joins the references for the next send.
        await pilot.press("u")
        tray = main.query_one(RefTray)
        await h.wait_until(pilot, lambda: len(tray.items) == 1, what="use as reference")
        assert tray.items[0].path == demo_studio.store.abs_path(demo_studio.store.get_turn(2).final_images[0].path)
        # Ctrl+B hides/shows the tree.
        await pilot.press("ctrl+b")
        assert not main.query_one(BranchTree).display
        await pilot.press("ctrl+b")
        assert main.query_one(BranchTree).display
        # Enter takes the turn's settings into the sidebar and focuses the prompt.
        await pilot.press("enter")
        assert main.query_one(PromptArea).has_focus


async def test_references_paste_tray_limits_and_send(demo_studio: Any, make_png: Any, tmp_path: Path, h: Any) -> None:
    from textual import events

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        prompt = main.query_one(PromptArea)
        tray = main.query_one(RefTray)
        a, b = make_png("a.png"), make_png("b b.png")
        prompt.focus()
        # A dropped file arrives as a bracketed paste (to the app, forwarded to the focused widget)
        # of its (quoted) path or a file:// URI.
        app.post_message(events.Paste(f"'{a}'"))
        await h.wait_until(pilot, lambda: len(tray.items) == 1, what="pasted path added")
        app.post_message(events.Paste(b.as_uri()))
        await h.wait_until(pilot, lambda: len(tray.items) == 2, what="file:// URI added")
        assert prompt.text == "", "a pasted path is not inserted as text"
        assert [i.name for i in tray.items] == ["a.png", "b b.png"]
        # Ordinary text is still pasted as text.
        app.post_message(events.Paste("a cat"))
        await h.wait_until(pilot, lambda: prompt.text == "a cat", what="text paste")

        # Not an image / missing file: a clear message, nothing added.
        bogus = tmp_path / "notes.txt"
        bogus.write_text("hello")
        errors = await tray.add_paths([bogus, tmp_path / "missing.png"])
        assert len(errors) == 2 and "not an image" in errors[0] and "does not exist" in errors[1]
        assert len(tray.items) == 2
        assert "not an image" in static_text(tray.query_one("#ref-message", Static))

        # Reorder and remove with keys on the chip row.
        main.query_one("#ref-chips").focus()
        await pilot.press("shift+right")
        assert [i.name for i in tray.items] == ["b b.png", "a.png"]
        await pilot.press("delete")  # the cursor followed the moved chip
        assert [i.name for i in tray.items] == ["b b.png"]

        # Add by path with the Input (Ctrl+L), completion offered by the suggester.
        await pilot.press("ctrl+l")
        ref_input = main.query_one("#ref-input", Input)
        assert ref_input.has_focus
        ref_input.value = str(a)
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: len(tray.items) == 2, what="added by path")

        # Send with the references: they are stored with the turn; the tray empties.
        prompt.load_text("combine these")
        await pilot.press("ctrl+j")
        await h.wait_generation(pilot, main)
        turn = demo_studio.store.get_turn(1)
        assert [r.name for r in turn.references] == ["b b.png", "a.png"]
        assert tray.items == []


async def test_fifteen_references_refused_with_clear_message(demo_studio: Any, make_png: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        tray = main.query_one(RefTray)
        paths = [make_png() for _ in range(15)]
        errors = await tray.add_paths(paths)
        await pilot.pause()
        assert len(tray.items) == 14
        assert errors and "15 reference images" in errors[0] and "at most 14" in errors[0]
        # A smaller model limit is applied when switching models.
        main.query_one("#model", Select).value = "gemini-3.1-flash-lite-image"
        await pilot.pause(0.1)
        sidebar = main.query_one(SettingsSidebar)
        assert any(p.field == "references" for p in sidebar.fatal_problems)
        assert "at most 3" in static_text(tray.query_one("#ref-message", Static))
        main.query_one(PromptArea).load_text("too many refs")
        await pilot.press("ctrl+j")
        await pilot.pause(0.1)
        assert not main.generating, "a send with too many references is refused"
        assert demo_studio.store.tree_index() == []


async def test_settings_validation_disables_and_explains(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        sidebar = main.query_one(SettingsSidebar)
        main.query_one("#size", Select).value = "4K"
        await pilot.pause()
        assert sidebar.settings.image_size == "4K"
        assert "5504" not in static_text(sidebar.query_one("#estimate", Static))
        assert "4096×4096" in static_text(sidebar.query_one("#estimate", Static))
        # Lite: 1K only, no search; the size falls back with a note and the search switch is disabled.
        main.query_one("#model", Select).value = "gemini-3.1-flash-lite-image"
        await pilot.pause(0.1)
        s = sidebar.settings
        assert s.model == "gemini-3.1-flash-lite-image" and s.image_size == "1K"
        note = static_text(sidebar.query_one("#shape-note", Static))
        assert "4K → 1K" in note and "Not on this model" in note
        search = sidebar.query_one("#search", Switch)
        assert search.disabled and "does not support Google Search" in str(search.tooltip)
        # An out-of-range temperature is a fatal problem: the send is refused with the reason.
        temp = sidebar.query_one("#temperature", Input)
        temp.value = "3"
        await pilot.pause(0.1)
        assert any(p.field == "temperature" for p in sidebar.fatal_problems)
        assert "between 0.0 and 2.0" in static_text(sidebar.query_one("#problems", Static))
        main.query_one(PromptArea).load_text("a cat")
        await pilot.press("ctrl+j")
        await pilot.pause(0.1)
        assert not main.generating and demo_studio.store.tree_index() == []
        temp.value = "0.5"
        await pilot.pause(0.1)
        assert sidebar.fatal_problems == []
        # A custom model id is allowed with a warning.
        main.query_one("#model", Select).value = "__custom__"
        await pilot.pause()
        custom = sidebar.query_one("#custom-model", Input)
        assert custom.display
        custom.value = "gemini-9-ultra-image"
        await pilot.pause(0.1)
        assert sidebar.settings.model == "gemini-9-ultra-image"
        assert "Unknown model id" in static_text(sidebar.query_one("#problems", Static))
        assert sidebar.fatal_problems == []


async def test_errors_are_shown_in_red_with_the_clear_message(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a cat [fault:image_safety]")
        log = main.query_one(ThinkingLog)
        error = log.query_one("#log-error", Static)
        assert error.display and "✗" in static_text(error)
        assert main.last_error and "safety" in main.last_error.lower()
        turn = demo_studio.store.get_turn(1)
        assert turn.status == "failed"
        assert any(n.severity == "error" for n in app._notifications)
        assert main.query_one("#info", ContentSwitcher).current == "log", "the red error stays in view"
        # The failed turn's detail shows the error with the retry hint.
        detail = main.query_one(TurnDetail)
        await h.wait_until(pilot, lambda: detail.turn_id == 1)
        assert "retry" in static_text(detail.query_one("#detail-error", Static)).lower()
        # A new prompt sent while the failed turn is selected becomes its sibling (nothing to continue).
        await h.send_prompt(pilot, main, "a cat, take two")
        assert demo_studio.store.get_turn(2).parent_id is None


async def test_retry_countdown_then_success(demo_studio: Any, h: Any) -> None:
    events_seen: list[Any] = []

    def hook(message: Any) -> None:
        if isinstance(message, GenerationEvent):
            events_seen.append(message.event)

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        main = main_of(app)
        await demo_studio.ready_target()
        demo_studio._fake.inject("quota", count=1, retry_delay=1.5)  # 429 + RetryInfo 1.5 s
        main.query_one(PromptArea).load_text("a windmill")
        await pilot.press("ctrl+j")
        log_status = main.query_one(ThinkingLog).query_one("#log-status", Static)
        await h.wait_until(pilot, lambda: "retry 2/" in static_text(log_status), what="visible retry countdown")
        assert "retry 2/" in main.query_one(StatusLine).state
        await h.wait_generation(pilot, main)
        retry = next(e for e in events_seen if isinstance(e, ev.Retrying))
        assert retry.attempt == 2 and 1.0 <= retry.delay <= 1.6
        assert demo_studio.store.get_turn(1).status == "done"


async def test_cancel_with_escape_marks_turn_cancelled(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        prompt = main.query_one(PromptArea)
        prompt.load_text("a slow painting [fault:slow;seconds=10]")
        await pilot.press("ctrl+j")
        await h.wait_until(pilot, lambda: main.live_turn_id is not None, what="turn started")
        assert main.generating
        await pilot.press("escape")
        await h.wait_generation(pilot, main)
        assert demo_studio.store.get_turn(main.live_turn_id).status == "cancelled"
        log = main.query_one(ThinkingLog)
        assert "Cancelled" in static_text(log.query_one("#log-status", Static))
        # Esc with nothing running leaves the prompt for the tree (letters then act on the turn).
        main.query_one(PromptArea).focus()
        await pilot.press("escape")
        assert not main.generating and main.query_one(BranchTree).has_focus


async def test_prompt_history_recall(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "one")
        await h.send_prompt(pilot, main, "two")
        prompt = main.query_one(PromptArea)
        prompt.focus()
        prompt.load_text("draft")
        await pilot.press("up")
        assert prompt.text == "two"
        await pilot.press("up")
        assert prompt.text == "one"
        await pilot.press("down")
        assert prompt.text == "two"
        await pilot.press("down")
        assert prompt.text == "draft", "walking past the newest prompt restores the draft"


async def test_history_is_loaded_from_the_project(zero_latency: None, h: Any) -> None:
    studio = h.open_demo_studio("hist")
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            await h.send_prompt(pilot, main_of(app), "x" * 150)
    finally:
        await studio.aclose()
    studio = h.open_demo_studio("hist")
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            main = main_of(app)
            await h.settle(pilot)
            prompt = main.query_one(PromptArea)
            assert prompt.prompt_history == ["x" * 150], "full prompt text, not the 120-char index"
            tree = main.query_one(BranchTree)
            assert tree.cursor_id == 1, "the latest turn is selected on open"
    finally:
        await studio.aclose()


async def test_palette_goes_to_turn_and_runs_actions(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "alpha")
        await h.send_prompt(pilot, main, "beta")
        await pilot.press("ctrl+p")
        await pilot.pause(0.1)
        await pilot.press(*"turn 1")
        await pilot.pause(0.4)
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: main.selected_id == 1, what="palette go to turn")
        await pilot.press("ctrl+p")
        await pilot.pause(0.1)
        await pilot.press(*"Star")
        await pilot.pause(0.4)
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: demo_studio.store.get_turn(1).starred, what="star from the palette")
        # Prompt search: typing words of a prompt offers "Go to turn #N: …".
        await pilot.press("ctrl+p")
        await pilot.pause(0.1)
        await pilot.press(*"beta")
        await pilot.pause(0.4)
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: main.selected_id == 2, what="palette prompt search")


async def test_label_delete_branch_and_keymap(zero_latency: None, tmp_path: Path, h: Any) -> None:
    from banana_studio.config import load_config

    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text('[keymap]\nstar = "S"\nnot-an-action = "f9"\n', encoding="utf-8")
    studio = h.open_demo_studio(config=load_config(cfg_path))
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            main = main_of(app)
            assert any("not-an-action" in n.message and "Unknown binding id in" in n.message
                       for n in app._notifications), "one unknown id: singular"
            await h.send_prompt(pilot, main, "root")
            await h.send_prompt(pilot, main, "child")
            await pilot.press("f3")
            await pilot.press("S")  # remapped star
            await h.wait_until(pilot, lambda: studio.store.get_turn(2).starred, what="remapped star")
            await pilot.press("l")
            await pilot.pause()
            await pilot.press(*"keeper", "enter")
            await h.wait_until(pilot, lambda: studio.store.get_turn(2).label == "keeper", what="label")
            main.query_one(BranchTree).select_turn(1)
            await pilot.pause(0.1)
            await pilot.press("D")
            await pilot.pause()
            await pilot.press("n")  # no: nothing deleted
            await pilot.pause()
            assert len(studio.store.tree_index()) == 2
            await pilot.press("D")
            await pilot.pause()
            await pilot.press("y")
            await h.wait_until(pilot, lambda: studio.store.tree_index() == [], what="branch deleted")
            await h.wait_until(pilot, lambda: main.query_one(BranchTree).node_count == 0, what="tree refreshed")
    finally:
        await studio.aclose()


async def test_too_small_terminal_gets_a_friendly_screen(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.too_small import TooSmallScreen

    app = make_app(demo_studio)
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TooSmallScreen)
        assert "at least 80×24" in static_text(app.screen.query_one("#too-small-message", Static))
        await pilot.resize_terminal(100, 30)
        await pilot.pause(0.1)
        assert isinstance(app.screen, MainScreen)


async def test_no_key_offers_demo_mode_one_key_away(zero_latency: None, h: Any) -> None:
    from banana_studio.config import load_config
    from banana_studio.services import Studio
    from banana_studio.tui.screens.confirm import NoKeyScreen

    studio = Studio.open(load_config(), project="nokey", demo=False)
    assert studio.needs_demo
    app = make_app(studio)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, NoKeyScreen)
        await pilot.press("h")
        assert "GOOGLE_API_KEY" in app.export_screenshot()  # the bullets are a grid, not one string
        await pilot.press("d")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="demo main screen")
        main = main_of(app)
        assert app.studio.demo and main.query_one("#demo-badge", Static).display
        await h.send_prompt(pilot, main, "demo works")
        assert app.studio.store.get_turn(1).status == "done"
        await app.studio.aclose()


async def test_project_picker_creates_and_switches(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.project_picker import ProjectPickerScreen

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ProjectPickerScreen), what="picker")
        await pilot.press("ctrl+n")
        await pilot.press(*"../evil", "enter")
        await pilot.pause()
        assert "must not" in static_text(app.screen.query_one("#picker-error", Static))
        inp = app.screen.query_one("#picker-input", Input)
        inp.value = "posters"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.studio.store.name == "posters",
                         what="switched project")
        assert "posters" in static_text(app.screen.query_one("#title", Static))
        await app.studio.aclose()


async def test_interrupted_turns_and_config_problems_are_notified(zero_latency: None, tmp_path: Path, h: Any) -> None:
    from banana_studio.config import load_config
    from banana_studio.domain.content import user_content
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.store import ProjectStore

    root = tmp_path / "data" / "projects-demo"  # demo mode keeps its own projects folder
    store = ProjectStore.open(root, "test")
    store.create_turn(None, "half done", GenerationSettings(), [], user_content("half done"))
    store.set_status(1, "running")
    store.close()
    # Simulate the crash: the owner lock is gone, so the next open marks the turn interrupted.
    cfg = tmp_path / "config.toml"
    cfg.write_text("[ui\nbroken", encoding="utf-8")
    studio = h.open_demo_studio(config=load_config(cfg))
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            await h.settle(pilot)
            await pilot.pause()
            messages = [n.message for n in app._notifications]
            assert any("Config file" in m for m in messages), messages
            assert studio.store.recovered == [1]
            assert any("interrupted" in m and "retry" in m for m in messages), messages
            # R retries it: a new sibling turn is generated from the same request.
            main = main_of(app)
            await h.wait_until(pilot, lambda: main.selected_id == 1, what="the interrupted turn selected")
            await pilot.press("f3", "R")
            await h.wait_generation(pilot, main)
            retried = studio.store.get_turn(2)
            assert retried.prompt == "half done" and retried.status == "done"
    finally:
        await studio.aclose()


async def test_gallery_viewer_and_compare_open_from_the_main_screen(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.compare import CompareScreen
    from banana_studio.tui.screens.gallery import GalleryScreen
    from banana_studio.tui.screens.viewer import ViewerScreen

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a kite")
        await h.send_prompt(pilot, main, "two kites")
        await pilot.press("ctrl+g")
        await h.wait_until(pilot, lambda: isinstance(app.screen, GalleryScreen), what="gallery")
        app.screen.dismiss(1)  # what the gallery does when a turn is chosen
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and main.selected_id == 1,
                           what="jump to the chosen turn")
        await pilot.press("f3", "v")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen), what="viewer")
        app.screen.dismiss(None)
        await h.wait_until(pilot, lambda: app.screen is main)
        await pilot.press("m")  # mark #1
        main.query_one(BranchTree).select_turn(2)
        await h.wait_until(pilot, lambda: main.selected_id == 2)
        await pilot.press("m")
        await h.wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
        await h.settle(pilot)


async def test_vanished_reference_is_refused_and_the_prompt_restored(demo_studio: Any, make_png: Any,
                                                                     h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        tray = main.query_one(RefTray)
        ref = make_png("gone.png")
        await tray.add_paths([ref])
        ref.unlink()  # deleted after it was added, before the send
        await h.send_prompt(pilot, main, "use the reference")
        assert main.last_error and "gone.png" in main.last_error
        assert demo_studio.store.tree_index() == [], "nothing was recorded"
        assert main.query_one(PromptArea).text == "use the reference", "the prompt is given back"
        log = main.query_one(ThinkingLog)
        assert "nothing was sent" in static_text(log.query_one("#log-status", Static))


async def test_grounded_generation_lists_sources(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        main.query_one("#search", Switch).value = True
        await pilot.pause()
        assert main.query_one(SettingsSidebar).settings.google_search
        await h.send_prompt(pilot, main, "the weather in Paris today as a poster")
        log_sources = static_text(main.query_one(ThinkingLog).query_one("#log-sources", Static))
        assert "[1]" in log_sources
        turn = demo_studio.store.get_turn(1)
        assert turn.settings.google_search and turn.grounding.get("sources")
        detail = main.query_one(TurnDetail)
        await h.wait_until(pilot, lambda: detail.turn_id == 1)
        text = static_text(detail.query_one("#detail-sources", Static))
        assert "Sources" in text and turn.grounding["sources"][0]["title"] in text


async def test_theme_from_config(zero_latency: None, tmp_path: Path, h: Any) -> None:
    from banana_studio.config import load_config

    cfg = tmp_path / "config.toml"
    cfg.write_text('[ui]\ntheme = "textual-light"\n', encoding="utf-8")
    studio = h.open_demo_studio(config=load_config(cfg))
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.theme == "textual-light"
        cfg.write_text('[ui]\ntheme = "no-such-theme"\n', encoding="utf-8")
        app = make_app(h.open_demo_studio(config=load_config(cfg)))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert any("Unknown theme" in n.message for n in app._notifications)
        await app.studio.aclose()
    finally:
        await studio.aclose()


async def test_enter_to_send_mode_and_save_as(zero_latency: None, tmp_path: Path, h: Any) -> None:
    from banana_studio.config import load_config

    cfg = tmp_path / "config.toml"
    cfg.write_text('[ui]\nsend_key = "enter"\n', encoding="utf-8")
    studio = h.open_demo_studio(config=load_config(cfg))
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            main = main_of(app)
            prompt = main.query_one(PromptArea)
            prompt.focus()
            await pilot.press(*"two", "alt+enter", *"lines")
            assert prompt.text == "two\nlines", "Alt+Enter inserts a newline in enter-to-send mode"
            await pilot.press("enter")
            await h.wait_until(pilot, lambda: main.live_turn_id is not None, what="sent with Enter")
            await h.wait_generation(pilot, main)
            assert studio.store.get_turn(1).prompt == "two\nlines"
            # Save the image elsewhere (w on the selected turn).
            await pilot.press("f3", "w")
            await pilot.pause()
            target = app.screen.query_one("#text-value", Input)
            target.value = str(tmp_path / "out" / "poster")
            await pilot.press("enter")
            saved = tmp_path / "out" / "poster.jpg"
            await h.wait_until(pilot, saved.exists, what="image saved")
            original = studio.store.abs_path(studio.store.get_turn(1).final_images[0].path)
            assert saved.read_bytes() == original.read_bytes()
    finally:
        await studio.aclose()


def test_paths_from_paste_and_completion(tmp_path: Path, make_png: Any) -> None:
    from banana_studio.tui.widgets.prompt import paths_from_paste
    from banana_studio.tui.widgets.ref_tray import complete_path

    a, b = make_png("one.png"), make_png("two words.png")
    assert paths_from_paste(str(a)) == [a]
    assert paths_from_paste(f"'{a}' '{b}'") == [a, b]
    assert paths_from_paste(f"{a}\n{b}\n") == [a, b]
    assert paths_from_paste(str(b)) == [b], "an unquoted path with a space still counts"
    assert paths_from_paste(b.as_uri()) == [b]
    assert paths_from_paste("a cat in a hat") is None
    assert paths_from_paste(f"{a} and a cat") is None, "text mixed with a path is text"
    assert paths_from_paste("file://otherhost/x.png") is None
    folder = str(a.parent)
    assert complete_path(folder + "/on") == folder + "/one.png"
    assert complete_path(folder + "/tw") == folder + "/two words.png"
    assert complete_path(folder + "/zz") is None
    assert complete_path(str(tmp_path) + "/re") == str(tmp_path) + "/refs/"


async def test_quit_while_generating_records_the_turn_as_cancelled(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        main.query_one(PromptArea).load_text("a slow one [fault:slow;seconds=10]")
        await pilot.press("ctrl+j")
        await h.wait_until(pilot, lambda: main.live_turn_id is not None, what="turn started")
        turn_id = main.live_turn_id
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
    from banana_studio.store import ProjectStore

    store = ProjectStore.open(demo_studio.store.path.parent, demo_studio.store.name)
    try:
        assert store.get_turn(turn_id).status == "cancelled"
    finally:
        store.close()


async def test_external_editor_needs_editor_and_a_real_terminal(demo_studio: Any, h: Any,
                                                                monkeypatch: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        monkeypatch.delenv("VISUAL", raising=False)
        monkeypatch.delenv("EDITOR", raising=False)
        await pilot.press("f9")
        await pilot.pause()
        assert any("Set $EDITOR" in n.message for n in app._notifications)
        monkeypatch.setenv("EDITOR", "true")
        main.query_one(PromptArea).load_text("keep me")
        await pilot.press("f9")
        await pilot.pause()
        # Headless tests cannot suspend; a real terminal runs the editor (checked in tmux).
        assert any("cannot be suspended" in n.message for n in app._notifications)
        assert main.query_one(PromptArea).text == "keep me"


async def test_double_click_on_the_preview_opens_the_viewer(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.viewer import ViewerScreen

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a kite")
        await pilot.double_click("#preview")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ViewerScreen), what="viewer on double click")
