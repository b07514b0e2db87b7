"""The main screen's share of :mod:`banana_studio.tui.project_watch`: turns other processes add to the
open project (an MCP agent, ``banana-studio gen`` in another shell) appear live, the selection stays."""

from __future__ import annotations

from typing import TYPE_CHECKING

from banana_studio.tui.project_watch import ProjectChanged, ProjectWatch

if TYPE_CHECKING:
    from banana_studio.tui.screens.main.screen import MainScreen


class Watching:
    """Mixin of :class:`MainScreen`: the watch starts on mount, the tree reloads when it reports."""

    project_watch: ProjectWatch | None = None

    def watch_project(self: MainScreen) -> None:
        self.project_watch = ProjectWatch(self, lambda: self.studio)
        self.project_watch.start()

    async def on_project_changed(self: MainScreen, message: ProjectChanged) -> None:
        await self.reload_tree(keep_cursor=True)  # the cursor stays where the person has it now
        if self.selected_id is not None and self.selected_id != self.live_turn_id:
            self.load_turn(self.selected_id)  # e.g. the agent's turn being watched has finished
        if message.notice:
            self.notify(message.notice, title="Project changed", timeout=8)
