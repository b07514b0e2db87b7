"""Command palette (Ctrl+P): every studio action, "go to turn…" and "switch project…"."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from banana_studio.tui.screens.main import MainScreen


@dataclass(frozen=True, slots=True)
class PaletteAction:
    title: str
    help: str
    action: str
    """An action string run on the main screen (or ``app.`` prefixed)."""
    binding_id: str = ""


EXTRA_ACTIONS = [
    PaletteAction("Help: keys and concepts", "Every key (with your keymap) and how turns/branches work", "app.help",
                  "help"),
    PaletteAction("Switch project…", "Open the project picker", "app.projects", "project-picker"),
    PaletteAction("New project…", "Create a project and open it", "app.new_project"),
    PaletteAction("Rename this project…", "Rename the current project's folder", "app.rename_project"),
]


_NOT_IN_PALETTE = {"leave_input"}


def palette_actions() -> list[PaletteAction]:
    """One entry per MainScreen binding (with a description) plus app-level extras."""
    out: list[PaletteAction] = []
    seen: set[str] = set()
    for binding in MainScreen.BINDINGS:
        b: Any = binding
        if b.action in seen or not b.description or b.action in _NOT_IN_PALETTE:
            continue
        seen.add(b.action)
        out.append(PaletteAction(b.description, b.tooltip or "", b.action, b.id or ""))
    return out + EXTRA_ACTIONS


_TURN_RE = re.compile(r"^\s*(?:go\s*to\s*)?(?:turn\s*)?#?\s*(\d+)\s*$", re.IGNORECASE)


class StudioCommands(Provider):
    """Actions of the main screen, turns by id or prompt, and projects."""

    async def startup(self) -> None:
        self._projects: list[str] = []
        app: Any = self.app
        root = getattr(app, "projects_root", None)
        if root is None:
            return
        try:
            from banana_studio.store import list_projects

            infos = await asyncio.to_thread(list_projects, root)
            self._projects = [p.name for p in infos if not getattr(p, "error", "")]
        except Exception:
            self._projects = []

    def _main(self) -> MainScreen | None:
        for screen in reversed(self.app.screen_stack):
            if isinstance(screen, MainScreen):
                return screen
        return None

    def _runner(self, action: str) -> Callable[[], Any]:
        main = self._main()

        async def run() -> None:
            if action.startswith("app."):
                await self.app.run_action(action[4:])
            elif main is not None:
                await main.run_action(action)

        return run

    def _key_for(self, binding_id: str) -> str:
        if not binding_id:
            return ""
        app: Any = self.app
        keymap: dict[str, str] = getattr(app, "user_keymap", {})
        if binding_id in keymap:
            return keymap[binding_id]
        for binding in MainScreen.BINDINGS:
            b: Any = binding
            if b.id == binding_id:
                return str(b.key_display or b.key.split(",")[0])
        return ""

    def _help(self, item: PaletteAction) -> str:
        key = self._key_for(item.binding_id)
        return f"[{key}] {item.help}".strip() if key else item.help

    async def discover(self) -> Hits:
        for item in palette_actions():
            yield DiscoveryHit(item.title, self._runner(item.action), help=self._help(item))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for item in palette_actions():
            score = matcher.match(item.title)
            if score > 0:
                yield Hit(score, matcher.highlight(item.title), self._runner(item.action), help=self._help(item))
        main = self._main()
        m = _TURN_RE.match(query)
        if main is not None and m:
            turn_id = int(m.group(1))
            known = await asyncio.to_thread(main.store.nodes_for, [turn_id])
            node = known[0] if known else None
            if node is not None:
                yield Hit(1.0, f"Go to turn #{turn_id}", partial(self._goto, turn_id), help=node.prompt[:80])
        needle = query.strip().lower()
        if main is not None and len(needle) >= 2:
            # Prompt search over the whole project (the tree only holds the rows on screen), newest first.
            store = main.store
            found = list(await asyncio.to_thread(store.search, query, limit=50))
            if not found and matcher.match("Go to turn") > 0:
                found = list(await asyncio.to_thread(store.recent, 20))  # "go to turn…": the latest turns
            for node in found:
                text = f"Go to turn #{node.id}: {node.prompt[:70]}"
                score = matcher.match(text) or 0.5
                yield Hit(score * 0.8, matcher.highlight(text), partial(self._goto, node.id),
                          help=f"{node.status} · {node.kind}")
        current = getattr(getattr(getattr(self.app, "studio", None), "store", None), "name", None)
        for name in self._projects:
            if name == current:
                continue
            text = f"Switch project: {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score * 0.9, matcher.highlight(text), partial(self._switch, name))

    def _goto(self, turn_id: int) -> None:
        main = self._main()
        if main is not None:
            from banana_studio.tui.widgets.branch_tree import BranchTree

            tree = main.query_one(BranchTree)
            tree.display = True
            tree.select_turn(turn_id)
            tree.focus()

    async def _switch(self, name: str) -> None:
        app: Any = self.app
        await app.open_project(name)
