"""Command palette (Ctrl+P): every studio action, "go to turn…" and "switch project…"."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.keys import format_key

from banana_studio.tui import actions
from banana_studio.tui.screens.main import MainScreen

if TYPE_CHECKING:
    from banana_studio.tui.app import StudioApp


@dataclass(frozen=True, slots=True)
class PaletteAction:
    title: str
    help: str
    action: str
    """An action string run on the main screen (or ``app.`` prefixed)."""
    binding_id: str = ""


def palette_actions() -> list[PaletteAction]:
    """The palette's actions: those of :mod:`banana_studio.tui.actions` marked for it."""
    out = []
    for a in actions.palette():
        run = a.action if a.owner == "main" or a.action.startswith("app.") else f"app.{a.action}"
        out.append(PaletteAction(a.title or a.description, a.tooltip, run, a.id))
    return out


def _shown(key: str) -> str:
    """``ctrl+question_mark`` → ``ctrl+?``."""
    *mods, name = key.strip().split("+")
    return "+".join([*mods, format_key(name)])


def key_for(binding_id: str, keymap: dict[str, str]) -> str:
    """The keys of ``binding_id`` as the user has them ("r", "ctrl+t / R"), "" when it has none."""
    if not binding_id:
        return ""
    if binding_id in keymap:
        return keymap[binding_id]
    spec = actions.action(binding_id)
    if spec is None or not spec.keys:
        return ""
    keys = [_shown(k) for k in spec.keys.split(",")]
    if spec.key_display:
        keys[0] = spec.key_display
    return " / ".join(k for k in keys if k)


def palette_help(item: PaletteAction, keymap: dict[str, str]) -> str:
    """The palette's help line (Textual markup): the keys, escaped so that "[r]" or "[escape]" is not
    taken for a style and lost, then what the action does."""
    key = key_for(item.binding_id, keymap)
    text = f"[{key}] {item.help}" if key else item.help
    return text.replace("[", "\\[")


_TURN_RE = re.compile(r"^\s*(?:go\s*to\s*)?(?:turn\s*)?#?\s*(\d+)\s*$", re.IGNORECASE)


class StudioCommands(Provider):
    """Actions of the main screen, turns by id or prompt, and projects."""

    @property
    def studio_app(self) -> StudioApp:
        return cast("StudioApp", self.app)

    async def startup(self) -> None:
        self._projects: list[str] = []
        app = self.studio_app
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

    def _help(self, item: PaletteAction) -> str:
        return palette_help(item, getattr(self.studio_app, "user_keymap", {}))

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
        if len(needle) >= 2:
            async for hit in self._library_hits(query, current):
                yield hit
        for name in self._projects:
            if name == current:
                continue
            text = f"Switch project: {name}"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score * 0.9, matcher.highlight(text), partial(self._switch, name))

    async def _library_hits(self, query: str, current: str | None) -> AsyncIterator[Hit]:
        """Turns of every project matching ``query`` in the query language (``tag:hero``, ``model:pro``,
        ``cost>0.2``…).  Plain words in the open project are already listed by the prompt search."""
        from banana_studio.domain.query import QueryError, parse
        from banana_studio.domain.safetext import display_text
        from banana_studio.tui.screens.library import library_for, projects_root_of

        try:
            parsed = parse(query)
        except QueryError:
            return
        if parsed.empty or getattr(self.app, "studio", None) is None:
            return
        try:
            service = library_for(self.app, projects_root_of(self.app, self.studio_app.studio))
            result = await service.search(parsed, limit=30)
        except Exception:
            return
        matcher = self.matcher(query)
        for hit in result.hits:
            if hit.project == current and not parsed.filters and not any(w.phrase for w in parsed.words):
                continue
            where = "" if hit.project == current else f"{display_text(hit.project, one_line=True)} "
            prompt = display_text(hit.prompt, one_line=True)[:70]
            text = f"Open {where}#{hit.turn_id}: {prompt}"
            tags = " ".join("#" + display_text(t, one_line=True) for t in hit.tags)
            yield Hit((matcher.match(text) or 0.4) * 0.7, matcher.highlight(text),
                      partial(self._open_in, hit.project, hit.turn_id),
                      help=" · ".join(x for x in (hit.status, hit.model, tags) if x))

    async def _open_in(self, project: str, turn_id: int) -> None:
        show = getattr(self.app, "show_turn_in", None)
        if show is not None:
            await show(project, turn_id)

    def _goto(self, turn_id: int) -> None:
        main = self._main()
        if main is not None:
            from banana_studio.tui.widgets.branch_tree import BranchTree

            tree = main.query_one(BranchTree)
            tree.display = True
            tree.select_turn(turn_id)
            tree.focus()

    async def _switch(self, name: str) -> None:
        app = self.studio_app
        await app.open_project(name)
