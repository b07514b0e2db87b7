"""Start-up structure (issue #6, target 1): the main screen is the app's default screen, its first
frame is lean (the settings controls and the Markdown views come after it), and the complete screen
is the same as when everything is mounted at once."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Input, Select, Static, Switch, TextArea

from banana_studio.domain.settings import GenerationSettings
from banana_studio.tui.app import make_app
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets.footer import StudioFooter
from banana_studio.tui.widgets.sidebar import SettingsSidebar
from banana_studio.tui.widgets.thinking_log import ThinkingLog
from banana_studio.tui.widgets.turn_detail import TurnDetail

SIZE = (140, 45)


def _text(widget: Static) -> str:
    return str(widget.render())


async def _complete(pilot: Any, main: MainScreen, h: Any) -> None:
    await h.wait_until(pilot, main.started.is_set, what="the project to load")
    await h.wait_until(pilot, lambda: main.query_one(SettingsSidebar).fields_ready, what="the settings controls")
    await h.settle(pilot)
    for widget in main.query("TextArea, Input"):
        if isinstance(widget, TextArea | Input):
            widget.cursor_blink = False
    await pilot.pause(0.1)


def _screenshot(app: Any) -> str:
    return re.sub(r"terminal-\d+", "terminal", app.export_screenshot())


async def test_main_screen_is_the_default_screen(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        assert len(app.screen_stack) == 1 and isinstance(app.screen_stack[0], MainScreen)
        main = app.screen
        assert isinstance(main, MainScreen)
        # Breakpoint classes are there from the start (no restyle of the whole tree on the first resize).
        assert main.has_class("-wide") and main.has_class("-tall")
        # Headless: everything is mounted before the test gets control.
        assert main.query_one(SettingsSidebar).fields_ready
        assert main.query_one("#model", Select).value == demo_studio.config.defaults.model
        await _complete(pilot, main, h)


async def test_too_small_screen_is_pushed_once(demo_studio: Any) -> None:
    from banana_studio.tui.screens.too_small import TooSmallScreen

    app = make_app(demo_studio)
    async with app.run_test(size=(70, 20)) as pilot:
        await pilot.pause(0.1)
        assert [type(s) for s in app.screen_stack] == [MainScreen, TooSmallScreen]
        message = app.screen.query_one("#too-small-message", Static)
        assert message.visual_style.foreground is not None
        assert message.visual_style.foreground.a > 0, "styled against the app's styles, text visible"


async def test_deferred_start_is_lean_then_complete_and_identical(demo_studio: Any, h: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    eager = make_app(demo_studio)
    async with eager.run_test(size=SIZE) as pilot:
        main = eager.screen
        assert isinstance(main, MainScreen)
        await _complete(pilot, main, h)
        expected = _screenshot(eager)

    monkeypatch.setattr(MainScreen, "DEFER_MOUNT", True)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        sidebar = main.query_one(SettingsSidebar)
        # The first frame: every region, but no settings controls and no Markdown views yet.
        assert not sidebar.fields_ready
        assert not main.query("#model") and not main.query("Markdown")
        assert str(sidebar.border_title).startswith("Settings") and main.query_one("#estimate", Static)
        assert sidebar.settings == demo_studio.config.defaults
        await _complete(pilot, main, h)
        assert main.query_one("#model", Select).value == demo_studio.config.defaults.model
        assert _screenshot(app) == expected, "the completed deferred screen equals the eagerly mounted one"
        # The thinking log's Markdown view is prepared a moment later, and a send works.
        log = main.query_one(ThinkingLog)
        await h.wait_until(pilot, lambda: bool(log.query("#log-thoughts")), what="the log's Markdown view")
        await h.send_prompt(pilot, main, "a lighthouse at dusk")
        assert log.thought_text.strip()
        assert demo_studio.store.get_turn(1).status == "done"


async def test_focus_settings_before_the_controls_exist(demo_studio: Any, h: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MainScreen, "DEFER_MOUNT", True)
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        main.action_focus("sidebar")  # F4 right at start-up: focus lands on the model once it exists
        await _complete(pilot, main, h)
        assert app.focused is main.query_one("#model", Select)


class _SidebarApp(App[None]):
    def __init__(self, defer: bool) -> None:
        super().__init__()
        self.defer = defer
        self.changes: list[GenerationSettings] = []

    def compose(self) -> ComposeResult:
        yield SettingsSidebar(GenerationSettings(), id="sidebar", defer_fields=self.defer)

    def on_settings_sidebar_changed(self, event: SettingsSidebar.Changed) -> None:
        self.changes.append(event.settings)


def _controls(sidebar: SettingsSidebar) -> dict[str, Any]:
    return {
        "model": sidebar.query_one("#model", Select).value,
        "aspect": sidebar.query_one("#aspect", Select).value,
        "size": sidebar.query_one("#size", Select).value,
        "thinking": sidebar.query_one("#thinking", Select).value,
        "search": (sidebar.query_one("#search", Switch).value, sidebar.query_one("#search", Switch).disabled),
        "temperature": sidebar.query_one("#temperature", Input).value,
        "seed": sidebar.query_one("#seed", Input).value,
        "system": sidebar.query_one("#system", TextArea).text,
        "shape-note": _text(sidebar.query_one("#shape-note", Static)),
        "model-note": _text(sidebar.query_one("#model-note", Static)),
        "estimate": _text(sidebar.query_one("#estimate", Static)),
        "problems": _text(sidebar.query_one("#problems", Static)),
    }


async def test_sidebar_load_before_its_controls_exist_matches_eager() -> None:
    """``load()`` while the controls are deferred: the settings are fitted to the model at once (and
    reported), and the controls show them — with the fallback note — when they are mounted."""
    loaded = GenerationSettings(model="gemini-3.1-flash-lite-image", aspect_ratio="21:9", image_size="4K",
                                google_search=True, temperature=0.7, seed=42, system_instruction="flat colours")
    results = []
    for defer in (False, True):
        app = _SidebarApp(defer)
        async with app.run_test() as pilot:
            sidebar = app.query_one(SettingsSidebar)
            assert sidebar.fields_ready is not defer
            sidebar.load(loaded)
            await pilot.pause()
            s = sidebar.settings
            assert (s.image_size, s.google_search) == ("1K", False), "fitted to the model before any control"
            assert app.changes and app.changes[-1] == s
            if defer:
                assert not sidebar.query("#model")
                await sidebar.mount_fields()
                await pilot.pause()
            results.append((s, _controls(sidebar)))
    (eager_settings, eager_controls), (lazy_settings, lazy_controls) = results
    assert lazy_settings == eager_settings
    assert lazy_controls == eager_controls
    assert "4K → 1K" in lazy_controls["shape-note"] and lazy_controls["temperature"] == "0.7"


async def test_turn_detail_mounts_markdown_only_for_thoughts(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        detail = main.query_one(TurnDetail)
        assert not detail.query("#detail-thoughts"), "an empty project never builds the thoughts view"
        await h.send_prompt(pilot, main, "a red fox")
        await h.wait_until(pilot, lambda: detail.turn_id == 1, what="detail of the turn")
        thoughts = detail.query_one("#detail-thoughts")
        assert thoughts.display
        # Placed where it always was: after the answer, before the sources.
        ids = [child.id for child in detail.children]
        assert ids.index("detail-answer") < ids.index("detail-thoughts") < ids.index("detail-sources")
        detail.show_empty()
        assert not thoughts.display


async def test_footer_rebuilds_only_when_its_keys_change(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await _complete(pilot, main, h)
        footer = main.query_one(StudioFooter)
        keys = list(footer.children)
        assert keys, "the footer shows keys"
        main.refresh_bindings()
        main.refresh_bindings()
        await pilot.pause(0.1)
        assert list(footer.children) == keys, "same bindings: the key widgets are kept"
        await pilot.press("f3")  # focus the tree: its own keys appear
        await pilot.pause(0.1)
        assert list(footer.children) != keys
        assert any("Parent" in str(key.render()) for key in footer.children)


def test_first_screen_imports_no_markdown() -> None:
    """The studio's TUI modules import neither Textual's Markdown widget nor markdown-it (the first
    screen's largest import before), nor google-genai."""
    code = ("import sys; import banana_studio.tui.app; "
            "bad = [m for m in ('textual.widgets._markdown', 'markdown_it', 'google.genai') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
