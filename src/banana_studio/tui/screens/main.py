"""The main screen: branch tree | preview + turn detail / live thinking log | settings, with the
reference tray and the prompt at the bottom and the money/status line above the footer.

Threading model: every store call runs in ``asyncio.to_thread``; the generation runs in one async
worker (group ``gen``) that iterates ``studio.generate`` and posts :class:`GenerationEvent` messages;
handlers here own every widget change.  Esc cancels the worker (the service marks the turn cancelled).

Start-up (in a real terminal): the first frame shows every region — title bar, branch panel, preview,
turn detail, prompt, settings frame, status line, footer — and the rest follows right after it is
painted (:meth:`MainScreen._finish_start`): the settings controls, the project's tree and costs, and
the thinking log's Markdown view.  Headless runs (Pilot tests, screenshots) mount everything before
the screen is ready, so they can query any widget at once (see ``DEFER_MOUNT``).
"""

from __future__ import annotations

import asyncio
import bisect
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Static
from textual.worker import Worker, WorkerState

from banana_studio.config import redact
from banana_studio.domain import events as ev
from banana_studio.domain.catalogue import get_model
from banana_studio.store import ProjectError
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.messages import GenerationEnded, GenerationEvent
from banana_studio.tui.screens.confirm import ConfirmScreen, TextPromptScreen
from banana_studio.tui.screens.main_layout import MainLayout
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.footer import StudioFooter
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.ref_tray import RefTray
from banana_studio.tui.widgets.settings_summary import SettingsSummary
from banana_studio.tui.widgets.sidebar import SettingsSidebar
from banana_studio.tui.widgets.status_line import StatusLine
from banana_studio.tui.widgets.thinking_log import ThinkingLog
from banana_studio.tui.widgets.turn_detail import TurnDetail

if TYPE_CHECKING:
    from banana_studio.domain.turn import Turn

NEW_ROOT = -1
"""``parent`` value meaning 'start a new thread' (distinct from None = follow the tree cursor)."""


