"""The main screen's layout and what it tells: the preview gets the room, every region is usable at
80×24, panels toggle, and the screen agrees with the project (settings, selection, log, titles)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import ContentSwitcher, Static

from banana_studio.domain.settings import GenerationSettings
from banana_studio.tui.app import make_app
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.settings_summary import SettingsSummary
from banana_studio.tui.widgets.sidebar import SettingsSidebar
from banana_studio.tui.widgets.status_line import StatusLine
from banana_studio.tui.widgets.thinking_log import ThinkingLog
from banana_studio.tui.widgets.turn_detail import TurnDetail


def main_of(app: Any) -> MainScreen:
    assert isinstance(app.screen, MainScreen), app.screen
    return app.screen


def text_of(widget: Any) -> str:
    return str(widget.render())


def screen_text(app: Any) -> str:
    """The screen as plain text lines (what a person reads)."""
    update = app.screen._compositor.render_full_update()
    return "\n".join("".join(strip.text for strip in row) if not hasattr(row, "text") else row.text
                     for row in update.strips)


async def make_turns(studio: Any, *prompts: str, settings: GenerationSettings | None = None) -> None:
    from banana_studio.services import GenerateRequest

    parent = None
    for prompt in prompts:
        req = GenerateRequest(prompt=prompt, parent_id=parent, references=[],
                              settings=(settings or GenerationSettings()).copy(), kind="generate")
        async for event in studio.generate(req):
            saved = getattr(event, "turn", None)
            if type(event).__name__ == "TurnSaved" and saved is not None:
                parent = saved.id


async def test_preview_gets_most_of_the_width_at_160x48(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(160, 48)) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a lighthouse at dusk")
        preview = main.query_one(ImagePreview)
        info = main.query_one("#info", ContentSwitcher)
        sidebar = main.query_one(SettingsSidebar)
        assert preview.outer_size.width >= 160 * 7 // 10, preview.size  # 16:9 fills the stage's height
        assert not main.query_one(BranchTree).display, "the tree is a toggle, off by default below 220 columns"
        assert not sidebar.display and main.query_one(SettingsSummary).display, "settings folded below 180"
        await pilot.press("f4")
        await h.settle(pilot)
        assert sidebar.display and preview.size.width > 160 // 2
        # One panel, two tabs: the border title names both and marks the shown one.
        assert "Turn #1" in str(info.border_title) and "Thinking" in str(info.border_title)


async def test_80x24_nothing_cut(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(80, 24)) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a red fox in the snow")
        await h.settle(pilot)
        shot = screen_text(app)
        status_row = shot.splitlines()[-2]
        footer_row = shot.splitlines()[-1]
        for word in ("Turn", "Br", "Sess", "Proj", "Today"):
            assert word in status_row, status_row
        assert "…" not in status_row
        for key in ("Send", "Quit", "Help", "palette", "Tree", "Focus"):
            assert key in footer_row, footer_row
        summary = main.query_one(SettingsSummary)
        assert summary.display and "of #1" in text_of(summary), "settings folded into one line at 80 columns"
        # The tree takes the turn panel's place; the preview keeps a usable width.
        await pilot.press("escape")
        await h.settle(pilot)
        tree = main.query_one(BranchTree)
        assert tree.display and tree.has_focus
        assert not main.query_one("#info").display
        assert main.query_one(ImagePreview).size.width >= 40
        # The lines beside the tree take a shorter form instead of an ellipsis: the settings keep their
        # source, aspect, size and estimate; the empty tray still says how to add one.
        # (Read off the screen: what was rendered before the tree took the room must be rendered again.)
        rows = screen_text(app).splitlines()
        summary_row = next(r[r.index("F4 ("):] for r in rows if "F4 (" in r)
        assert "…" not in summary_row and "of #1" in summary_row and "1:1 1K" in summary_row, summary_row
        assert "≈ $" in summary_row, summary_row
        refs_row = next(r[r.index("No references"):] for r in rows if "No references" in r)
        assert "…" not in refs_row and "Ctrl+L" in refs_row, refs_row
        footer_row = screen_text(app).splitlines()[-1]
        for key in ("Send", "Quit", "Help"):
            assert key in footer_row, footer_row
        await pilot.press("ctrl+b")
        await h.settle(pilot)
        assert not tree.display and main.query_one("#info").display
        detail = main.query_one(TurnDetail)
        head = text_of(detail.query_one("#detail-head", Static))
        assert "2026" not in head.splitlines()[0], "the date has a line of its own"


async def test_focus_mode_and_settings_toggle(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(120, 36)) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a teapot")
        preview = main.query_one(ImagePreview)
        summary = main.query_one(SettingsSummary)
        sidebar = main.query_one(SettingsSidebar)
        assert summary.display and not sidebar.display, "settings folded below 180 columns"
        await pilot.press("f6")  # focus mode, even with the prompt focused (its TextArea binds F6)
        await pilot.pause()
        assert main.focus_mode and preview.outer_size.width == 120
        assert not main.query_one("#info").display and not summary.display
        prompt = main.query_one(PromptArea)
        assert prompt.display and prompt.region.y > preview.region.y, "the prompt sits under the picture"
        await pilot.press("f6")
        await pilot.pause()
        assert not main.focus_mode and main.query_one("#info").display
        await pilot.press("f4")  # open the settings and go there
        await h.settle(pilot)
        assert sidebar.display and sidebar.has_focus_within and not summary.display
        await pilot.press("f4")  # from inside: fold them again
        await h.settle(pilot)
        assert not sidebar.display and summary.display and prompt.has_focus


async def test_settings_come_from_the_selected_turn_after_a_restart(zero_latency: None, h: Any) -> None:
    studio = h.open_demo_studio()
    try:
        await make_turns(studio, "a wide harbour", settings=GenerationSettings(aspect_ratio="16:9", image_size="2K"))
        app = make_app(studio)
        async with app.run_test(size=(160, 48)) as pilot:
            main = main_of(app)
            await h.settle(pilot)
            sidebar = main.query_one(SettingsSidebar)
            assert sidebar.settings.aspect_ratio == "16:9" and sidebar.settings.image_size == "2K"
            assert "of #1" in str(sidebar.border_title)
            assert "of #1" in text_of(main.query_one(SettingsSummary))
            assert "16:9 2K" in text_of(main.query_one(SettingsSummary))
            # A change is visible as such.
            sidebar.load(sidebar.settings.copy(image_size="1K"))
            await h.settle(pilot)
            assert "changed from #1" in str(sidebar.border_title)
    finally:
        await studio.aclose()


@pytest.mark.parametrize(("deferred", "size"), [(False, (140, 45)), (True, (80, 24)), (True, (200, 50))],
                         ids=["headless", "terminal-80x24", "terminal-with-tree"])
async def test_switching_projects_shows_the_selected_turn(demo_studio: Any, h: Any, deferred: bool,
                                                          size: tuple[int, int],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MainScreen, "DEFER_MOUNT", deferred)
    other = h.open_demo_studio(project="other")
    try:
        await make_turns(other, "one", "two")
    finally:
        await other.aclose()
    app = make_app(demo_studio)
    async with app.run_test(size=size) as pilot:
        await h.settle(pilot)
        await app.open_project("other")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.studio.store.name == "other",
                           what="switched")
        main = main_of(app)
        await h.settle(pilot)
        tree = main.query_one(BranchTree)
        detail = main.query_one(TurnDetail)
        preview = main.query_one(ImagePreview)
        await h.wait_until(pilot, lambda: detail.turn_id == 2 and preview.source is not None, what="turn #2 shown")
        assert tree.cursor_id == 2 and main.selected_id == 2
        assert "continues from #2" in str(main.query_one(PromptArea).border_title)


async def test_L_on_a_past_turn_shows_its_stored_thoughts_and_drafts(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(160, 48)) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "first")
        first_thoughts = main.query_one(ThinkingLog).thought_text
        await h.send_prompt(pilot, main, "second")
        await pilot.press("escape")
        await pilot.press("left")  # the tree cursor to #1 (the parent)
        detail = main.query_one(TurnDetail)
        await h.wait_until(pilot, lambda: detail.turn_id == 1, what="#1 shown")
        await pilot.press("L")
        await h.settle(pilot)
        log = main.query_one(ThinkingLog)
        assert main.query_one("#info", ContentSwitcher).current == "log"
        assert log.turn_id == 1 and log.thought_text.strip() == first_thoughts.strip()
        turn = demo_studio.store.get_turn(1)
        assert turn.draft_images and log.n_drafts == len(turn.draft_images)
        assert log.query_one("#log-drafts").display
        assert "Stored log of #1" in text_of(log.query_one("#log-status", Static))
        await pilot.press("L")
        assert main.query_one("#info", ContentSwitcher).current == "detail"


async def test_prompt_title_while_generating(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.messages import GenerationEvent

    titles: list[str] = []
    tabs: list[str] = []
    app: Any = None

    def hook(message: Any) -> None:
        if isinstance(message, GenerationEvent) and type(message.event).__name__ == "DraftImage":
            titles.append(str(app.screen.query_one(PromptArea).border_title))
            tabs.append(str(app.screen.query_one("#info", ContentSwitcher).current))

    app = make_app(demo_studio)
    async with app.run_test(size=(140, 45), message_hook=hook) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a kite")
        assert titles, "drafts were streamed"
        assert all("#1 is generating" in t for t in titles), titles
        assert not any("has no result" in t for t in titles), titles
        assert str(main.query_one(PromptArea).border_title) == "Prompt → continues from #1"
        assert main.query_one(StatusLine).money.branch_turns == 1
        assert "(1 turn)" in text_of(main.query_one(StatusLine))
        # One panel for detail and log: the log is up while the turn streams, the detail after it.
        assert tabs and set(tabs) == {"log"}, tabs
        await h.settle(pilot)
        assert main.query_one("#info", ContentSwitcher).current == "detail"
        assert "Branches · 1 turn" in str(main.query_one(BranchTree).border_title)


def test_panel_defaults_follow_the_terminal_width() -> None:
    from banana_studio.tui.screens.main.layout import default_panels

    assert default_panels(80) == default_panels(160) == (False, False), "the picture first"
    assert default_panels(180) == (False, True) and default_panels(220) == (True, True)


def test_every_palette_action_has_a_description() -> None:
    from banana_studio.tui.commands import palette_actions

    missing = [a.title for a in palette_actions() if not a.help.strip()]
    assert not missing, missing


async def test_help_key_shown_is_one_that_works_in_the_prompt(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.help import HelpScreen

    app = make_app(demo_studio)
    async with app.run_test(size=(140, 45)) as pilot:
        main = main_of(app)
        await h.settle(pilot)
        footer_row = screen_text(app).splitlines()[-1]
        assert "f1 Help" in footer_row and "? Help" not in footer_row, footer_row
        assert main.query_one(PromptArea).has_focus
        await pilot.press("f1")
        await h.wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")


async def test_no_key_help_bullets_keep_their_indent(zero_latency: None) -> None:
    from banana_studio.config import load_config
    from banana_studio.services import Studio
    from banana_studio.tui.screens.confirm import NoKeyScreen

    studio = Studio.open(load_config(), project="nokey", demo=False)
    try:
        app = make_app(studio)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, NoKeyScreen)
            await pilot.press("h")
            await pilot.pause()
            lines = screen_text(app).splitlines()
            vertex = next(i for i, line in enumerate(lines) if "Vertex AI" in line)
            bullet_col = lines[vertex].index("•")
            text_col = lines[vertex].index("Vertex")
            follow = lines[vertex + 1]
            assert follow[bullet_col] == " " and follow[text_col].strip(), (lines[vertex], follow)
    finally:
        studio.store.close()


def test_footer_drops_the_least_important_keys_first() -> None:
    from banana_studio.tui.widgets.footer import fit_keys, key_width

    keys = [("send", "ctrl+⏎", "Send"), ("parent", "←", "Parent"), ("reroll", "^r", "Re-roll"),
            ("gallery", "^g", "Gallery"), ("app.quit", "^q", "Quit"), ("app.help", "f1", "Help")]
    everything = sum(key_width(k[1], k[2]) for k in keys)
    assert fit_keys(keys, everything) == list(range(len(keys)))
    kept = fit_keys(keys, everything - 1)
    assert 1 not in kept and {0, 4, 5} <= set(kept), "a widget's own key goes first, Quit/Help stay"
    assert [keys[i][0] for i in fit_keys(keys, 30)] == ["send", "app.quit", "app.help"]


async def test_gallery_footer_fits_80_columns(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.gallery import GalleryScreen

    app = make_app(demo_studio)
    async with app.run_test(size=(80, 24)) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a kite")
        await pilot.press("ctrl+g")
        await h.wait_until(pilot, lambda: isinstance(app.screen, GalleryScreen), what="gallery")
        await h.settle(pilot)
        footer_row = screen_text(app).splitlines()[-1]
        assert "Close" in footer_row and "palette" in footer_row, footer_row


async def test_empty_branches_text_wraps_instead_of_being_cut(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(80, 24)) as pilot:
        main = main_of(app)
        await h.settle(pilot)
        await pilot.press("ctrl+b")
        await h.settle(pilot)
        tree = main.query_one(BranchTree)
        assert tree.display
        x0, y0 = tree.content_region.x, tree.content_region.y
        rows = screen_text(app).splitlines()
        inside = " ".join(rows[y0 + i][x0:x0 + tree.content_region.width].strip() for i in range(4))
        assert "write a prompt and send." in " ".join(inside.split()), inside


def test_reference_chips_never_split_their_number_from_the_name() -> None:
    from rich.text import Text

    from banana_studio.tui.widgets.ref_tray import chip_lines

    chips = [Text(f" {i} reference-{i}.png 64×48 · 1 KB ") for i in range(1, 5)] + [Text("4/14")]
    lines = chip_lines(chips, 40).plain.split("\n")
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines)
    for i in range(1, 5):
        assert sum(f" {i} reference-{i}.png" in line for line in lines) == 1, lines


async def test_export_offers_a_folder_a_person_will_find(demo_studio: Any, h: Any) -> None:
    from textual.widgets import Input

    from banana_studio.paths import export_dir
    from banana_studio.tui.screens.confirm import TextPromptScreen

    app = make_app(demo_studio)
    async with app.run_test(size=(140, 45)) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a kite")
        await pilot.press("escape", "e")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="export dialog")
        value = app.screen.query_one(Input).value
        assert value == str(export_dir() / f"{demo_studio.store.name}-turn-0001")
        assert "pictures folder" in screen_text(app)


async def test_footer_adds_and_removes_cancel_without_rebuilding_its_keys(demo_studio: Any, h: Any) -> None:
    """A generation starting or ending only brings or takes the Cancel key: the other key widgets stay
    (a rebuild mounts and styles them all and lays out the screen during the generation), and the
    footer shows exactly what a full rebuild shows."""
    from textual.widgets._footer import FooterKey

    from banana_studio.tui.widgets.footer import StudioFooter

    app = make_app(demo_studio)
    async with app.run_test(size=(200, 50)) as pilot:
        main = main_of(app)
        await h.settle(pilot)
        footer = main.query_one(StudioFooter)

        def keys() -> list[FooterKey]:
            return [k for k in footer.children if isinstance(k, FooterKey)]

        def shown() -> list[tuple[str, str, bool, object]]:
            return [(k.action, k.key_display, k._disabled, k.tooltip) for k in keys()]

        assert "cancel" not in [k.action for k in keys()]
        for generating in (True, False):
            before = {k.action: k for k in keys()}
            main.generating = generating
            main.refresh_bindings()
            await h.settle(pilot)
            assert ("cancel" in [k.action for k in keys()]) is generating
            for key in keys():
                if key.action in before:
                    assert key is before[key.action], f"the {key.action} key was rebuilt"
            incremental, text = shown(), screen_text(app).splitlines()[-1]
            for width in (201, 200):  # a new width rebuilds the footer fully: the reference
                await pilot.resize_terminal(width, 50)
                await h.settle(pilot)
            assert not any(key is before.get(key.action) for key in keys()), "rebuilt"
            assert shown() == incremental
            assert screen_text(app).splitlines()[-1] == text


async def test_log_status_line_repaints_in_place_and_grows_when_it_wraps(demo_studio: Any, h: Any) -> None:
    """The live log's status line changes twice a second: a line that still fits is repainted without a
    layout pass of the screen, and one that no longer fits is laid out again (it wraps, nothing cut)."""
    app = make_app(demo_studio)
    async with app.run_test(size=(160, 50)) as pilot:
        main = main_of(app)
        await h.settle(pilot)
        main.stage.tab = "log"
        log = main.query_one(ThinkingLog)
        status = log.query_one("#log-status", Static)
        log._set_status("Thinking…")
        await h.settle(pilot)
        assert status.size.height == 1
        layouts = []
        original = status.refresh

        def spy(*regions: Any, **kwargs: Any) -> Any:
            layouts.append(kwargs.get("layout", False))
            return original(*regions, **kwargs)

        status.refresh = spy  # type: ignore[method-assign]
        log._set_status("Draft 1 received…")
        await h.settle(pilot)
        assert layouts and not any(layouts), "same height: repainted only"
        assert "Draft 1 received…" in text_of(status)
        long = "Final image received — saving " + "and still saving " * (status.size.width // 10)
        log._set_status(long)
        await h.settle(pilot)
        assert any(layouts) and status.size.height >= 2, "a wrapped line is laid out again"
        log._set_status("Done")
        await h.settle(pilot)
        assert status.size.height == 1, "and shrinks back"


async def test_lowercase_size_in_the_config_is_used_as_meant_in_the_studio(zero_latency: None, h: Any,
                                                                          tmp_path: Any) -> None:
    """`image_size = "2k"`: the studio starts with 2K (not the 1K fallback) and names the file to fix."""
    from banana_studio.config import load_config

    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text('[generation]\nimage_size = "2k"\naspect_ratio = "16:9"\n', encoding="utf-8")
    studio = h.open_demo_studio(config=load_config())
    try:
        app = make_app(studio)
        async with app.run_test(size=(160, 48)) as pilot:
            main = main_of(app)
            await h.settle(pilot)
            assert main.query_one(SettingsSidebar).settings.image_size == "2K"
            summary = text_of(main.query_one(SettingsSummary))
            assert "config defaults" in summary and "16:9 2K" in summary, summary
            said = [n.message for n in app._notifications]
            assert any(str(cfg_file) in m and "'2K'" in m for m in said), said
    finally:
        await studio.aclose()


async def test_first_frame_of_a_project_with_turns_shows_no_first_run_text(zero_latency: None, h: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """While the project is read (right after a start or a project switch) the turn panel does not say
    "No turn selected / Write a prompt…" nor the preview "No image yet" for a project that has turns."""
    import threading

    studio = h.open_demo_studio()
    try:
        await make_turns(studio, "a harbour")
        gate, reading = threading.Event(), threading.Event()
        skeleton = studio.store.tree_skeleton

        def held() -> Any:
            reading.set()
            gate.wait(30)
            return skeleton()

        monkeypatch.setattr(studio.store, "tree_skeleton", held)
        app = make_app(studio)
        async with app.run_test(size=(160, 48)) as pilot:
            await h.wait_until(pilot, reading.is_set, what="the project is being read")
            await pilot.pause()
            shot = screen_text(app)
            assert "No turn selected" not in shot and "No image yet" not in shot, shot
            assert "Opening the project" in shot
            gate.set()
            main = main_of(app)
            await h.wait_until(pilot, lambda: main.query_one(TurnDetail).turn_id == 1, what="turn #1 shown")
            await h.settle(pilot)
            assert "Opening the project" not in screen_text(app)
    finally:
        await studio.aclose()


async def test_an_empty_project_still_says_how_to_start(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(160, 48)) as pilot:
        await h.settle(pilot)
        shot = screen_text(app)
        assert "No turn selected" in shot and "No image yet" in shot and "Opening the project" not in shot
