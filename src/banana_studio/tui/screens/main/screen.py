"""The main screen: branch tree | stage (preview + turn detail / live thinking log) | settings, with
the composer (reference tray, settings summary, prompt) under the stage and the money/status line
above the footer.

The screen owns the state of the session with the project: the selected turn, a fork / new-thread
override of the parent, whether a generation runs; the widgets show it.  Threading model: every
store call runs in ``asyncio.to_thread``; the generation runs in one async worker (group ``gen``)
that iterates ``studio.generate`` and posts :class:`GenerationEvent` messages, which the stage and
the screen turn into widget changes.  Esc cancels the worker (the service marks the turn cancelled).

Start-up (in a real terminal): the first frame shows every region — title bar, branch panel, preview,
turn detail, prompt, settings frame, status line, footer — and the rest follows right after it is
painted (:meth:`MainScreen._finish_start`): the settings controls, the project's tree and costs, and
the thinking log's Markdown view.  Headless runs (Pilot tests, screenshots) mount everything before
the screen is ready, so they can query any widget at once (see ``DEFER_MOUNT``).
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from banana_studio.config import redact
from banana_studio.tui import actions
from banana_studio.tui.messages import BatchImported
from banana_studio.tui.screens.main.composer import Composer
from banana_studio.tui.screens.main.file_actions import FileActions
from banana_studio.tui.screens.main.layout import MainLayout
from banana_studio.tui.screens.main.named_actions import NamedActions
from banana_studio.tui.screens.main.sending import Sending
from banana_studio.tui.screens.main.stage import Stage
from banana_studio.tui.screens.main.template_actions import TemplateActions
from banana_studio.tui.screens.main.turn_actions import NEW_ROOT, TurnActions
from banana_studio.tui.screens.main.watching import Watching
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.footer import StudioFooter
from banana_studio.tui.widgets.settings_summary import SettingsSummary
from banana_studio.tui.widgets.sidebar import SettingsSidebar
from banana_studio.tui.widgets.status_line import Money, StatusLine

if TYPE_CHECKING:
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.domain.turn import Turn
    from banana_studio.services import GenerateRequest, Studio
    from banana_studio.store import TurnNode
    from banana_studio.tui.app import StudioApp

__all__ = ["NEW_ROOT", "MainScreen"]


class MainScreen(Sending, TurnActions, NamedActions, FileActions, TemplateActions, Watching, MainLayout,
                 Screen[None]):
    """Where images are made."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = actions.bindings("main")
    """Declared in :mod:`banana_studio.tui.actions` (owner ``main``): a new key of the main screen goes
    there, its action method in :mod:`.turn_actions` (or :mod:`.file_actions`)."""

    DEFER_MOUNT: ClassVar[bool | None] = None
    """Mount the settings controls and load the project only after the first paint.  None: only when
    the app runs in a real terminal (not headless)."""

    selected_id: var[int | None] = var(None, init=False)
    """The tree cursor: the next send continues from it (None = empty project)."""
    parent_override: var[int | None] = var(None, init=False)
    """Set by fork (the selected turn's parent) or new-thread (NEW_ROOT)."""
    generating: var[bool] = var(False, init=False)
    """A generation runs (from the send until its worker stopped)."""
    activity: var[str] = var("", init=False)
    """The generation state for the status line ('◌ Thinking…', 'retry 2/5 in 3s', ...)."""
    money: var[Money] = var(Money, init=False)
    """The costs for the status line."""

    def __init__(self, studio: Studio, *, open_turn: int | None = None) -> None:
        # The breakpoint classes for the current size, set now: added after the mount (on the first
        # Resize) they would restyle the whole tree once more.
        super().__init__(classes=_breakpoint_classes(self))
        self.apply_layout()
        self.started = asyncio.Event()
        """Set once everything is mounted and the project's tree is loaded (see _finish_start)."""
        self._resumed = False
        self.studio = studio
        self.store = studio.store
        self.config = studio.config
        if self.config.send_key == "enter":
            self._show_enter_as_send()
        self._open_turn = open_turn
        self.image_alone_of: int | None = None
        """With NEW_ROOT: the turn whose image alone the next send continues from (see tui.from_image)."""
        self.gen_worker: Worker[None] | None = None
        self.gen_id = 0
        self.live_turn_id: int | None = None
        self.compare_mark: int | None = None
        self.last_error = ""
        self._live_request: GenerateRequest | None = None
        self._pin_log_turn: int | None = None
        """A turn that failed while we watched: its log (with the red error) stays up until the user moves."""
        self._live_saved = False
        self.shown_turn: Turn | None = None
        """The turn the stage shows (loaded from the store for the tree cursor)."""

    def _show_enter_as_send(self) -> None:
        """With ``ui.send_key = "enter"`` the footer and help show ⏎ for Send (the prompt sends on Enter)."""
        for key, bindings in self._bindings.key_to_bindings.items():
            self._bindings.key_to_bindings[key] = [
                dataclasses.replace(b, key_display="⏎") if b.action == "send" else b for b in bindings
            ]

    @property
    def studio_app(self) -> StudioApp:
        return cast("StudioApp", self.app)

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static(Text.assemble(("▌", "bold #f5c518"), ("Banana Studio", "bold"), "  ",
                                       (self.store.name, "bold")), id="title")
            yield Static(self.studio.target_label, id="target")
            badge = Static("DEMO — local server, synthetic images", id="demo-badge")
            badge.display = bool(self.studio.demo)
            yield badge
        sidebar = SettingsSidebar(self.config.defaults, estimator=self._estimate, id="sidebar",
                                  vertex=self.studio.target.vertex, defer_fields=self._defers_mount())
        with Horizontal(id="body"):
            tree = BranchTree([], id="tree")
            tree.border_title = "Branches"
            yield tree
            with Vertical(id="centre"):
                yield Stage(id="stage").data_bind(MainScreen.selected_id)
                yield Composer(sidebar, send_key=self.config.send_key, defaults=self.config.defaults,
                               estimate=self._estimate, id="composer")
            yield sidebar
        yield StatusLine(id="status").data_bind(MainScreen.money, state=MainScreen.activity)
        yield StudioFooter()

    @property
    def stage(self) -> Stage:
        return self.query_one(Stage)

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def tree(self) -> BranchTree:
        return self.query_one(BranchTree)

    def _estimate(self, settings: GenerationSettings, n_refs: int) -> float:
        return float(self.studio.estimate_cost(settings, n_refs))

    def _defers_mount(self) -> bool:
        if self.DEFER_MOUNT is not None:
            return self.DEFER_MOUNT
        try:
            return not self.app.is_headless
        except Exception:  # no active app (a screen built outside one)
            return False

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # Textual restyles the whole screen when it becomes active.  The first time, every widget was
        # styled a moment ago when it was mounted, so that second pass over the tree is skipped
        # (later resumes, e.g. after a modal, keep it).  Screen's own handler runs after this one.
        if not self._resumed:
            self._resumed = True
            event.refresh_styles = False

    def on_mount(self) -> None:
        self.update_prompt_title()
        self.composer.start(self.store.path)
        self.composer.focus_prompt()
        self.watch_project()
        if self._defers_mount():
            self.call_after_refresh(self._finish_start)
        else:
            self._initial_load()

    async def _finish_start(self) -> None:
        """After the first paint: load the project (tree, costs, history) in a worker and mount the
        settings controls meanwhile.  The thinking log's Markdown view (hidden until the first send)
        is prepared a little later, once the screen is complete."""
        self._initial_load()
        await self.query_one(SettingsSidebar).mount_fields()
        self.set_timer(0.5, self.stage.prepare_log)

    # -- the project ----------------------------------------------------------------------------

    @work(group="load", exit_on_error=False)
    async def _initial_load(self) -> None:
        try:
            await self._load_project()
            if not self._defers_mount():
                # Headless, everything is mounted before the screen is ready: the log's Markdown view
                # too (else the first send pays for importing and mounting it, ~150 ms on the loop).
                await self.stage.prepare_log()
        except Exception:
            self.stage.show_empty(unless_shown=True)  # not "Opening the project…" for ever
            raise
        finally:
            self.started.set()

    async def _load_project(self) -> None:
        turn_ids, parents = await asyncio.to_thread(self.store.tree_skeleton)
        at = bisect.bisect_left(turn_ids, self._open_turn) if self._open_turn is not None else len(turn_ids)
        found = at < len(turn_ids) and turn_ids[at] == self._open_turn
        latest = turn_ids[-1] if turn_ids else None
        await self._show_tree(turn_ids, parents, select=self._open_turn if found else latest)
        # `open IMAGE`: that turn's settings too (the branch is the tree cursor).  Else the next send
        # continues from the newest turn with its settings (not the config defaults: that would
        # silently change the aspect ratio and size).
        settings_of = self._open_turn if found else latest
        if settings_of is not None:
            try:
                turn = await asyncio.to_thread(self.store.get_turn, settings_of)
                self.composer.load_settings(turn.settings, f"of #{turn.id}")
            except Exception:
                pass
        else:
            self.stage.show_empty()
        await self.refresh_costs()
        self._resume_batches()  # unfinished Batch API jobs of the project keep being polled
        from banana_studio.tui.setup_check import check_target_on_start

        check_target_on_start(self)  # Vertex AI: project, location, credentials — said up front
        recovered = list(getattr(self.store, "recovered", []) or [])
        if recovered:
            ids = ", ".join(f"#{i}" for i in recovered[:6]) + ("…" if len(recovered) > 6 else "")
            n = len(recovered)
            self.notify(f"{n} turn{'s were' if n > 1 else ' was'} interrupted ({ids}) — select "
                        f"{'them' if n > 1 else 'it'} and press R (or Ctrl+T) to retry.",
                        title="Interrupted generations", severity="warning", timeout=12)
        # Prompt history: the project's recent prompts, full text, oldest first.
        recent = await asyncio.to_thread(self.store.recent, 40)
        full: list[str] = []
        for node in sorted(recent, key=lambda n: n.id):
            if len(node.prompt) >= 120:
                try:
                    turn = await asyncio.to_thread(self.store.get_turn, node.id)
                    full.append(turn.prompt)
                    continue
                except Exception:
                    pass
            full.append(node.prompt)
        self.composer.add_history(full)

    def _resume_batches(self) -> None:
        async def go() -> None:
            n = await self.studio_app.batch_watcher_for(self.studio).resume()
            if n:
                self.notify(f"Waiting for {n} batch job{'s' if n > 1 else ''} in the background; results are "
                            "imported when ready (F8 shows progress).", title="Batch jobs")

        self.run_worker(go(), group="batch-resume", exclusive=True, exit_on_error=False)

    def on_batch_imported(self, message: BatchImported) -> None:
        if message.studio is self.studio:
            self.run_worker(self.reload_tree(), group="batch-reload", exit_on_error=False)

    async def _show_tree(self, ids: list[int], parents: list[int | None], *, select: int | None) -> BranchTree:
        """The branch tree from the project's skeleton; display rows load lazily (on screen + ancestors)."""
        tree = self.tree
        await tree.load(ids, parents, self._fetch_nodes, select=select)
        n = tree.turn_count
        tree.border_title = f"Branches · {n} turn{'s' if n != 1 else ''}"
        self.update_prompt_title()
        return tree

    async def _fetch_nodes(self, ids: list[int]) -> list[Any]:
        return await asyncio.to_thread(self.store.nodes_for, ids)

    async def reload_tree(self, select: int | None = None, *, keep_cursor: bool = False) -> None:  # cursor as it is now
        ids, parents = await asyncio.to_thread(self.store.tree_skeleton)
        await self._show_tree(ids, parents, select=(self.tree.cursor_id or self.selected_id) if keep_cursor else select)

    def node(self, turn_id: int | None) -> TurnNode | None:
        """The tree row of ``turn_id`` (status, parent, star, label) if it is loaded, else None."""
        return self.tree.loaded_nodes.get(turn_id) if turn_id is not None else None

    async def refresh_costs(self) -> None:
        """The status line's costs for the selected turn, its branch, the session and the project."""
        costs = await asyncio.to_thread(self.store.costs, self.selected_id)
        session = self.studio_app.session
        turn_cost: float | None = None
        branch_turns = 0
        if self.live_unsaved and self.selected_id == self.live_turn_id:
            branch_turns = self.money.branch_turns  # not priced until it is saved
        elif self.selected_id is not None:
            turn_cost = costs.get("turn", 0.0) or costs.get("demo_turn", 0.0)
            branch_turns = len(self.tree.path_to(self.selected_id))
        budget, daily = self.config.project_budget, self.config.daily_budget
        notes = []
        if budget is not None and costs.get("project", 0.0) >= budget:
            notes.append(f"project budget ${budget:.2f} reached")
        if daily is not None and costs.get("today", 0.0) >= daily:
            notes.append(f"daily budget ${daily:.2f} reached")
        self.money = Money(
            turn_cost=turn_cost, turn_tokens=self.money.turn_tokens, branch_cost=costs.get("branch", 0.0),
            branch_turns=branch_turns, project_cost=costs.get("project", 0.0), today_cost=costs.get("today", 0.0),
            demo_cost=costs.get("demo_project", 0.0),  # simulated, shown apart
            turn_simulated=bool(costs.get("demo_turn")), session_cost=session.cost,
            session_tokens=session.tokens, budget_note=" · ".join(notes))

    # -- selection ------------------------------------------------------------------------------

    @on(BranchTree.TurnHighlighted)
    def _highlighted(self, event: BranchTree.TurnHighlighted) -> None:
        if event.turn_id != self._pin_log_turn:
            self._pin_log_turn = None
        self.selected_id = event.turn_id
        self.update_prompt_title()
        self.load_turn(event.turn_id, debounce=0.05)

    @on(BranchTree.TurnSelected)
    def _selected(self, event: BranchTree.TurnSelected) -> None:
        """Enter on a turn: take its settings into the sidebar and go write the next prompt."""
        turn = self.shown_turn
        if turn is not None and turn.id == event.turn_id:
            self.composer.load_settings(turn.settings, f"of #{turn.id}")
        self.composer.focus_prompt()

    @work(group="detail", exclusive=True, exit_on_error=False)
    async def load_turn(self, turn_id: int, *, debounce: float = 0.0) -> None:
        """Show ``turn_id`` on the stage (read from the store off the loop)."""
        if debounce:
            await asyncio.sleep(debounce)  # key repeat through the tree: only the last turn loads
        try:
            turn = await asyncio.to_thread(self.store.get_turn, turn_id)
            costs = await asyncio.to_thread(self.store.costs, turn_id)
        except Exception as exc:
            self.notify(redact(str(exc)), title=f"Cannot load turn #{turn_id}", severity="error")
            return
        self.shown_turn = turn
        abs_path = self.store.abs_path
        images = [(abs_path(i.path), f"final {i.index + 1}" if i.kind == "final" else f"draft {i.index + 1}")
                  for i in turn.final_images + turn.draft_images]
        shown = turn.final_images[-1:] or turn.draft_images[-1:]
        keep_tab = (self.live_unsaved and self.selected_id == self.live_turn_id) or turn_id == self._pin_log_turn
        await self.stage.show_turn(turn, costs, images, keep_tab=keep_tab)
        await self.refresh_costs()
        if self.live_unsaved and turn_id == self.live_turn_id:
            return  # the live preview (drafts) stays
        await self.stage.show_image(turn, abs_path(shown[0].path) if shown else None)

    @on(Composer.Changed)
    def _composer_changed(self) -> None:
        self._refresh_request_size()

    @on(SettingsSidebar.Changed)
    def _settings_changed(self, event: SettingsSidebar.Changed) -> None:
        self.composer.settings_changed(event.settings)

    @on(SettingsSummary.Opened)
    def _summary_clicked(self) -> None:
        self.action_toggle_settings()

    @on(Stage.ViewerRequested)
    def _viewer_requested(self) -> None:
        self.action_viewer()

    # -- focus ----------------------------------------------------------------------------------

    def action_focus(self, target: str) -> None:
        if target == "tree":
            if not self.tree_on or self.focus_mode:
                self.show_tree(True)
            self.call_after_refresh(self.tree.focus)
        elif target == "sidebar":
            self.show_settings(True)
            self.call_after_refresh(self.query_one(SettingsSidebar).focus_first)
        else:
            self.composer.focus_prompt()


def _breakpoint_classes(screen: Screen[Any]) -> str | None:
    """The classes Textual's breakpoints give ``screen`` at the app's current size (None: no app)."""
    try:
        width, height = screen.app.size
    except Exception:
        return None
    names = []
    for value, points in ((width, screen.HORIZONTAL_BREAKPOINTS), (height, screen.VERTICAL_BREAKPOINTS)):
        for at, name in sorted(points or [], reverse=True):
            if value >= at:
                names.append(name)
                break
    return " ".join(names) or None
