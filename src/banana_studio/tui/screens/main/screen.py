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
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker, WorkerState

from banana_studio.config import redact
from banana_studio.domain import events as ev
from banana_studio.tui.budget_guard import guarded
from banana_studio.tui.messages import BatchImported, GenerationEnded, GenerationEvent
from banana_studio.tui.screens.main.composer import Composer
from banana_studio.tui.screens.main.file_actions import FileActions
from banana_studio.tui.screens.main.layout import MainLayout
from banana_studio.tui.screens.main.stage import Stage
from banana_studio.tui.screens.main.turn_actions import NEW_ROOT, TurnActions
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.footer import StudioFooter
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.settings_summary import SettingsSummary
from banana_studio.tui.widgets.sidebar import SettingsSidebar
from banana_studio.tui.widgets.status_line import Money, StatusLine

if TYPE_CHECKING:
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.domain.turn import Turn
    from banana_studio.services import GenerateRequest, Studio
    from banana_studio.tui.app import StudioApp

__all__ = ["NEW_ROOT", "MainScreen"]


class MainScreen(TurnActions, FileActions, MainLayout, Screen[None]):
    """Where images are made."""

    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (36, "-tall")]

    BINDINGS = [
        Binding("ctrl+enter,ctrl+j", "send", "Send", key_display="ctrl+⏎", id="send",
                tooltip="Send the prompt; continues from the selected turn (a new turn in the tree)"),
        Binding("escape", "cancel", "Cancel", id="cancel", tooltip="Cancel the running generation"),
        Binding("escape", "leave_input", "Leave the prompt (letters then act on the turn)", show=False,
                id="leave-input"),
        Binding("ctrl+r", "reroll", "Re-roll", id="reroll", tooltip="Same prompt and settings, a new sibling"),
        Binding("ctrl+t,R", "retry", "Retry", id="retry", show=False,
                tooltip="Send a failed, cancelled or interrupted turn again (same request)"),
        Binding("ctrl+f", "fork", "Fork", id="fork",
                tooltip="Load the selected turn's prompt/settings to change them; the send makes a sibling"),
        Binding("ctrl+n", "new_thread", "New thread", id="new-thread", show=False,
                tooltip="The next send starts a new root turn instead of continuing"),
        Binding("ctrl+b", "toggle_tree", "Tree", id="toggle-tree", tooltip="Show or hide the branch tree"),
        # priority: the prompt's TextArea binds F6 to "select line"; here F6 is the focus mode everywhere.
        Binding("f6", "focus_mode", "Focus", id="focus-mode", priority=True,
                tooltip="Only the picture and the prompt (F6 again: back to the panels)"),
        Binding("ctrl+g", "gallery", "Gallery", id="gallery",
                tooltip="Every image of the project as thumbnails; search, star, compare"),
        Binding("ctrl+l", "add_reference", "Add ref", id="add-reference", show=False,
                tooltip="Add a reference image by path (or paste/drop files on the prompt)"),
        Binding("ctrl+o", "projects", "Projects", id="project-picker", show=False,
                tooltip="Switch to, create or rename a project"),
        Binding("f2", "focus('prompt')", "Focus prompt", id="focus-prompt", show=False,
                tooltip="Go to the prompt"),
        Binding("f3", "focus('tree')", "Focus tree", id="focus-tree", show=False,
                tooltip="Go to the branch tree (shown if hidden)"),
        Binding("f4", "toggle_settings", "Settings", id="focus-sidebar", show=False,
                tooltip="Open the settings (from inside them: fold them to one line)"),
        Binding("u", "use_as_reference", "Use as reference", id="use-as-reference", show=False,
                tooltip="Add the selected turn's image to the references"),
        Binding("i", "continue_from_image", "Continue from the image alone", id="continue-from-image", show=False,
                tooltip="A new root turn with the selected turn's image as its reference; the conversation is "
                        "not carried over (works across demo / Gemini API / Vertex AI)"),
        Binding("s", "star", "Star", id="star", show=False,
                tooltip="Star or unstar the selected turn"),
        Binding("l", "label", "Label", id="label", show=False,
                tooltip="Give the selected turn a short label"),
        Binding("e", "export", "Export branch", id="export", show=False,
                tooltip="Copy the images and a branch.json of the path to the selected turn"),
        Binding("c", "copy_path", "Copy image path", id="copy-path", show=False,
                tooltip="Copy the selected image's file path (OSC 52 clipboard)"),
        Binding("w", "save_as", "Save image as…", id="save-as", show=False,
                tooltip="Save a copy of the selected image (the recipe stays embedded)"),
        Binding("o", "open_external", "Open in viewer app", id="open-external", show=False,
                tooltip="Open the selected image in the system's image viewer"),
        Binding("D", "delete_branch", "Delete branch", id="delete-branch", show=False,
                tooltip="Delete the selected turn and every turn below it (asks first)"),
        Binding("v", "viewer", "View full screen", id="viewer", show=False,
                tooltip="The selected image full screen (fit / 1:1, drafts too)"),
        Binding("m", "compare", "Compare (mark two)", id="compare", show=False,
                tooltip="Mark a turn, then another: side by side with their differences"),
        Binding("L", "toggle_log", "Log / detail", id="toggle-log", show=False,
                tooltip="Turn panel: detail ⇄ thinking log (a past turn's stored thoughts and drafts)"),
        Binding("f9", "external_editor", "Edit prompt in $EDITOR", id="external-editor", show=False,
                tooltip="Write the prompt in your editor; the studio waits"),
        Binding("f5", "variations", "Variations", id="variations",
                tooltip="Send the prompt N times at once and pick the best (N sibling turns)"),
        Binding("f8", "batch_jobs", "Batch jobs", id="batch-jobs", show=False,
                tooltip="Gemini Batch API jobs of the project (half price, results later)"),
        Binding("E", "export_storyboard", "Export storyboard", id="export-storyboard", show=False,
                tooltip="Contact sheet PNG and HTML/Markdown pages of the branch"),
    ]

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
        self.composer.focus_prompt()
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

    async def reload_tree(self, select: int | None = None) -> None:
        ids, parents = await asyncio.to_thread(self.store.tree_skeleton)
        await self._show_tree(ids, parents, select=select)

    def node(self, turn_id: int | None) -> Any:
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

    def requested_parent(self) -> int | None:
        """The turn the next send continues from: a fork/new-thread override, else the tree cursor."""
        if self.parent_override == NEW_ROOT:
            return None
        if self.parent_override is not None:
            return self.parent_override
        return self.selected_id

    @work(exclusive=True, group="request-size")
    async def _refresh_request_size(self) -> None:
        """Measure the next request (history + refs) off the loop and show it under the cost."""
        composer = self.composer
        settings, refs = composer.settings, composer.references
        try:
            size = await asyncio.to_thread(self.studio.next_request_size, self.requested_parent(), settings, refs)
        except Exception:  # a measurement must never break the screen
            return
        self.query_one(SettingsSidebar).set_request_size(size.label(), size.warning)

    def update_prompt_title(self) -> None:
        """The prompt's title says where the next send goes (and the request is measured again)."""
        self._refresh_request_size()
        composer = self.composer
        if self.parent_override == NEW_ROOT and self.image_alone_of is not None:
            from banana_studio.tui.from_image import IMAGE_ALONE_TITLE

            composer.title = IMAGE_ALONE_TITLE.format(id=self.image_alone_of)
        elif self.parent_override == NEW_ROOT:
            composer.title = "Prompt → new thread (a new root turn)"
        elif self.parent_override is not None:
            composer.title = f"Prompt → fork: continues from #{self.parent_override} (a sibling branch)"
        elif self.selected_id is not None:
            node = self.node(self.selected_id)
            if self.generating and self.selected_id == self.live_turn_id:
                composer.title = f"Prompt → #{self.selected_id} is generating (Esc cancels)"
            elif node is not None and node.status not in ("done",):
                where = f"#{node.parent_id}" if node.parent_id is not None else "the start"
                composer.title = f"Prompt → continues from {where} (#{self.selected_id} has no result)"
            else:
                composer.title = f"Prompt → continues from #{self.selected_id}"
        else:
            composer.title = "Prompt → first turn of this project"

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

    # -- sending --------------------------------------------------------------------------------

    @property
    def live_unsaved(self) -> bool:
        """A generation is running and its turn is not saved yet (live log/preview own the view)."""
        return self.generating and not self._live_saved

    def count_spent(self, turns: list[Any]) -> None:
        """Add finished turns to the session totals (kept by the app across project switches)."""
        self.studio_app.session.count(turns)

    def busy(self) -> bool:
        """True (and said) while a generation runs: one at a time."""
        if self.generating:
            self.notify("A generation is running — wait for it or press Esc.", severity="warning")
        return self.generating

    @on(PromptArea.Submitted)
    def _prompt_submitted(self, event: PromptArea.Submitted) -> None:
        event.stop()
        self.action_send()

    def action_send(self) -> None:
        if not self.composer.ready():  # an empty prompt or settings that cannot be sent: said why
            return
        if self.generating:
            self.notify("A generation is running — wait for it or press Esc to cancel it.", severity="warning")
            return
        parent = self.requested_parent()
        node = self.node(parent)
        if node is not None and node.status in ("failed", "cancelled", "interrupted", "pending", "running"):
            # Nothing to continue from in an unfinished turn: the new turn becomes its sibling.
            self.notify(f"Turn #{parent} has no result ({node.status}); this prompt continues from "
                        f"{'#' + str(node.parent_id) if node.parent_id is not None else 'the start'} instead.")
            parent = node.parent_id
        image_alone = parent is None and self.image_alone_of is not None
        request = self.composer.build_request(parent, kind="from_image" if image_alone else "generate")
        if request is None:
            return

        def go() -> None:
            self.composer.sent(request)
            self.parent_override = None
            self.image_alone_of = None
            self.start_generation(request, f"New turn from #{parent}" if parent is not None else "New turn")

        guarded(self, self.studio, request, go)

    def start_generation(self, request: GenerateRequest, title: str) -> None:
        """Send ``request`` (the budget was checked): the stage follows it live."""
        self.gen_id += 1
        self.live_turn_id = None
        self.last_error = ""
        self._live_request = request
        self._live_saved = False
        self.activity = "◌ Generating…"
        self.money = dataclasses.replace(self.money, turn_cost=None, turn_tokens=0)
        self.generating = True
        self.gen_worker = self._generate(self.gen_id, request, title)
        self.refresh_bindings()

    @work(group="gen", exit_on_error=False)
    async def _generate(self, gen_id: int, request: GenerateRequest, title: str) -> None:
        # Reset the log before the first event can arrive (the worker runs on the UI loop).
        await self.stage.begin(title)
        async for event in self.studio.generate(request):
            self.post_message(GenerationEvent(gen_id, event))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.generating
        if action == "leave_input":
            return not self.generating
        return True

    def action_leave_input(self) -> None:
        """Esc while typing: move to the tree so single-letter keys act on the selected turn."""
        if self.tree.has_focus:
            return
        self.action_focus("tree")

    def action_cancel(self) -> None:
        if self.gen_worker is not None and self.generating:
            self.gen_worker.cancel()
            self.activity = "⊘ Cancelling…"

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker is not self.gen_worker:
            if event.state == WorkerState.ERROR and worker.group in ("load", "detail"):
                self.notify(redact(str(worker.error)), title="Could not load the project", severity="error")
            return
        if event.state == WorkerState.SUCCESS:
            self.post_message(GenerationEnded(self.gen_id, "done"))
        elif event.state == WorkerState.CANCELLED:
            self.post_message(GenerationEnded(self.gen_id, "cancelled"))
        elif event.state == WorkerState.ERROR:
            self.post_message(GenerationEnded(self.gen_id, "error", redact(str(worker.error))))
        self.generating = worker.state in (WorkerState.PENDING, WorkerState.RUNNING)
        self.refresh_bindings()

    async def on_generation_event(self, message: GenerationEvent) -> None:
        if message.gen_id != self.gen_id:
            return
        e = message.event
        if isinstance(e, ev.TurnStarted):
            self.live_turn_id = e.turn.id
        activity = await self.stage.consume(e, follow=self.selected_id in (self.live_turn_id, None))
        if activity is not None:
            self.activity = activity
        match e:
            case ev.TurnStarted(turn=turn):
                await self.reload_tree(select=turn.id)
            case ev.Usage(total_tokens=tokens):
                self.money = dataclasses.replace(self.money, turn_tokens=tokens)
                self.studio_app.session.tokens += tokens
            case ev.Finished(ok=ok, error=error, warnings=warnings):
                for warning in warnings:  # e.g. an empty thought signature: editing from this turn may fail
                    self.notify(redact(warning), title="Warning", severity="warning", timeout=12)
                if not ok and error is not None:
                    self._show_error(error.message)
            case ev.Failed(error=error):
                self._show_error(error.message)
                parent = self._live_request.parent_id if self._live_request is not None else None
                if error.kind == "cross_target" and parent is not None:  # offer the way that works
                    from banana_studio.tui.from_image import offer_image_alone

                    offer_image_alone(self, parent, error.message)
            case ev.TurnSaved(turn=turn):
                self._live_saved = True
                self.count_spent([turn])
                self._pin_log_turn = None if turn.status == "done" else turn.id
                self.composer.saved_with(turn)
                await self.reload_tree(select=turn.id)
                self.load_turn(turn.id)
            case _:
                pass

    def _show_error(self, message: str) -> None:
        message = redact(message)
        self.last_error = message
        self.stage.error(message)
        self.notify(message, title="Generation failed", severity="error", timeout=10)

    async def on_generation_ended(self, message: GenerationEnded) -> None:
        if message.gen_id != self.gen_id:
            return
        stage = self.stage
        if message.outcome == "cancelled":
            stage.finish("cancelled")
            self.activity = ""
            self.notify("Generation cancelled.", severity="warning")
        elif message.outcome == "error":
            stage.error(f"Unexpected error: {message.message}")
            stage.finish("failed")
            self.activity = ""
            self.notify(message.message, title="Unexpected error", severity="error")
        elif not self._live_saved:
            # Refused before anything was recorded (e.g. a reference vanished): nothing to show but the error.
            stage.finish("failed", "nothing was sent")
            self.activity = ""
        if self.live_turn_id is None and message.outcome != "cancelled":
            self.composer.load_request(self._live_request)
        if message.outcome in ("cancelled", "error"):
            await self.reload_tree(select=self.live_turn_id)
            if self.live_turn_id is not None:
                self.load_turn(self.live_turn_id)
        await self.refresh_costs()
        self.refresh_bindings()
        self.update_prompt_title()

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

    def action_projects(self) -> None:
        self.studio_app.action_projects()


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
