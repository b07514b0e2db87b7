"""Sending from the main screen: where the next send goes (the prompt's title), the send itself, the
generation worker and what its events change.  A mixin of
:class:`~banana_studio.tui.screens.main.MainScreen`; the stage shows the events
(:meth:`~banana_studio.tui.screens.main.stage.Stage.consume`), this part keeps the screen's state
(tree, costs, session totals, errors).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from textual import work
from textual.worker import Worker, WorkerState

from banana_studio.config import redact
from banana_studio.domain import events as ev
from banana_studio.tui.budget_guard import guarded
from banana_studio.tui.messages import GenerationEnded, GenerationEvent
from banana_studio.tui.screens.main.turn_actions import NEW_ROOT
from banana_studio.tui.widgets.sidebar import SettingsSidebar

if TYPE_CHECKING:
    from banana_studio.services import GenerateRequest
    from banana_studio.tui.screens.main.screen import MainScreen
    from banana_studio.tui.widgets.prompt import PromptArea


class Sending:
    """The next send and the running generation (a mixin: ``self`` is the main screen)."""

    def requested_parent(self: MainScreen) -> int | None:
        """The turn the next send continues from: a fork/new-thread override, else the tree cursor."""
        if self.parent_override == NEW_ROOT:
            return None
        if self.parent_override is not None:
            return self.parent_override
        return self.selected_id

    @work(exclusive=True, group="request-size")
    async def _refresh_request_size(self: MainScreen) -> None:
        """Measure the next request (history + refs) off the loop and show it under the cost."""
        composer = self.composer
        settings, refs = composer.settings, composer.references
        try:
            size = await asyncio.to_thread(self.studio.next_request_size, self.requested_parent(), settings, refs)
        except Exception:  # a measurement must never break the screen
            return
        self.query_one(SettingsSidebar).set_request_size(size.label(), size.warning)

    def update_prompt_title(self: MainScreen) -> None:
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

    # -- sending --------------------------------------------------------------------------------

    @property
    def live_unsaved(self: MainScreen) -> bool:
        """A generation is running and its turn is not saved yet (live log/preview own the view)."""
        return self.generating and not self._live_saved

    def count_spent(self: MainScreen, turns: list[Any]) -> None:
        """Add finished turns to the session totals (kept by the app across project switches)."""
        self.studio_app.session.count(turns)

    def busy(self: MainScreen) -> bool:
        """True (and said) while a generation runs: one at a time."""
        if self.generating:
            self.notify("A generation is running — wait for it or press Esc.", severity="warning")
        return self.generating

    def on_prompt_area_submitted(self: MainScreen, event: PromptArea.Submitted) -> None:
        event.stop()
        self.action_send()

    def action_send(self: MainScreen) -> None:
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

    def start_generation(self: MainScreen, request: GenerateRequest, title: str) -> None:
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
    async def _generate(self: MainScreen, gen_id: int, request: GenerateRequest, title: str) -> None:
        # Reset the log before the first event can arrive (the worker runs on the UI loop).
        await self.stage.begin(title)
        async for event in self.studio.generate(request):
            self.post_message(GenerationEvent(gen_id, event))

    def check_action(self: MainScreen, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return self.generating
        if action == "leave_input":
            return not self.generating
        return True

    def action_leave_input(self: MainScreen) -> None:
        """Esc while typing: move to the tree so single-letter keys act on the selected turn."""
        if self.tree.has_focus:
            return
        self.action_focus("tree")

    def action_cancel(self: MainScreen) -> None:
        if self.gen_worker is not None and self.generating:
            self.gen_worker.cancel()
            self.activity = "⊘ Cancelling…"

    def on_worker_state_changed(self: MainScreen, event: Worker.StateChanged) -> None:
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

    async def on_generation_event(self: MainScreen, message: GenerationEvent) -> None:
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
                    if error.kind == "missing_signature":  # the history was refused after all (another key?)
                        self._offer_image_alone(error.message)
            case ev.Failed(error=error):
                self._show_error(error.message)
                if error.kind in ("cross_target", "missing_signature"):  # offer the way that works: refused
                    self._offer_image_alone(error.message)  # before sending, or the history after (another key?)
            case ev.TurnSaved(turn=turn):
                self._live_saved = True
                self.count_spent([turn])
                self._pin_log_turn = None if turn.status == "done" else turn.id
                self.composer.saved_with(turn)
                await self.reload_tree(select=turn.id)
                self.load_turn(turn.id)
            case _:
                pass

    def _offer_image_alone(self: MainScreen, message: str) -> None:
        request = self._live_request
        if request is not None and request.parent_id is not None:
            from banana_studio.tui.from_image import offer_image_alone

            # The request's prompt goes with it (a re-roll's, or a fork's, is not in the composer).
            offer_image_alone(self, request.parent_id, message, request.prompt)

    def _show_error(self: MainScreen, message: str) -> None:
        message = redact(message)
        self.last_error = message
        self.stage.error(message)
        self.notify(message, title="Generation failed", severity="error", timeout=10)

    async def on_generation_ended(self: MainScreen, message: GenerationEnded) -> None:
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
            before = self.shown_turn
            shown = (before.final_images[-1:] or before.draft_images[-1:]) if before is not None else []
            await stage.nothing_sent(before, self.store.abs_path(shown[0].path) if shown else None)
        if self.live_turn_id is None and message.outcome != "cancelled":
            self.composer.load_request(self._live_request)
        if message.outcome in ("cancelled", "error"):
            await self.reload_tree(select=self.live_turn_id)
            if self.live_turn_id is not None:
                self.load_turn(self.live_turn_id)
        await self.refresh_costs()
        self.refresh_bindings()
        self.update_prompt_title()
