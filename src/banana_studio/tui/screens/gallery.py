"""Gallery: thumbnails of the project's generations, prompt search, starred filter, viewer, compare.

Only the tiles scrolled into view (plus one screen ahead) resolve their image and thumbnail; the
store calls run in threads (``asyncio.to_thread``), at most four at a time.

Keys: arrows, ``/`` search (the query language: ``tag:hero cost>0.2``…), ``s`` starred only, Enter /
``v`` viewer, ``c`` marks for comparison (two marks open it), ``g`` jumps to the turn (dismissed with its
id), space selects, ``t`` tags the selection (:mod:`.gallery_select`), ``l`` the library, Esc closes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.geometry import Region
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Static

from banana_studio.domain.safetext import display_text
from banana_studio.domain.target import DEMO_BADGE
from banana_studio.tui import actions
from banana_studio.tui.screens.gallery_select import GallerySelection
from banana_studio.tui.screens.gallery_tile import GalleryTile, TileImage
from banana_studio.tui.widgets.footer import StudioFooter

if TYPE_CHECKING:
    from banana_studio.services import Studio
    from banana_studio.services.library import LibraryHit
    from banana_studio.store import TurnNode

TILE_WIDTH = 26
"""Cells per tile column, gutter included."""


class GalleryScreen(GallerySelection, Screen[int | None]):
    """Thumbnails across the project.  Dismisses with a turn id (``g``) or None."""

    BINDINGS = actions.bindings("gallery")

    AUTO_FOCUS = ""
    """Focus goes to the first tile once the grid is built (``/`` focuses the search box)."""

    PAGE = 200
    """Turns fetched per query (more are fetched when the end is reached)."""
    CONCURRENCY = 4

    def __init__(self, studio: Studio, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.studio = studio
        self.store = studio.store
        self.query_text = ""
        self.starred_only = False
        self.limit = self.PAGE
        self.nodes: list[Any] = []
        self.more_available = False
        self._marks: list[int] = []
        self._init_selection()
        self._search_timer: Timer | None = None
        self._sem = asyncio.Semaphore(self.CONCURRENCY)
        self._generation = 0

    def compose(self) -> ComposeResult:
        with Horizontal(id="gallery-bar"):
            yield Input(placeholder="Search…  fox  tag:hero  model:pro  cost>0.2  (/)", id="gallery-search")
            yield Checkbox("★ starred only", id="gallery-starred")
        yield Static("", id="gallery-status", markup=False)
        yield VerticalScroll(id="gallery-grid")
        yield StudioFooter()  # at 80 columns the least important keys give way

    @property
    def grid(self) -> VerticalScroll:
        return self.query_one("#gallery-grid", VerticalScroll)

    @property
    def tiles(self) -> list[GalleryTile]:
        return list(self.grid.query_children(GalleryTile))

    async def on_mount(self) -> None:
        self.watch(self.grid, "scroll_y", self._on_scroll, init=False)
        await self.reload()

    # -- data ----------------------------------------------------------------------------------

    async def reload(self) -> None:
        """Run the query and rebuild the grid (first page of tiles)."""
        self._generation += 1
        generation = self._generation
        limit = self.limit
        rows = await self._fetch(limit + 1)
        if rows is None or generation != self._generation or not self.is_attached:
            return
        self.more_available = len(rows) > limit
        self.nodes = [n for n in rows[:limit] if n.n_final > 0]
        await self._rebuild()

    async def _fetch(self, limit: int) -> list[Any] | None:
        """The rows of the current search, newest first (None: failed, and the status says why).  A
        query goes through the library's index (the query language), limited to this project."""
        if self.query_text.strip():
            from pathlib import Path

            from banana_studio.tui.screens.library import search_rows

            return await search_rows(self, self.query_text, limit=limit, starred=self.starred_only,
                                     project_path=Path(self.store.path))
        try:
            return await asyncio.to_thread(self.store.search, self.query_text, limit=limit,
                                           starred=self.starred_only)
        except Exception as exc:  # store errors are shown, never raised into the UI loop
            self._set_status(f"⚠ Search failed: {exc}")
            return None

    async def _rebuild(self) -> None:
        try:
            grid = self.grid
        except NoMatches:  # the screen is closing
            return
        await grid.remove_children()
        self._marks = []
        tiles = [GalleryTile(node, i) for i, node in enumerate(self.nodes)]
        if tiles:
            await grid.mount_all(tiles)
            self._mark_selected(tiles)
        else:
            what = "matching your search" if self.query_text else "with images yet"
            star = " starred" if self.starred_only else ""
            await grid.mount(Static(f"No{star} generations {what}.", id="gallery-empty"))
        self._apply_columns()
        self.call_after_refresh(self._apply_columns)
        self._set_status()
        grid.scroll_home(animate=False)
        if tiles and not isinstance(self.focused, Input | Checkbox):
            tiles[0].focus()
        self.call_after_refresh(self._load_visible)

    def _status_parts(self) -> list[str]:
        """The status line's parts: the count, then the search, filter, paging, compare and selection."""
        n = len(self.nodes)
        parts = [f"{n} generation{'s' if n != 1 else ''}"]
        if self.query_text:
            parts.append(f"matching “{self.query_text}”")
        if self.starred_only:
            parts.append("★ only")
        if self.more_available:
            parts.append(f"newest {self.limit} shown — scroll to the end for more")
        if self._marks:
            parts.append(f"compare: #{self._marks[0]} marked, press c on another")
        if self.selected:
            parts.append(self.selection_text())
        return parts

    def _set_status(self, text: str | None = None) -> None:
        if text is None:
            text = " · ".join(self._status_parts())
        try:
            self.query_one("#gallery-status", Static).update(text)
        except NoMatches:  # the screen is closing
            pass

    @property
    def columns(self) -> int:
        width = self.grid.scrollable_content_region.width or self.size.width or self.app.size.width or 80
        return max(1, width // TILE_WIDTH)

    def _apply_columns(self) -> None:
        columns = self.columns
        if self.grid.styles.grid_size_columns != columns:
            self.grid.styles.grid_size_columns = columns

    def on_resize(self) -> None:
        self._apply_columns()
        self.call_after_refresh(self._load_visible)

    # -- lazy thumbnails -----------------------------------------------------------------------

    def _on_scroll(self, _value: float) -> None:
        self._load_visible()
        grid = self.grid
        if self.more_available and grid.scroll_y >= grid.max_scroll_y - 1:
            self.more_available = False
            self.run_worker(self.load_more(), group="gallery-more", exclusive=True)

    async def load_more(self) -> None:
        """Fetch the next page and append its tiles (the scroll position and focus stay)."""
        generation = self._generation
        self.limit += self.PAGE
        limit = self.limit
        rows = await self._fetch(limit + 1)
        if rows is None or generation != self._generation or not self.is_attached:
            return
        self.more_available = len(rows) > limit
        known = {n.id for n in self.nodes}
        new = [n for n in rows[:limit] if n.n_final > 0 and n.id not in known]
        start = len(self.nodes)
        self.nodes.extend(new)
        tiles = [GalleryTile(node, start + i) for i, node in enumerate(new)]
        if tiles:
            await self.grid.mount_all(tiles)
            self._mark_selected(tiles)
        self._set_status()
        self.call_after_refresh(self._load_visible)

    def visible_tiles(self, ahead: int = 1) -> list[GalleryTile]:
        """Tiles within the viewport, plus ``ahead`` viewports below it."""
        grid = self.grid
        height = grid.scrollable_content_region.height or grid.size.height
        window = Region(0, int(grid.scroll_y), 10_000, max(1, height * (1 + ahead)))
        return [t for t in self.tiles if t.virtual_region.overlaps(window)]

    def _load_visible(self) -> None:
        generation = self._generation
        for tile in self.visible_tiles():
            if not tile.requested:
                tile.requested = True
                self.run_worker(self._load_tile(tile, generation), group="gallery-thumbs")

    def _resolve(self, turn_id: int) -> TileImage | None:
        """Blocking (thread): the turn's first final image and its cached thumbnail."""
        turn = self.store.get_turn(turn_id)
        finals = turn.final_images
        if not finals:
            return None
        image = finals[0]
        return TileImage(self.store.abs_path(image.path), self.store.thumbnail(image, 512))

    def _resolve_for(self, node: TurnNode | LibraryHit) -> TileImage | None:
        return self._resolve(node.id)

    async def _load_tile(self, tile: GalleryTile, generation: int) -> None:
        async with self._sem:
            if generation != self._generation or not tile.is_attached:
                return
            try:
                resolved = await asyncio.to_thread(self._resolve_for, tile.node)
            except Exception as exc:
                tile.failed = str(exc)
                if (thumb := tile.live_thumbnail) is not None:
                    thumb.set_placeholder(f"⚠ {exc}")
                return
            thumb = tile.live_thumbnail
            if thumb is None:
                return
            if resolved is None:
                thumb.set_placeholder("(no image)")
                return
            tile.image = resolved
            thumb.pending_source = resolved.thumb
            await thumb.load()

    # -- search / filter -----------------------------------------------------------------------

    @on(Input.Changed, "#gallery-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        value = event.value.strip()

        def run() -> None:
            self.query_text = value
            self.limit = self.PAGE
            self.run_worker(self.reload(), group="gallery-search", exclusive=True)

        self._search_timer = self.set_timer(0.25, run)

    @on(Input.Submitted, "#gallery-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self.query_text = event.value.strip()
        self.limit = self.PAGE
        self.run_worker(self.reload(), group="gallery-search", exclusive=True)
        self._focus_tile(0)

    @on(Checkbox.Changed, "#gallery-starred")
    def _starred_changed(self, event: Checkbox.Changed) -> None:
        if event.value != self.starred_only:
            self.starred_only = event.value
            self.limit = self.PAGE
            self.run_worker(self.reload(), group="gallery-search", exclusive=True)

    def action_focus_search(self) -> None:
        self.query_one("#gallery-search", Input).focus()

    def action_toggle_starred(self) -> None:
        box = self.query_one("#gallery-starred", Checkbox)
        box.value = not box.value

    # -- navigation ----------------------------------------------------------------------------

    @property
    def focused_tile(self) -> GalleryTile | None:
        focused = self.focused
        return focused if isinstance(focused, GalleryTile) else None

    def _focus_tile(self, index: int) -> None:
        tiles = self.tiles
        if not tiles:
            return
        tile = tiles[max(0, min(index, len(tiles) - 1))]
        tile.focus()
        tile.scroll_visible(animate=False)

    def action_move(self, dx: int, dy: int) -> None:
        tile = self.focused_tile
        if tile is None:
            if dy > 0 or dx > 0:
                self._focus_tile(0)
            return
        index = tile.index + dx + dy * self.columns
        if 0 <= index < len(self.tiles):
            self._focus_tile(index)
        elif dy < 0:
            self.action_focus_search()

    def on_descendant_focus(self) -> None:
        self.call_after_refresh(self._load_visible)

    # -- actions -------------------------------------------------------------------------------

    async def _ensure_resolved(self) -> list[GalleryTile]:
        """Resolve every listed tile's image path (threads) so the viewer can browse them all."""
        missing = [t for t in self.tiles if t.image is None and not t.failed]

        def resolve_all() -> list[tuple[GalleryTile, TileImage | None]]:
            out: list[tuple[GalleryTile, TileImage | None]] = []
            for tile in missing:
                try:
                    turn = self.store.get_turn(tile.node.id)
                except Exception:
                    out.append((tile, None))
                    continue
                finals = turn.final_images
                path = self.store.abs_path(finals[0].path) if finals else None
                out.append((tile, TileImage(path, path) if path else None))
            return out

        for tile, image in await asyncio.to_thread(resolve_all):
            if image is not None and tile.image is None:
                tile.image = image
        return [t for t in self.tiles if t.image is not None]

    async def action_view(self) -> None:
        tile = self.focused_tile
        if tile is None:
            self._focus_tile(0)
            return
        from banana_studio.tui.screens.viewer import ViewerScreen

        ready = await self._ensure_resolved()
        if tile not in ready:
            self.notify("This turn has no image to show.", severity="warning")
            return
        paths = [t.image.path for t in ready if t.image is not None]
        titles = [f"#{t.node.id}{' ' + DEMO_BADGE if getattr(t.node, 'target', '') == 'local' else ''} "
                  f"{' '.join(display_text(str(t.node.prompt), one_line=True).split())}" for t in ready]
        await self.app.push_screen(ViewerScreen(paths, ready.index(tile), titles=titles))

    async def action_mark_compare(self) -> None:
        tile = self.focused_tile
        if tile is None:
            return
        turn_id = tile.node.id
        if turn_id in self._marks:
            self._marks.remove(turn_id)
            tile.marked = False
            self._set_status()
            return
        self._marks.append(turn_id)
        tile.marked = True
        if len(self._marks) < 2:
            self._set_status()
            return
        a, b = self._marks[:2]
        self._marks = []
        for t in self.tiles:
            t.marked = False
        self._set_status()
        from banana_studio.tui.screens.compare import CompareScreen

        await self.app.push_screen(CompareScreen(self.studio, a, b))

    def action_jump(self) -> None:
        tile = self.focused_tile
        if tile is not None:
            self.dismiss(tile.node.id)

    def action_template_grid(self) -> None:
        tile = self.focused_tile
        if tile is not None:  # the X/Y grid of the template run that made it; a picked cell: go to its turn
            from banana_studio.tui.screens.matrix_grid import open_run_grid

            async def show(turn_id: int) -> None:
                if (picked := await open_run_grid(self, self.studio, turn_id)) is not None:
                    self.dismiss(picked)

            self.run_worker(show(tile.node.id), group="template-grid", exclusive=True, exit_on_error=False)

    def action_close(self) -> None:
        if not self.clear_selected():  # Esc first drops a selection, then closes
            self.dismiss(None)

    def action_library(self) -> None:
        from banana_studio.tui.screens.library import open_library

        open_library(self.app, self.studio, query=self.query_text)

    @property
    def marks(self) -> list[int]:
        return list(self._marks)
