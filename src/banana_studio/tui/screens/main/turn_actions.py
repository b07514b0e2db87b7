"""Actions on the selected turn of the main screen: re-roll, retry, fork, new thread, star, label,
delete, compare, full-screen viewer, gallery, thinking log, use as reference, continue from its image.

A mixin of :class:`~banana_studio.tui.screens.main.MainScreen` (its bindings come from
:mod:`banana_studio.tui.actions`).  New turn actions go at the end of the class, one method each,
delegating to their own module.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from banana_studio.config import redact
from banana_studio.tui.budget_guard import guarded
from banana_studio.tui.screens.confirm import ConfirmScreen, TextPromptScreen

if TYPE_CHECKING:
    from banana_studio.services import GenerateRequest
    from banana_studio.tui.screens.main.screen import MainScreen
    from banana_studio.tui.screens.main.stage import Stage
    from banana_studio.tui.widgets.branch_tree import BranchTree

NEW_ROOT = -1
"""``parent_override`` meaning 'start a new thread' (distinct from None = follow the tree cursor)."""


class TurnActions:
    """The turn actions (a mixin: ``self`` is the main screen)."""

    def need_turn(self: MainScreen) -> int | None:
        """The selected turn's id; None (and said) without one."""
        if self.selected_id is None:
            self.notify("Select a turn first (F3 or Ctrl+B shows the tree).", severity="warning")
        return self.selected_id

    def final_path(self: MainScreen) -> Path | None:
        """The file of the selected turn's last final image; None (and said) without one."""
        turn = self.shown_turn
        if turn is None or turn.id != self.selected_id:
            self.notify("Select a turn first.", severity="warning")
            return None
        finals = turn.final_images
        if not finals:
            self.notify(f"Turn #{turn.id} has no image.", severity="warning")
            return None
        return self.store.abs_path(finals[-1].path)

    async def action_reroll(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None or self.busy():
            return
        try:
            request = await asyncio.to_thread(self.studio.reroll, turn_id)
        except Exception as exc:
            self.notify(redact(str(exc)), title="Cannot re-roll", severity="error")
            return
        guarded(self, self.studio, request, lambda: self.start_generation(request, f"Re-roll of #{turn_id}"))

    async def action_retry(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return
        node = self.node(turn_id)
        if node is not None and node.status == "done":
            self.notify(f"Turn #{turn_id} finished fine — use re-roll (Ctrl+R) for another take.")
            return
        if self.busy():
            return
        try:
            request = await asyncio.to_thread(self.studio.retry, turn_id)
        except Exception as exc:
            self.notify(redact(str(exc)), title="Cannot retry", severity="error")
            return
        guarded(self, self.studio, request, lambda: self.start_generation(request, f"Retry of #{turn_id}"))

    def action_fork(self: MainScreen) -> None:
        """Prepare a sibling of the selected turn: its prompt, settings and references, ready to change."""
        turn = self.shown_turn
        if turn is None or turn.id != self.selected_id:
            self.notify("Select a turn to fork first.", severity="warning")
            return
        # A named reference's images come back with its @name in the prompt (as it points now), not as files.
        self.composer.load_turn(turn, [self.store.abs_path(r.path) for r in turn.references if not r.named])
        self.parent_override = turn.parent_id if turn.parent_id is not None else NEW_ROOT
        self.update_prompt_title()
        self.composer.focus_prompt()
        self.notify(f"Forking #{turn.id}: change the prompt or settings and send — it becomes a sibling.")

    def action_new_thread(self: MainScreen) -> None:
        self.parent_override = NEW_ROOT
        self.update_prompt_title()
        self.composer.focus_prompt()

    def continue_from_image_alone(self: MainScreen, turn_id: int) -> None:
        """The next send is a new root turn from ``turn_id``'s image (see :mod:`tui.from_image`)."""
        self.parent_override = NEW_ROOT
        self.image_alone_of = turn_id
        self.update_prompt_title()
        self.composer.focus_prompt()

    async def action_use_as_reference(self: MainScreen) -> None:
        path = self.final_path()
        if path is None:
            return
        errors = await self.composer.add_references([path])
        if not errors:
            self.notify(f"{path.name} added to the references.")

    async def action_continue_from_image(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is not None:
            from banana_studio.tui.from_image import continue_from_image

            await continue_from_image(self, turn_id)

    async def action_star(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return
        node = self.node(turn_id)
        on_ = not (node.starred if node is not None else False)
        await asyncio.to_thread(self.store.star, turn_id, on_)
        await self.reload_tree()
        self.load_turn(turn_id)
        self.notify(f"{'★ Starred' if on_ else 'Unstarred'} #{turn_id}.")

    def action_label(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return
        node = self.node(turn_id)

        async def done(label: str | None) -> None:
            if label is None:
                return
            await asyncio.to_thread(self.store.set_label, turn_id, label.strip())
            await self.reload_tree()
            self.load_turn(turn_id)

        self.app.push_screen(TextPromptScreen(f"Label turn #{turn_id}", "A short label (empty removes it):",
                                              value=node.label if node is not None else ""), done)

    async def action_tags(self: MainScreen) -> None:
        """Add / remove tags on the selected turn (the gallery edits many at once)."""
        from collections import Counter

        from banana_studio.services.library import edit_tags, tags_of
        from banana_studio.tui.screens.tag_edit import TagEditScreen

        turn_id = self.need_turn()
        if turn_id is None:
            return
        current = Counter((await tags_of(self.store, [turn_id])).get(turn_id, []))

        async def done(result: tuple[list[str], list[str]] | None) -> None:
            if result is None:
                return
            try:
                await edit_tags(self.store, [turn_id], add=result[0], remove=result[1])
            except Exception as exc:  # a turn deleted meanwhile: said, never raised into the loop
                self.notify(str(exc), title="Tags not changed", severity="error")
                return
            self.load_turn(turn_id)

        self.app.push_screen(TagEditScreen(1, current), done)

    def action_delete_branch(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return
        tree = self.tree
        below = _count_descendants(tree, turn_id)
        if self.generating and self.live_turn_id is not None and turn_id in tree.path_to(self.live_turn_id):
            self.notify("That branch is generating right now — cancel first (Esc).", severity="warning")
            return

        async def done(yes: bool | None) -> None:
            if not yes:
                return
            node = self.node(turn_id)
            parent = node.parent_id if node is not None else None
            try:
                n = await asyncio.to_thread(self.store.delete_branch, turn_id)
            except Exception as exc:
                self.notify(redact(str(exc)), title="Delete failed", severity="error")
                return
            self.notify(f"Deleted {n} turn{'s' if n != 1 else ''}.")
            await self.reload_tree(select=parent)
            if parent is None and not self.tree.loaded_nodes:
                self.selected_id = None
                self.stage.clear()
                self.update_prompt_title()

        self.app.push_screen(ConfirmScreen(
            "Delete branch",
            f"Delete turn #{turn_id} and the {below} turn{'s' if below != 1 else ''} below it, with their "
            "images? This cannot be undone.", yes="Delete", danger=True), done)

    async def action_toggle_log(self: MainScreen) -> None:
        """L: the turn panel's other tab.  On a past turn the log shows what was stored for it."""
        turn = self.shown_turn
        live = self.generating and self.selected_id in (self.live_turn_id, None)
        stored = None
        if not live and turn is not None and turn.id == self.selected_id and turn.id != self._pin_log_turn:
            stored = turn
        drafts = [self.store.abs_path(i.path) for i in turn.draft_images] if stored is not None and turn else []
        await self.stage.toggle_log(stored, drafts)

    def action_gallery(self: MainScreen) -> None:
        from banana_studio.tui.screens.gallery import GalleryScreen

        def done(turn_id: int | None) -> None:
            if turn_id is not None:
                self.tree.select_turn(turn_id)

        self.app.push_screen(GalleryScreen(self.studio), done)

    def action_library(self: MainScreen) -> None:
        from banana_studio.tui.screens.library import open_library

        open_library(self.app, self.studio)

    def action_viewer(self: MainScreen) -> None:
        turn = self.shown_turn
        if turn is None or not turn.images:
            self.notify("Select a turn with an image first.", severity="warning")
            return
        from banana_studio.tui.screens.viewer import ViewerScreen

        images = turn.final_images + turn.draft_images
        badge = " DEMO (local server, synthetic)" if turn.is_demo else ""
        titles = [f"#{turn.id}{badge} · {i.kind} {i.index + 1} · {Path(i.path).name}" for i in images]
        self.app.push_screen(ViewerScreen([self.store.abs_path(i.path) for i in images], 0, titles=titles))

    def action_compare(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return
        if self.compare_mark is None or self.compare_mark == turn_id or self.node(self.compare_mark) is None:
            self.compare_mark = turn_id
            self.notify(f"Marked #{turn_id} for comparison — select another turn and press m again.")
            return
        from banana_studio.tui.screens.compare import CompareScreen

        a, self.compare_mark = self.compare_mark, None
        self.app.push_screen(CompareScreen(self.studio, a, turn_id))

    # -- region edits (issue 15): the viewer marks, tui/region_flow.py builds the request ----------
    def action_region_edit(self: MainScreen) -> None:
        from banana_studio.tui.region_flow import open_region_viewer

        open_region_viewer(self, self.shown_turn)

    def on_stage_region_dragged(self: MainScreen, event: Stage.RegionDragged) -> None:
        """A rectangle dragged on the preview: region mode with it (the preview must show the shown
        turn's final picture, not a draft of a running generation)."""
        from banana_studio.tui.region_flow import open_region_viewer

        box, turn = event.box, self.shown_turn
        if self.generating or turn is None or not turn.final_images:
            self.notify("Drag a region on a finished turn's picture (or select one and press r).",
                        severity="warning")
            return
        open_region_viewer(self, turn, (box,))

    def start_region_edit(self: MainScreen, request: GenerateRequest, title: str) -> bool:
        """Send a region edit made in the viewer like any prompt (budget check, live log)."""
        if self.generating:
            self.notify("A generation is running — wait for it or press Esc.", severity="warning")
            return False
        guarded(self, self.studio, request, lambda: self.start_generation(request, title))
        return True

    # -- hand-off (issue 17): the web gallery link + ssh line, scp/rsync commands (tui/handoff.py) --
    async def action_handoff(self: MainScreen) -> None:
        from banana_studio.tui.handoff import show_handoff

        await show_handoff(self)

    async def action_copy_scp(self: MainScreen) -> None:
        from banana_studio.tui.handoff import copy_scp

        await copy_scp(self)


def _count_descendants(tree: BranchTree, turn_id: int) -> int:
    count = 0
    stack = list(tree.children_of(turn_id))
    while stack:
        tid = stack.pop()
        count += 1
        stack.extend(tree.children_of(tid))
    return count