class MainScreen(MainLayout, Screen[None]):
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
        # -- hand-off (tui/handoff.py): the web gallery link + ssh line, scp/rsync commands ----------
        Binding("H", "handoff", "Hand-off: web gallery link", id="handoff", show=False,
                tooltip="Start the read-only web gallery, copy its link (OSC 52) and the ssh -L line to reach it"),
        Binding("y", "copy_scp", "Copy scp command for the image", id="copy-scp", show=False,
                tooltip="Copy a ready scp command that fetches the selected image to your own machine"),
    ]

    async def action_handoff(self) -> None:
        from banana_studio.tui.handoff import show_handoff

        await show_handoff(self)

    async def action_copy_scp(self) -> None:
        from banana_studio.tui.handoff import copy_scp

        await copy_scp(self)

    DEFER_MOUNT: ClassVar[bool | None] = None
    """Mount the settings controls and load the project only after the first paint.  None: only when
    the app runs in a real terminal (not headless)."""

    def _show_enter_as_send(self) -> None:
        """With ``ui.send_key = "enter"`` the footer and help show ⏎ for Send (the prompt sends on Enter)."""
        import dataclasses

        for key, bindings in self._bindings.key_to_bindings.items():
            self._bindings.key_to_bindings[key] = [
                dataclasses.replace(b, key_display="⏎") if b.action == "send" else b for b in bindings
            ]

    def __init__(self, studio: Any, *, open_turn: int | None = None) -> None:
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
        self.selected_id: int | None = None
        """The tree cursor: the next send continues from it (None = empty project)."""
        self.parent_override: int | None = None
        """Set by fork (the selected turn's parent) or new-thread (NEW_ROOT)."""
        self.image_alone_of: int | None = None
        """With NEW_ROOT: the turn whose image alone the next send continues from (see tui.from_image)."""
        self.gen_worker: Worker[None] | None = None
        self.gen_id = 0
        self.live_turn_id: int | None = None
        self.live_parent: int | None = None
        self.compare_mark: int | None = None
        self.last_error = ""
        self._live_request: Any = None
        self._pin_log_turn: int | None = None
        """A turn that failed while we watched: its log (with the red error) stays up until the user moves."""
        self._live_saved = False
        self._turn_nodes: dict[int, Any] = {}
        self._shown_turn: Turn | None = None
        self._settings_source = "config defaults"
        """Where the sidebar's settings came from (shown in the summary line and the sidebar title)."""
        self._settings_base = self.config.defaults.copy()

    # -- layout ---------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="topbar"):
            yield Static(Text.assemble(("▌", "bold #f5c518"), ("Banana Studio", "bold"), "  ",
                                       (self.store.name, "bold")), id="title")
            yield Static(self.studio.target_label, id="target")
            badge = Static("DEMO — local server, synthetic images", id="demo-badge")
            badge.display = bool(self.studio.demo)
            yield badge
        with Horizontal(id="body"):
            tree = BranchTree([], id="tree")
            tree.border_title = "Branches"
            yield tree
            with Vertical(id="centre"):
                with Horizontal(id="stage"):
                    yield ImagePreview("No image yet", id="preview")
                    with ContentSwitcher(initial="detail", id="info"):
                        yield TurnDetail(id="detail")
                        yield ThinkingLog(id="log")
                yield RefTray(id="refs")
                yield SettingsSummary(id="settings-summary")
                yield PromptArea(send_key=self.config.send_key, id="prompt")
            yield SettingsSidebar(self.config.defaults, estimator=self._estimate, id="sidebar",
                                  vertex=self.studio.target.vertex,
                                  defer_fields=self._defers_mount())
        yield StatusLine(id="status")
        yield StudioFooter()

    def _estimate(self, settings: Any, n_refs: int) -> float:
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
        self.query_one("#preview", ImagePreview).border_title = "Preview"
        self._update_prompt_title()
        self.watch(self.query_one("#info", ContentSwitcher), "current", self._info_tab_changed)
        self._show_settings_summary()
        spec = get_model(self.config.defaults.model)
        self.query_one(RefTray).set_limit(spec.max_references, spec.label)
        self.query_one(PromptArea).focus()
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
        self.set_timer(0.5, self._prepare_log)

    async def _prepare_log(self) -> None:
        await self.query_one(ThinkingLog).prepare()

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
        if found and self._open_turn is not None:
            # `open IMAGE`: restore that turn's settings too (the branch is the tree cursor).
            try:
                opened = await asyncio.to_thread(self.store.get_turn, self._open_turn)
                self.load_settings(opened.settings, f"of #{opened.id}")
            except Exception:
                pass
        elif latest is not None:
            # The next send continues from the newest turn with its settings (not the config defaults:
            # that would silently change the aspect ratio and size).
            try:
                turn = await asyncio.to_thread(self.store.get_turn, latest)
                self.load_settings(turn.settings, f"of #{turn.id}")
            except Exception:
                pass
        else:
            self.query_one(TurnDetail).show_empty()
        await self._refresh_costs()
        from banana_studio.tui.screens.batch import resume_batches

        resume_batches(self)  # unfinished Batch API jobs of the project keep being polled
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
        prompt = self.query_one(PromptArea)
        prompt.prompt_history = full + prompt.prompt_history

    async def _show_tree(self, ids: list[int], parents: list[int | None], *, select: int | None) -> BranchTree:
        """The branch tree from the project's skeleton; display rows load lazily (on screen + ancestors)."""
        tree = self.query_one(BranchTree)
        await tree.load(ids, parents, self._fetch_nodes, select=select)
        self._turn_nodes = tree.loaded_nodes
        n = tree.turn_count
        tree.border_title = f"Branches · {n} turn{'s' if n != 1 else ''}"
        self._update_prompt_title()
        return tree

    async def _fetch_nodes(self, ids: list[int]) -> list[Any]:
        return await asyncio.to_thread(self.store.nodes_for, ids)

    async def reload_tree(self, select: int | None = None) -> None:
        ids, parents = await asyncio.to_thread(self.store.tree_skeleton)
        await self._show_tree(ids, parents, select=select)

    async def _refresh_costs(self) -> None:
        costs = await asyncio.to_thread(self.store.costs, self.selected_id)
        status = self.query_one(StatusLine)
        status.branch_cost = costs.get("branch", 0.0)
        status.project_cost = costs.get("project", 0.0)
        status.today_cost = costs.get("today", 0.0)
        status.demo_cost = costs.get("demo_project", 0.0)  # simulated, shown apart
        status.turn_simulated = bool(costs.get("demo_turn"))
        status.session_cost = self.session_cost
        status.session_tokens = self.session_tokens
        if self._live_unsaved and self.selected_id == self.live_turn_id:
            status.turn_cost = None  # not priced until it is saved
        elif self.selected_id is not None:
            status.turn_cost = costs.get("turn", 0.0) or costs.get("demo_turn", 0.0)
            status.branch_turns = len(self.query_one(BranchTree).path_to(self.selected_id))
        else:
            status.turn_cost = None
            status.branch_turns = 0
        budget = self.config.project_budget
        daily = self.config.daily_budget
        notes = []
        if budget is not None and costs.get("project", 0.0) >= budget:
            notes.append(f"project budget ${budget:.2f} reached")
        if daily is not None and costs.get("today", 0.0) >= daily:
            notes.append(f"daily budget ${daily:.2f} reached")
        status.budget_note = " · ".join(notes)

    # -- selection ------------------------------------------------------------------------------

    @on(BranchTree.TurnHighlighted)
    def _highlighted(self, event: BranchTree.TurnHighlighted) -> None:
        if event.turn_id != self._pin_log_turn:
            self._pin_log_turn = None
        self.selected_id = event.turn_id
        self._update_prompt_title()
        self._info_tab_changed()
        self._load_turn(event.turn_id, debounce=0.05)

    @on(BranchTree.TurnSelected)
    def _selected(self, event: BranchTree.TurnSelected) -> None:
        """Enter on a turn: take its settings into the sidebar and go write the next prompt."""
        turn = self._shown_turn
        if turn is not None and turn.id == event.turn_id:
            self.load_settings(turn.settings, f"of #{turn.id}")
        self.query_one(PromptArea).focus()

    @work(group="detail", exclusive=True, exit_on_error=False)
    async def _load_turn(self, turn_id: int, *, debounce: float = 0.0) -> None:
        if debounce:
            await asyncio.sleep(debounce)  # key repeat through the tree: only the last turn loads
        try:
            turn = await asyncio.to_thread(self.store.get_turn, turn_id)
            costs = await asyncio.to_thread(self.store.costs, turn_id)
        except Exception as exc:
            self.notify(redact(str(exc)), title=f"Cannot load turn #{turn_id}", severity="error")
            return
        self._shown_turn = turn
        images = [(self.store.abs_path(i.path), f"final {i.index + 1}" if i.kind == "final" else f"draft {i.index + 1}")
                  for i in turn.final_images + turn.draft_images]
        await self.query_one(TurnDetail).show_turn(turn, costs, images)
        if (not self._live_unsaved or self.selected_id != self.live_turn_id) and turn_id != self._pin_log_turn:
            self.query_one("#info", ContentSwitcher).current = "detail"
        await self._refresh_costs()
        if self._live_unsaved and turn_id == self.live_turn_id:
            return  # the live preview (drafts) stays
        preview = self.query_one(ImagePreview)
        finals = turn.final_images
        shown = finals[-1] if finals else (turn.draft_images[-1] if turn.draft_images else None)
        if shown is not None:
            size = f" · {shown.width}×{shown.height}" if shown.width else ""
            preview.border_title = f"Preview · #{turn.id}{'' if finals else ' draft'}{size}"
            # The digest of the streamed bytes: the final image just shown from the stream is not
            # decoded and sent to the terminal again (the saved file also carries the recipe).
            await preview.show_path(self.store.abs_path(shown.path), digest=shown.sha256)
        else:
            preview.border_title = "Preview"
            preview.set_placeholder({"failed": "No image — the turn failed",
                                     "interrupted": "No image — interrupted",
                                     "cancelled": "No image — cancelled",
                                     "pending": "Waiting…", "running": "Generating…"}.get(turn.status, "No image"))

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
        sidebar = self.query_one(SettingsSidebar)
        refs = list(self.query_one(RefTray).paths)
        try:
            size = await asyncio.to_thread(self.studio.next_request_size, self.requested_parent(),
                                           sidebar.settings, refs)
        except Exception:  # a measurement must never break the screen
            return
        sidebar.set_request_size(size.label(), size.warning)

    def _update_prompt_title(self) -> None:
        self._refresh_request_size()
        prompt = self.query_one(PromptArea)
        if self.parent_override == NEW_ROOT and self.image_alone_of is not None:
            from banana_studio.tui.from_image import IMAGE_ALONE_TITLE

            prompt.border_title = IMAGE_ALONE_TITLE.format(id=self.image_alone_of)
        elif self.parent_override == NEW_ROOT:
            prompt.border_title = "Prompt → new thread (a new root turn)"
        elif self.parent_override is not None:
            prompt.border_title = f"Prompt → fork: continues from #{self.parent_override} (a sibling branch)"
        elif self.selected_id is not None:
            node = self._turn_nodes.get(self.selected_id)
            if self._generating and self.selected_id == self.live_turn_id:
                prompt.border_title = f"Prompt → #{self.selected_id} is generating (Esc cancels)"
            elif node is not None and node.status not in ("done",):
                where = f"#{node.parent_id}" if node.parent_id is not None else "the start"
                prompt.border_title = f"Prompt → continues from {where} (#{self.selected_id} has no result)"
            else:
                prompt.border_title = f"Prompt → continues from #{self.selected_id}"
        else:
            prompt.border_title = "Prompt → first turn of this project"

    # -- sending --------------------------------------------------------------------------------

    @property
    def _generating(self) -> bool:
        return self.gen_worker is not None and self.gen_worker.state in (WorkerState.PENDING,
                                                                          WorkerState.RUNNING)

    # Session totals live on the App so they survive project switches.
    @property
    def session_cost(self) -> float:
        return float(getattr(self.app, "session_cost", 0.0))

    @session_cost.setter
    def session_cost(self, value: float) -> None:
        self.app.session_cost = value  # type: ignore[attr-defined]

    @property
    def session_tokens(self) -> int:
        return int(getattr(self.app, "session_tokens", 0))

    @session_tokens.setter
    def session_tokens(self, value: int) -> None:
        self.app.session_tokens = value  # type: ignore[attr-defined]

    def count_spent(self, turns: list[Any]) -> None:
        """Add finished turns to the session totals: real money, demo costs apart (simulated)."""
        self.session_cost += sum(float(t.cost or 0.0) for t in turns if not t.is_demo)
        app: Any = self.app
        app.session_demo_cost = getattr(app, "session_demo_cost", 0.0) + sum(
            float(t.cost or 0.0) for t in turns if t.is_demo)

    @property
    def _live_unsaved(self) -> bool:
        """A generation is running and its turn is not saved yet (live log/preview own the view)."""
        return self._generating and not self._live_saved

    @on(PromptArea.Submitted)
    def _prompt_submitted(self, event: PromptArea.Submitted) -> None:
        event.stop()
        self.action_send()

    def action_send(self) -> None:
        prompt = self.query_one(PromptArea)
        text = prompt.text.strip()
        if not text:
            self.notify("Write a prompt first.", severity="warning")
            prompt.focus()
            return
        if self._generating:
            self.notify("A generation is running — wait for it or press Esc to cancel it.", severity="warning")
            return
        sidebar = self.query_one(SettingsSidebar)
        fatal = sidebar.fatal_problems
        if fatal:
            self.notify("\n".join(p.message for p in fatal), title="Fix the settings first", severity="error")
            return
        parent = self.requested_parent()
        node = self._turn_nodes.get(parent) if parent is not None else None
        if node is not None and node.status in ("failed", "cancelled", "interrupted", "pending", "running"):
            # Nothing to continue from in an unfinished turn: the new turn becomes its sibling.
            self.notify(f"Turn #{parent} has no result ({node.status}); this prompt continues from "
                        f"{'#' + str(node.parent_id) if node.parent_id is not None else 'the start'} instead.")
            parent = node.parent_id
        refs = self.query_one(RefTray).paths
        from banana_studio.services import GenerateRequest

        image_alone = parent is None and self.image_alone_of is not None
        request = GenerateRequest(prompt=text, parent_id=parent, references=list(refs),
                                  settings=sidebar.settings, kind="from_image" if image_alone else "generate")

        def go() -> None:
            prompt.remember(text)
            prompt.load_text("")
            self.query_one(RefTray).clear()
            self.parent_override = None
            self.image_alone_of = None
            self._start(request, f"New turn from #{parent}" if parent is not None else "New turn")

        self._budget_guard(request, go)

    def _budget_guard(self, request: Any, go: Any, n: int = 1) -> None:
        """Run ``go()`` now, or after confirming a request over the configured budget."""
        if self.config.daily_budget is None and self.config.project_budget is None:
            go()
            return

        async def check() -> None:
            from banana_studio.tui.screens.variations import budget_allows

            if await budget_allows(self.app, self.studio, request.settings, n, len(request.references)):
                go()

        self.run_worker(check(), group="budget", exclusive=True, exit_on_error=False)

    def _start(self, request: Any, title: str) -> None:
        self.gen_id += 1
        self.live_turn_id = None
        self.live_parent = getattr(request, "parent_id", None)
        self.last_error = ""
        self._live_request = request
        self._live_saved = False
        self.query_one("#info", ContentSwitcher).current = "log"
        preview = self.query_one(ImagePreview)
        preview.set_placeholder("Generating…")
        preview.border_title = "Preview · generating"
        status = self.query_one(StatusLine)
        status.state = "◌ Generating…"
        status.turn_cost = None
        status.turn_tokens = 0
        self.gen_worker = self._generate(self.gen_id, request, title)
        self.refresh_bindings()

    @work(group="gen", exit_on_error=False)
    async def _generate(self, gen_id: int, request: Any, title: str) -> None:
        # Reset the log before the first event can arrive (the worker runs on the UI loop).
        await self.query_one(ThinkingLog).start(title)
        async for event in self.studio.generate(request):
            self.post_message(GenerationEvent(gen_id, event))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self._generating
        if action == "leave_input":
            return not self._generating
        return True

    def action_leave_input(self) -> None:
        """Esc while typing: move to the tree so single-letter keys act on the selected turn."""
        tree = self.query_one(BranchTree)
        if tree.has_focus:
            return
        self.action_focus("tree")

    def action_cancel(self) -> None:
        if self.gen_worker is not None and self._generating:
            self.gen_worker.cancel()
            self.query_one(StatusLine).state = "⊘ Cancelling…"

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
        self.refresh_bindings()

    async def on_generation_event(self, message: GenerationEvent) -> None:
        if message.gen_id != self.gen_id:
            return
        e = message.event
        log = self.query_one(ThinkingLog)
        status = self.query_one(StatusLine)
        if isinstance(e, ev.TurnStarted):
            self.live_turn_id = e.turn.id
            log.turn_id = e.turn.id
            log.set_title(f"Turn #{e.turn.id}" + (f" ← #{e.turn.parent_id}" if e.turn.parent_id else "")
                          + f" · {e.turn.prompt[:80]}")
            await self.reload_tree(select=e.turn.id)
        elif isinstance(e, ev.ThoughtText):
            status.state = "◌ Thinking…"
            await log.thought(e.text)
        elif isinstance(e, ev.DraftImage):
            status.state = f"◌ Draft {e.index + 1}…"
            await log.draft(e.data, e.index)
            if self.selected_id in (self.live_turn_id, None):
                preview = self.query_one(ImagePreview)
                preview.border_title = f"Preview · draft {e.index + 1}"
                await preview.show_bytes(e.data, name=f"draft {e.index + 1}")
        elif isinstance(e, ev.AnswerText):
            log.answer(e.text)
        elif isinstance(e, ev.FinalImage):
            log.final_image(e.index)
            status.state = "◌ Saving…"
            if self.selected_id in (self.live_turn_id, None):
                preview = self.query_one(ImagePreview)
                preview.border_title = "Preview · final"
                await preview.show_bytes(e.data, name="final")
        elif isinstance(e, ev.Grounding):
            log.sources(e.queries, e.sources)
        elif isinstance(e, ev.Usage):
            status.turn_tokens = e.total_tokens
            self.session_tokens += e.total_tokens
        elif isinstance(e, ev.Retrying):
            log.retrying(e.attempt, e.max_attempts, e.delay, e.reason)
            status.state = f"⟳ retry {e.attempt}/{e.max_attempts} in {e.delay:.0f}s"
        elif isinstance(e, ev.Finished):
            for warning in e.warnings:  # e.g. an empty thought signature: editing from this turn may fail
                self.notify(redact(warning), title="Warning", severity="warning", timeout=12)
            if not e.ok and e.error is not None:
                self._show_error(e.error.message)
        elif isinstance(e, ev.Failed):
            self._show_error(e.error.message)
            if e.error.kind == "cross_target" and self.live_parent is not None:  # offer the way that works
                from banana_studio.tui.from_image import offer_image_alone

                offer_image_alone(self, self.live_parent, e.error.message)
        elif isinstance(e, ev.TurnSaved):
            self._live_saved = True
            turn = e.turn
            self.count_spent([turn])
            price = f"${turn.cost:.3f}" + (" simulated" if turn.is_demo else "")
            log.finish(turn.status, price if turn.cost else "")
            status.state = ""
            self._pin_log_turn = None if turn.status == "done" else turn.id
            if self.query_one(SettingsSidebar).settings == turn.settings:
                self._settings_source, self._settings_base = f"of #{turn.id}", turn.settings.copy()
                self._show_settings_summary()
            await self.reload_tree(select=turn.id)
            self._load_turn(turn.id)

    def _show_error(self, message: str) -> None:
        message = redact(message)
        self.last_error = message
        self.query_one(ThinkingLog).error(message)
        self.notify(message, title="Generation failed", severity="error", timeout=10)

    async def on_generation_ended(self, message: GenerationEnded) -> None:
        if message.gen_id != self.gen_id:
            return
        log = self.query_one(ThinkingLog)
        status = self.query_one(StatusLine)
        if message.outcome == "cancelled":
            log.finish("cancelled")
            status.state = ""
            self.notify("Generation cancelled.", severity="warning")
        elif message.outcome == "error":
            log.error(f"Unexpected error: {message.message}")
            log.finish("failed")
            status.state = ""
            self.notify(message.message, title="Unexpected error", severity="error")
        elif not self._live_saved:
            # Refused before anything was recorded (e.g. a reference vanished): nothing to show but the error.
            log.finish("failed", "nothing was sent")
            status.state = ""
        if self.live_turn_id is None and message.outcome != "cancelled":
            self._restore_request(self._live_request)
        if message.outcome in ("cancelled", "error"):
            await self.reload_tree(select=self.live_turn_id)
            if self.live_turn_id is not None:
                self._load_turn(self.live_turn_id)
        await self._refresh_costs()
        self.refresh_bindings()
        self._update_prompt_title()

    def _restore_request(self, request: Any) -> None:
        """Give the prompt and references back when the request was refused before it was recorded."""
        if request is None or getattr(request, "kind", "generate") not in ("generate", "from_image"):
            return
        prompt = self.query_one(PromptArea)
        if not prompt.text.strip():
            prompt.load_text(request.prompt)
        paths = [r for r in request.references if isinstance(r, Path) and r.exists()]
        tray = self.query_one(RefTray)
        if paths and not tray.items:
            self.run_worker(tray.add_paths(paths), group="refs")

    # -- turn actions ---------------------------------------------------------------------------

    def _need_turn(self) -> int | None:
        if self.selected_id is None:
            self.notify("Select a turn first (F3 or Ctrl+B shows the tree).", severity="warning")
        return self.selected_id

    async def action_reroll(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        if self._generating:
            self.notify("A generation is running — wait for it or press Esc.", severity="warning")
            return
        try:
            request = await asyncio.to_thread(self.studio.reroll, turn_id)
        except Exception as exc:
            self.notify(redact(str(exc)), title="Cannot re-roll", severity="error")
            return
        self._budget_guard(request, lambda: self._start(request, f"Re-roll of #{turn_id}"))

    async def action_retry(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        node = self._turn_nodes.get(turn_id)
        if node is not None and node.status == "done":
            self.notify(f"Turn #{turn_id} finished fine — use re-roll (Ctrl+R) for another take.")
            return
        if self._generating:
            self.notify("A generation is running — wait for it or press Esc.", severity="warning")
            return
        try:
            request = await asyncio.to_thread(self.studio.retry, turn_id)
        except Exception as exc:
            self.notify(redact(str(exc)), title="Cannot retry", severity="error")
            return
        self._budget_guard(request, lambda: self._start(request, f"Retry of #{turn_id}"))

    def action_fork(self) -> None:
        """Prepare a sibling of the selected turn: its prompt, settings and references, ready to change."""
        turn = self._shown_turn
        if turn is None or turn.id != self.selected_id:
            self.notify("Select a turn to fork first.", severity="warning")
            return
        self.load_settings(turn.settings, f"of #{turn.id}")
        prompt = self.query_one(PromptArea)
        prompt.load_text(turn.prompt)
        self.parent_override = turn.parent_id if turn.parent_id is not None else NEW_ROOT
        tray = self.query_one(RefTray)
        tray.clear()
        paths = [self.store.abs_path(r.path) for r in turn.references]
        if paths:
            self.run_worker(tray.add_paths(paths), group="refs")
        self._update_prompt_title()
        prompt.focus()
        self.notify(f"Forking #{turn.id}: change the prompt or settings and send — it becomes a sibling.")

    def action_new_thread(self) -> None:
        self.parent_override = NEW_ROOT
        self._update_prompt_title()
        self.query_one(PromptArea).focus()

    def _final_path(self) -> Path | None:
        turn = self._shown_turn
        if turn is None or turn.id != self.selected_id:
            self.notify("Select a turn first.", severity="warning")
            return None
        finals = turn.final_images
        if not finals:
            self.notify(f"Turn #{turn.id} has no image.", severity="warning")
            return None
        return self.store.abs_path(finals[-1].path)

    async def action_use_as_reference(self) -> None:
        path = self._final_path()
        if path is None:
            return
        errors = await self.query_one(RefTray).add_paths([path])
        if not errors:
            self.notify(f"{path.name} added to the references.")

    async def action_continue_from_image(self) -> None:
        turn_id = self._need_turn()
        if turn_id is not None:
            from banana_studio.tui.from_image import continue_from_image

            await continue_from_image(self, turn_id)

    async def action_star(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        node = self._turn_nodes.get(turn_id)
        on_ = not (node.starred if node is not None else False)
        await asyncio.to_thread(self.store.star, turn_id, on_)
        await self.reload_tree()
        self._load_turn(turn_id)
        self.notify(f"{'★ Starred' if on_ else 'Unstarred'} #{turn_id}.")

    def action_label(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        node = self._turn_nodes.get(turn_id)

        async def done(label: str | None) -> None:
            if label is None:
                return
            await asyncio.to_thread(self.store.set_label, turn_id, label.strip())
            await self.reload_tree()
            self._load_turn(turn_id)

        self.app.push_screen(TextPromptScreen(f"Label turn #{turn_id}", "A short label (empty removes it):",
                                              value=node.label if node is not None else ""), done)

    def action_export(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        from banana_studio.paths import export_dir

        default = export_dir() / f"{self.store.name}-turn-{turn_id:04d}"

        async def done(target: str | None) -> None:
            if not target:
                return
            out = Path(target).expanduser()
            try:
                json_path = await asyncio.to_thread(self.store.export_branch, turn_id, out)
            except Exception as exc:
                self.notify(redact(str(exc)), title="Export failed", severity="error")
                return
            self.notify(f"Exported the branch to {json_path.parent}", title="Exported")

        self.app.push_screen(TextPromptScreen(f"Export branch → #{turn_id}",
                                              "Folder for the images and branch.json (default: your "
                                              "pictures folder, Banana Studio):", value=str(default)), done)

    def action_variations(self) -> None:
        from banana_studio.tui.screens.variations import open_variations

        if self._generating:
            self.notify("A generation is running — wait for it or press Esc.", severity="warning")
            return
        open_variations(self)

    def action_batch_jobs(self) -> None:
        from banana_studio.tui.screens.batch import open_batch_screen

        open_batch_screen(self)

    def action_export_storyboard(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        from banana_studio.paths import export_dir
        from banana_studio.services.storyboard import default_folder, export_storyboard

        async def done(target: str | None) -> None:
            if not target:
                return
            try:
                out = await asyncio.to_thread(export_storyboard, self.store, turn_id, Path(target).expanduser())
            except Exception as exc:
                self.notify(redact(str(exc)), title="Storyboard export failed", severity="error")
                return
            self.notify(f"{out.html}\n{out.markdown}\n{out.sheet}", title="Storyboard exported", timeout=10)

        self.app.push_screen(TextPromptScreen(f"Storyboard of the branch → #{turn_id}",
                                              "Folder for the contact sheet, HTML/Markdown pages and images:",
                                              value=str(default_folder(self.store, turn_id, export_dir()))), done)

    def action_save_as(self) -> None:
        path = self._final_path()
        if path is None:
            return
        from banana_studio.paths import export_dir

        default = export_dir() / path.name

        async def done(target: str | None) -> None:
            if not target:
                return
            out = Path(target).expanduser()
            if out.is_dir():
                out = out / path.name
            if out.suffix.lower() != path.suffix.lower():
                out = out.with_name(out.name + path.suffix)
            try:
                await asyncio.to_thread(self.store.save_copy, path, out)
            except ProjectError as exc:
                self.notify(str(exc), title="Save failed", severity="error")
                return
            except OSError as exc:
                self.notify(f"Cannot save {out}: {exc.strerror or exc}.", title="Save failed", severity="error")
                return
            self.notify(f"Saved {out}", title="Saved")

        self.app.push_screen(TextPromptScreen("Save image as", "File or folder (the recipe stays embedded):",
                                              value=str(default)), done)

    def action_copy_path(self) -> None:
        path = self._final_path()
        if path is None:
            return
        self.app.copy_to_clipboard(str(path))
        self.notify(f"Copied (OSC 52): {path}")

    def action_open_external(self) -> None:
        path = self._final_path()
        if path is None:
            return
        opener = None
        if sys.platform == "darwin":
            opener = "open"
        elif os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
            opener = shutil.which("xdg-open")
        if os.environ.get("SSH_CONNECTION") or opener is None:
            self.copy_path_message(path)
            return
        try:
            subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            self.notify(f"Could not start {opener}: {exc.strerror}. The image is at {path}", severity="error")
            return
        self.notify(f"Opened {path.name} in the system viewer.")

    def copy_path_message(self, path: Path) -> None:
        self.notify(f"No local display here (SSH or headless). The image is at:\n{path}\n(press c to copy the "
                    "path)", title="Open in viewer", timeout=12)

    def action_delete_branch(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        tree = self.query_one(BranchTree)
        below = _count_descendants(tree, turn_id)
        if self._generating and self.live_turn_id is not None and turn_id in tree.path_to(self.live_turn_id):
            self.notify("That branch is generating right now — cancel first (Esc).", severity="warning")
            return

        async def done(yes: bool | None) -> None:
            if not yes:
                return
            parent = self._turn_nodes[turn_id].parent_id if turn_id in self._turn_nodes else None
            try:
                n = await asyncio.to_thread(self.store.delete_branch, turn_id)
            except Exception as exc:
                self.notify(redact(str(exc)), title="Delete failed", severity="error")
                return
            self.notify(f"Deleted {n} turn{'s' if n != 1 else ''}.")
            await self.reload_tree(select=parent)
            if parent is None and not self._turn_nodes:
                self.selected_id = None
                self.query_one(TurnDetail).show_empty()
                self.query_one(ImagePreview).clear()
                self._update_prompt_title()

        self.app.push_screen(ConfirmScreen(
            "Delete branch",
            f"Delete turn #{turn_id} and the {below} turn{'s' if below != 1 else ''} below it, with their "
            "images? This cannot be undone.", yes="Delete", danger=True), done)

    async def action_toggle_log(self) -> None:
        """L: the turn panel's other tab.  On a past turn the log shows what was stored for it."""
        switcher = self.query_one("#info", ContentSwitcher)
        if switcher.current == "log":
            switcher.current = "detail"
            return
        log = self.query_one(ThinkingLog)
        turn = self._shown_turn
        live = self._generating and self.selected_id in (self.live_turn_id, None)
        if (not live and turn is not None and turn.id == self.selected_id and log.turn_id != turn.id
                and turn.id != self._pin_log_turn):
            await log.show_stored(turn, [self.store.abs_path(i.path) for i in turn.draft_images])
        switcher.current = "log"

    def action_focus(self, target: str) -> None:
        if target == "tree":
            if not self.tree_on or self.focus_mode:
                self.show_tree(True)
            self.call_after_refresh(self.query_one(BranchTree).focus)
        elif target == "sidebar":
            self.show_settings(True)
            self.call_after_refresh(self.query_one(SettingsSidebar).focus_first)
        else:
            self.query_one(PromptArea).focus()

    def action_external_editor(self) -> None:
        """Write the prompt in $VISUAL / $EDITOR (the studio is suspended meanwhile)."""
        import shlex
        import tempfile

        from textual.app import SuspendNotSupported

        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify("Set $EDITOR (or $VISUAL) to edit prompts in your editor.", severity="warning")
            return
        prompt = self.query_one(PromptArea)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="banana-prompt-", delete=False,
                                         encoding="utf-8") as fh:
            fh.write(prompt.text)
            path = Path(fh.name)
        try:
            with self.app.suspend():
                result = subprocess.run([*shlex.split(editor), str(path)], check=False)
            if result.returncode == 0:
                prompt.load_text(path.read_text(encoding="utf-8").rstrip("\n"))
            else:
                self.notify(f"{editor} exited with status {result.returncode}; the prompt was not changed.",
                            severity="warning")
        except SuspendNotSupported:
            self.notify("This terminal session cannot be suspended for an external editor.", severity="warning")
        except OSError as exc:
            self.notify(f"Could not run {editor}: {exc.strerror or exc}.", severity="error")
        finally:
            path.unlink(missing_ok=True)
        prompt.focus()

    def action_add_reference(self) -> None:
        self.query_one(RefTray).open_input()

    def action_gallery(self) -> None:
        from banana_studio.tui.screens.gallery import GalleryScreen

        def done(turn_id: int | None) -> None:
            if turn_id is not None:
                self.query_one(BranchTree).select_turn(turn_id)

        self.app.push_screen(GalleryScreen(self.studio), done)

    def action_viewer(self) -> None:
        turn = self._shown_turn
        if turn is None or not turn.images:
            self.notify("Select a turn with an image first.", severity="warning")
            return
        from banana_studio.tui.screens.viewer import ViewerScreen

        images = turn.final_images + turn.draft_images
        badge = " DEMO (local server, synthetic)" if turn.is_demo else ""
        titles = [f"#{turn.id}{badge} · {i.kind} {i.index + 1} · {Path(i.path).name}" for i in images]
        self.app.push_screen(ViewerScreen([self.store.abs_path(i.path) for i in images], 0, titles=titles))

    def action_compare(self) -> None:
        turn_id = self._need_turn()
        if turn_id is None:
            return
        if self.compare_mark is None or self.compare_mark == turn_id or self.compare_mark not in self._turn_nodes:
            self.compare_mark = turn_id
            self.notify(f"Marked #{turn_id} for comparison — select another turn and press m again.")
            return
        from banana_studio.tui.screens.compare import CompareScreen

        a, self.compare_mark = self.compare_mark, None
        self.app.push_screen(CompareScreen(self.studio, a, turn_id))

    def action_projects(self) -> None:
        self.app.action_projects()  # type: ignore[attr-defined]

    # -- references and settings ------------------------------------------------------------------

    @on(events.Click, "#preview, #preview *")
    def _preview_clicked(self, event: events.Click) -> None:
        if event.chain >= 2:
            self.action_viewer()

    @on(PromptArea.PathsPasted)
    async def _paths_pasted(self, event: PromptArea.PathsPasted) -> None:
        errors = await self.query_one(RefTray).add_paths(event.paths)
        added = len(event.paths) - len(errors)
        if added > 0:
            self.notify(f"Added {added} reference image{'s' if added != 1 else ''}.")
        for err in errors:
            self.notify(err, severity="error")

    @on(RefTray.Changed)
    def _refs_changed(self, event: RefTray.Changed) -> None:
        self.query_one(SettingsSidebar).set_reference_count(len(event.paths))
        self._refresh_request_size()

    @on(SettingsSidebar.Changed)
    def _settings_changed(self, event: SettingsSidebar.Changed) -> None:
        spec = get_model(event.settings.model)
        self.query_one(RefTray).set_limit(spec.max_references, spec.label)
        self._refresh_request_size()
        self._show_settings_summary()

    @on(SettingsSummary.Opened)
    def _summary_clicked(self) -> None:
        self.action_toggle_settings()

    def load_settings(self, settings: Any, source: str) -> None:
        """Put ``settings`` in the sidebar; ``source`` says where they came from ("of #8")."""
        self._settings_source = source
        self._settings_base = settings.copy()
        self.query_one(SettingsSidebar).load(settings)
        self._show_settings_summary()

    def _show_settings_summary(self) -> None:
        sidebar = self.query_one(SettingsSidebar)
        settings = sidebar.settings
        source = self._settings_source if settings == self._settings_base else f"changed, was {self._settings_source}"
        if source.startswith("changed, was of "):
            source = "changed from " + source.removeprefix("changed, was of ")
        try:
            estimate = f"≈ ${self._estimate(settings, len(self.query_one(RefTray).items)):.3f}/image"
        except Exception:
            estimate = ""
        fatal = sidebar.fatal_problems
        self.query_one(SettingsSummary).show(settings, source=source, estimate=estimate,
                                             problem="✗ " + fatal[0].message if fatal else "")
        sidebar.border_title = f"Settings · {source}"

    def _info_tab_changed(self, current: str | None = None) -> None:
        """The turn/thinking panel's border title is its tab bar: the shown tab is highlighted."""
        switcher = self.query_one("#info", ContentSwitcher)
        current = switcher.current
        turn = f"Turn #{self.selected_id}" if self.selected_id is not None else "Turn"
        tabs = []
        for name, label in (("detail", turn), ("log", "Thinking")):
            tabs.append(f"[b reverse] {label} [/]" if current == name else f" {label} ")
        switcher.border_title = "".join(tabs)
        switcher.border_subtitle = "L switches"

    # -- issue #17: turns other processes add (an MCP agent, `gen`) appear live (tui/project_watch.py) --
    @on(events.Mount)
    def _watch_project(self) -> None:
        from banana_studio.tui.project_watch import ProjectWatch

        self.project_watch = ProjectWatch(self, lambda: self.studio)
        self.project_watch.start()

    async def on_project_changed(self, message: Any) -> None:
        await self.reload_tree(select=self.selected_id)  # the selection stays where the person left it
        if self.selected_id is not None and self.selected_id != self.live_turn_id:
            self._load_turn(self.selected_id)  # e.g. the agent's turn being watched has finished
        if message.notice:
            self.notify(message.notice, title="Project changed", timeout=8)


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


def _count_descendants(tree: BranchTree, turn_id: int) -> int:
    count = 0
    stack = list(tree.children_of(turn_id))
    while stack:
        tid = stack.pop()
        count += 1
        stack.extend(tree.children_of(tid))
    return count
