"""The gallery's multi-selection and bulk tag editing (shared by the project gallery and the library).

Space selects / unselects the focused tile (``ctrl+a`` selects every listed tile, ``escape`` with a
selection clears it); ``t`` edits the tags of the selection — or of the focused tile when nothing is
selected — in one small modal, applied to every turn in one transaction per project.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural
from banana_studio.services import library as library_service

if TYPE_CHECKING:
    from banana_studio.services.library import LibraryHit
    from banana_studio.store import TurnNode


def node_key(node: TurnNode | LibraryHit) -> tuple[str, int]:
    """Which turn a tile shows: (project folder, turn id); the project gallery's nodes have no folder."""
    return (str(getattr(node, "project_path", "") or ""), int(node.id))


class GallerySelection:
    """Mixed into :class:`~banana_studio.tui.screens.gallery.GalleryScreen` (which provides ``tiles``,
    ``focused_tile``, ``store``, ``reload``, ``_set_status``)."""

    selected: dict[tuple[str, int], Any]

    def _init_selection(self) -> None:
        self.selected = {}

    # -- selecting ----------------------------------------------------------------------------------

    def _mark_selected(self, tiles: list[Any]) -> None:
        for tile in tiles:
            tile.set_class(node_key(tile.node) in self.selected, "-selected")

    def action_toggle_select(self) -> None:
        tile = self.focused_tile  # type: ignore[attr-defined]
        if tile is None:
            return
        key = node_key(tile.node)
        if key in self.selected:
            del self.selected[key]
        else:
            self.selected[key] = tile.node
        tile.set_class(key in self.selected, "-selected")
        self._set_status()  # type: ignore[attr-defined]

    def action_select_all(self) -> None:
        tiles = self.tiles  # type: ignore[attr-defined]
        if tiles and all(node_key(t.node) in self.selected for t in tiles):
            self.selected.clear()
        else:
            self.selected.update({node_key(t.node): t.node for t in tiles})
        self._mark_selected(tiles)
        self._set_status()  # type: ignore[attr-defined]

    def clear_selected(self) -> bool:
        if not self.selected:
            return False
        self.selected.clear()
        self._mark_selected(self.tiles)  # type: ignore[attr-defined]
        self._set_status()  # type: ignore[attr-defined]
        return True

    def selection_text(self) -> str:
        return f"{plural(len(self.selected), 'turn')} selected (t: tags)" if self.selected else ""

    def _targets(self) -> list[Any]:
        if self.selected:
            return list(self.selected.values())
        tile = self.focused_tile  # type: ignore[attr-defined]
        return [tile.node] if tile is not None else []

    # -- tags ---------------------------------------------------------------------------------------

    async def _current_tags(self, nodes: list[Any]) -> Counter[str]:
        """How many of ``nodes`` carry each tag (library hits carry their tags; project nodes are read)."""
        counts: Counter[str] = Counter()
        plain = [n for n in nodes if not hasattr(n, "tags")]
        for n in nodes:
            counts.update(getattr(n, "tags", None) or [])
        if plain:
            found = await library_service.tags_of(self.store, [n.id for n in plain])  # type: ignore[attr-defined]
            for tags in found.values():
                counts.update(tags)
        return counts

    async def action_edit_tags(self) -> None:
        nodes = self._targets()
        if not nodes:
            self.notify("Select turns first (space), or focus one.", severity="warning")  # type: ignore[attr-defined]
            return
        from banana_studio.tui.screens.tag_edit import TagEditScreen

        counts = await self._current_tags(nodes)

        async def done(result: tuple[list[str], list[str]] | None) -> None:
            if result is not None and (result[0] or result[1]):
                await self._apply_tags(nodes, *result)

        await self.app.push_screen(TagEditScreen(len(nodes), counts), done)  # type: ignore[attr-defined]

    async def _apply_tags(self, nodes: list[Any], add: list[str], remove: list[str]) -> None:
        store = self.store  # type: ignore[attr-defined]
        here = str(Path(store.path).absolute())
        by_project: dict[str, list[int]] = {}
        for n in nodes:
            path = str(getattr(n, "project_path", "") or here)
            by_project.setdefault(path, []).append(int(n.id))
        try:
            for path, ids in by_project.items():
                if path == here:
                    await library_service.edit_tags(store, ids, add=add, remove=remove)
                else:
                    await library_service.edit_tags_in(Path(path), ids, add=add, remove=remove)
        except Exception as exc:  # a bad tag, a project that went away: said, never raised into the loop
            self.notify(display_text(str(exc)), title="Tags not changed", severity="error")  # type: ignore[attr-defined]
            return
        for n in nodes:
            if hasattr(n, "tags"):
                folded = {t.casefold() for t in remove}
                kept = [t for t in n.tags if t.casefold() not in folded and t.casefold() not in
                        {a.casefold() for a in add}]
                n.tags = sorted([*kept, *add], key=str.casefold)
        bits = [f"+{t}" for t in add] + [f"−{t}" for t in remove]
        self.notify(display_text(f"{plural(len(nodes), 'turn')}: {' '.join(bits)}", one_line=True),
                    title="Tags changed")  # type: ignore[attr-defined]
        if getattr(self, "query_text", "") or getattr(self, "starred_only", False):
            await self.reload()  # type: ignore[attr-defined]
        else:
            self._set_status()  # type: ignore[attr-defined]
