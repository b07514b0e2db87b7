"""The studio App: wires a :class:`banana_studio.services.Studio` into the main screen.

Build it with :func:`make_app` (the CLI and the tests use the same factory).  The caller must have
imported :mod:`banana_studio.tui.images` and called ``select_image_protocol`` before ``App.run()``.

The main screen is the app's *default* screen (:meth:`StudioApp.get_default_screen`), not pushed from
``on_mount``: Textual paints nothing while the app's mount runs, and a screen pushed from there is laid
out inside that window, so its first frame was computed and thrown away and the screen came up piece
by piece.  As the default screen its first frame is the first one written.  (Without an API key the
default screen stays Textual's blank one and the no-key dialog is pushed over it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events
from textual.app import App
from textual.screen import Screen

from banana_studio.config import redact
from banana_studio.tui import actions
from banana_studio.tui.batch_watch import BatchWatcher
from banana_studio.tui.clipboard_image import install_input_filter as _install_clipboard_answer_filter
from banana_studio.tui.commands import StudioCommands
from banana_studio.tui.compositor_cuts import apply as _apply_compositor_cuts
from banana_studio.tui.gc_tuning import resume_automatic as resume_automatic_gc
from banana_studio.tui.gc_tuning import tune_for_interactive
from banana_studio.tui.messages import BatchImported
from banana_studio.tui.screens.confirm import NoKeyScreen, TextPromptScreen
from banana_studio.tui.screens.help import HelpScreen
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.screens.project_picker import ProjectChoice, ProjectPickerScreen
from banana_studio.tui.screens.too_small import TooSmallScreen, is_too_small
from banana_studio.tui.session import SessionTotals
from banana_studio.tui.terminal_guard import install as _install_terminal_guard
from banana_studio.tui.textual_fixes import apply as _apply_textual_fixes

if TYPE_CHECKING:
    from banana_studio.services import Studio

_apply_textual_fixes()
_apply_compositor_cuts()  # a line whose every piece lies behind a widget in front is not divided
_install_terminal_guard()  # no widget can write a raw control character to the terminal
_install_clipboard_answer_filter()  # the terminal's OSC 5522 answers are never replayed as key presses


class StudioApp(App[None]):
    """Banana Studio."""

    CSS_PATH = "app.tcss"
    TITLE = "Banana Studio"
    COMMANDS = App.COMMANDS | {StudioCommands}
    BINDINGS = actions.bindings("app")

    def __init__(self, studio: Studio, *, open_turn: int | None = None, project_dir: Path | None = None,
                 studio_opener: Callable[..., Studio] | None = None) -> None:
        super().__init__()
        self.studio = studio
        self.config = studio.config
        self.open_turn = open_turn
        self.project_dir = project_dir
        """``--project-dir`` (folder holding projects) if given; else the config's projects root."""
        self.user_keymap, self._unknown_keys = actions.resolve_keymap(dict(self.config.keymap or {}))
        """The config's ``[keymap]`` with earlier ids replaced by the current ones."""
        self._opener = studio_opener
        self._main: MainScreen | None = None
        self.session = SessionTotals()
        """What this app run spent (all projects)."""
        self._batch_watchers: dict[int, BatchWatcher] = {}
        self._size_checked = False
        self._close_on_exit = False

    @property
    def projects_root(self) -> Path:
        if self.project_dir is not None:
            return Path(self.project_dir).expanduser()
        store_path = getattr(self.studio.store, "path", None)
        if store_path is not None:
            return Path(store_path).parent
        return self.config.projects_root()

    # -- start-up -------------------------------------------------------------------------------

    def _needs_key_choice(self) -> bool:
        return bool(getattr(self.studio, "needs_demo", False) and not getattr(self.studio, "demo", False))

    def get_default_screen(self) -> Screen[Any]:
        if self._needs_key_choice():
            return super().get_default_screen()
        self._main = MainScreen(self.studio, open_turn=self.open_turn)
        # A pushed screen carries a result callback and switch_screen() pops one; the default screen
        # gets an empty one so that switching projects can replace it like any other main screen.
        self._main._push_result_callback(self, None)
        return self._main

    def notify(self, message: str, *, title: str = "", severity: Any = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications never parse markup: their text often holds outside data (server messages,
        prompts, file names), and ``[@click=…]`` / ``[link=…]`` in it must stay plain text.  (Widgets'
        ``notify`` passes its own ``markup=True`` default through; it is ignored here on purpose.)"""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    def on_mount(self) -> None:
        theme = self.config.theme
        if theme in self.available_themes:
            self.theme = theme
        else:
            self.notify(f"Unknown theme {theme!r} in the config; available: "
                        f"{', '.join(sorted(self.available_themes))}.", severity="warning")
        if self.user_keymap:
            self.set_keymap(self.user_keymap)
            if self._unknown_keys:
                ids = "id" if len(self._unknown_keys) == 1 else "ids"
                self.notify(f"Unknown binding {ids} in [keymap]: {', '.join(self._unknown_keys)}. See ? for the ids.",
                            severity="warning")
        for problem in self.config.problems:
            self.notify(redact(problem), title="Config", severity="warning", timeout=10)
        if self._main is None:  # no API key: the default screen is blank, ask what to do
            self.push_screen(NoKeyScreen(), self._no_key_choice)
        elif getattr(self.studio, "demo_into_real", ""):
            self._ask_demo_into_real()
        self._size_checked = True
        self._check_size(self.size.width, self.size.height)
        self.call_after_refresh(tune_for_interactive, self)  # short GC pauses, between frames (gc_tuning)

    def _ask_demo_into_real(self, studio: Studio | None = None, on_yes: Callable[[], Awaitable[None]] | None = None,
                            on_no: Callable[[], Awaitable[None]] | None = None) -> None:
        """Demo mode opened a real project: ask before synthetic turns are added beside real ones.
        Defaults: the app's studio; no → quit."""
        from banana_studio.tui.screens.confirm import ConfirmScreen

        studio = studio or self.studio
        name = studio.store.name

        async def answered(yes: bool | None) -> None:
            if yes:
                if on_yes is not None:
                    await on_yes()
                self.notify("Demo turns added here are marked DEMO; their costs are simulated and not counted.",
                            title="Demo mode in a real project", severity="warning", timeout=10)
            elif on_no is not None:
                await on_no()
            else:
                self.exit(return_code=1, message="Nothing was added. Demo mode keeps its own projects folder: "
                                                 "run banana-studio --demo without --project-dir.")

        self.push_screen(ConfirmScreen(
            "Demo mode in a real project",
            f"Project {name!r} is a real project ({studio.demo_into_real}). Demo turns (synthetic images, "
            "simulated costs) would be added beside your real ones, marked DEMO. Demo mode normally uses its "
            "own projects folder. Add demo turns to this project?", yes="Add demo turns here",
            no="Cancel" if on_no is not None else "Quit"),
            answered)

    def _show_main(self) -> None:
        self._main = MainScreen(self.studio, open_turn=self.open_turn)
        self.push_screen(self._main)

    async def _no_key_choice(self, choice: str | None) -> None:
        if choice == "demo":
            new = await self._open_studio(self.studio.store.name, demo=True)
            if new is None:
                self.exit(return_code=1)
                return
            old, self.studio = self.studio, new
            await _aclose(old)
            self._show_main()
            self.notify("Demo mode: a local server answers with synthetic images. Nothing is billed.",
                        title="Demo mode")
        else:
            self.exit()

    async def _open_studio(self, project: str, *, demo: bool | None = None) -> Studio | None:
        opener = self._opener
        if opener is None:
            from banana_studio.services import Studio

            opener = Studio.open
        use_demo = self.studio.demo if demo is None else demo
        try:
            return await asyncio.to_thread(opener, self.config, project=project,
                                           project_dir=self.project_dir, demo=use_demo)
        except Exception as exc:
            self.notify(redact(str(exc)), title=f"Cannot open project {project!r}", severity="error")
            return None

    # -- batch jobs -------------------------------------------------------------------------------

    def batch_watcher_for(self, studio: Studio) -> BatchWatcher:
        """The watcher of ``studio``'s batch jobs (one per opened studio, for the whole session)."""
        watcher = self._batch_watchers.get(id(studio))
        if watcher is None or watcher.studio is not studio:
            watcher = self._batch_watchers[id(studio)] = BatchWatcher(self, studio)
        return watcher

    def on_batch_imported(self, message: BatchImported) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen) and screen.studio is message.studio:
                screen.post_message(BatchImported(message.studio))

    # -- terminal size --------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        # The app's first Resize comes before its styles are applied and before on_mount (which checks
        # the size itself): a screen pushed then would be styled against an unstyled app.
        if self._size_checked:
            self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        top = self.screen_stack[-1] if self.screen_stack else None
        if is_too_small(width, height):
            if isinstance(top, TooSmallScreen):
                top.update_size(width, height)
            else:
                self.push_screen(TooSmallScreen())
        elif isinstance(top, TooSmallScreen):
            self.pop_screen()

    # -- actions --------------------------------------------------------------------------------

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_projects(self) -> None:
        self.push_screen(ProjectPickerScreen(self.projects_root, self.studio.store.name), self._picked)

    def action_new_project(self) -> None:
        picker = ProjectPickerScreen(self.projects_root, self.studio.store.name)
        self.push_screen(picker, self._picked)
        self.call_after_refresh(picker.action_new)

    def action_rename_project(self) -> None:
        current = self.studio.store.name

        async def done(name: str | None) -> None:
            if name and name.strip() != current:
                await self.rename_project(current, name.strip())

        self.push_screen(TextPromptScreen("Rename project", f"New name for {current!r}:", value=current), done)

    async def _picked(self, choice: ProjectChoice | None) -> None:
        if choice is None:
            return
        if choice.action in ("open", "new"):
            await self.open_project(choice.name)
        elif choice.action == "rename":
            await self.rename_project(choice.name, choice.new_name)

    def _busy(self) -> bool:
        main = self._main
        if main is not None and main.generating:
            self.notify("A generation is running — wait for it or cancel it (Esc) first.", severity="warning")
            return True
        return False

    async def show_turn_in(self, project: str, turn_id: int) -> None:
        """Show turn ``turn_id`` of ``project`` (the library's Enter): in this project's tree, or after
        switching to that project."""
        if project != self.studio.store.name:
            await self.open_project(project, turn_id=turn_id)
            return
        main = self._main
        if main is None:
            return
        while len(self.screen_stack) > 1 and self.screen is not main:
            await self.pop_screen()
        main.tree.select_turn(turn_id)

    async def open_project(self, name: str, *, turn_id: int | None = None) -> None:
        """Open (or create) project ``name`` and show it (at ``turn_id`` if given)."""
        if name == self.studio.store.name or self._busy():
            return
        new = await self._open_studio(name)
        if new is None:
            return
        if getattr(new, "demo_into_real", ""):  # demo mode switching into a real project: ask first

            async def no() -> None:
                await _aclose(new)

            self._ask_demo_into_real(new, on_yes=lambda: self._replace_studio(new, turn_id), on_no=no)
            return
        await self._replace_studio(new, turn_id)
        self.notify(f"Opened project {name!r}.")

    async def _replace_studio(self, new: Studio, turn_id: int | None = None) -> None:
        old, self.studio = self.studio, new
        self.open_turn = turn_id
        self._main = MainScreen(new, open_turn=turn_id)
        await self._switch_main(self._main)
        await _aclose(old)

    async def _switch_main(self, main: MainScreen) -> None:
        """Replace the main screen (and anything above it) with ``main``."""
        stack = self.screen_stack
        base = next((i for i, screen in enumerate(stack) if isinstance(screen, MainScreen)), len(stack) - 1)
        while len(self.screen_stack) > base + 1:
            await self.pop_screen()
        await self.switch_screen(main)

    async def rename_project(self, old: str, new: str) -> None:
        from banana_studio.store import ProjectError, validate_project_name

        try:
            validate_project_name(new)
        except ProjectError as exc:
            self.notify(str(exc), title="Cannot rename", severity="error")
            return
        if self._busy():
            return
        root = self.projects_root
        src, dst = root / old, root / new
        if dst.exists():
            self.notify(f"A project named {new!r} already exists.", title="Cannot rename", severity="error")
            return
        current = old == self.studio.store.name
        if current:
            await _aclose(self.studio)
        try:
            await asyncio.to_thread(os.rename, src, dst)
        except OSError as exc:
            self.notify(f"Cannot rename {src} → {dst}: {exc.strerror}.", title="Cannot rename", severity="error")
            dst = src
            new = old
        if current:
            reopened = await self._open_studio(new)
            if reopened is None:
                self.exit(return_code=1)
                return
            self.studio = reopened
            self._main = MainScreen(reopened)
            await self._switch_main(self._main)
        if new != old:
            self.notify(f"Renamed project {old!r} to {new!r}.")

    async def action_quit(self) -> None:
        """Quit; a running generation is cancelled first so its turn is recorded as cancelled."""
        main = self._main
        if main is not None and main.gen_worker is not None and main.generating:
            worker = main.gen_worker
            worker.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.wait(), 5)
        self._close_on_exit = True
        self.exit()  # the project closes in on_unmount, after the screens handled their last messages

    async def on_unmount(self) -> None:
        """After a quit, close the project only once every screen has stopped: a handler still
        finishing a cancelled generation (tree, costs) must not find the store closed under it.  (An
        app that did not quit, e.g. a test's, leaves its caller's studio open.)"""
        resume_automatic_gc()  # this app's loop paced the collections (gc_tuning)
        if self._close_on_exit:
            await _aclose(self.studio)


async def _aclose(studio: Studio) -> None:
    closer = getattr(studio, "aclose", None)
    if closer is None:
        return
    try:
        await closer()
    except Exception:  # closing must never crash the UI
        pass


def make_app(studio: Studio, *, open_turn: int | None = None, project_dir: Path | None = None) -> StudioApp:
    """The one factory the CLI and the tests use."""
    return StudioApp(studio, open_turn=open_turn, project_dir=project_dir)
