"""The library: the gallery across every project, searched with the query language.

Opened from the gallery (``l``) or the palette ("Library: search every project").  Every project
under the projects folder is searched by default (``p`` narrows to the open project and back);
``/`` takes a query — words, ``"phrases"``, ``tag:hero``, ``model:pro``, ``size:2K``,
``aspect:16:9``, ``status:failed``, ``starred``, ``cost>0.2``, ``after:2026-11-01``, ``has:refs``,
``project:NAME``, ``template:NAME``, ``-x`` to exclude.  A bad filter is named in the status line,
with where it is.  Enter opens the turn in its project (switching project if needed); ``v`` views
the images; space / ``t`` select and tag, as in the gallery.

The index (:mod:`banana_studio.services.library`) is brought up to date in a worker thread before
each search; the status line shows which project is being read.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Checkbox, Input, Static

from banana_studio.domain.query import QueryError, parse
from banana_studio.domain.safetext import display_text
from banana_studio.services.library import LibraryHit, LibraryService, first_image
from banana_studio.tui import actions
from banana_studio.tui.screens.gallery import GalleryScreen
from banana_studio.tui.screens.gallery_tile import GalleryTile, TileImage
from banana_studio.tui.widgets.footer import StudioFooter

if TYPE_CHECKING:
    from banana_studio.services import Studio
    from banana_studio.store import TurnNode


_LIBRARIES: weakref.WeakKeyDictionary[App[Any], dict[str, LibraryService]] = weakref.WeakKeyDictionary()
"""Each app's library services, one per projects folder (kept for the app's life, gone with it)."""


def library_for(app: App[Any], root: Path) -> LibraryService:
    """The app's library service of ``root``, created on first use."""
    services = _LIBRARIES.setdefault(app, {})
    key = str(Path(root).expanduser().absolute())
    if key not in services:
        services[key] = LibraryService([Path(key)])
    return services[key]


def projects_root_of(app: App[Any], studio: Studio) -> Path:
    root = getattr(app, "projects_root", None)
    return Path(root) if root is not None else Path(studio.store.path).parent


async def search_rows(screen: Any, text: str, *, limit: int, starred: bool,
                      project_path: Path | None) -> list[Any] | None:
    """Rows for ``text`` through the library (None: the query is wrong or the search failed; the
    screen's status line says why).  Notes (unreadable projects, ``template:`` unsupported) go to
    ``screen.notes``."""
    full = f"{text} starred" if starred else text
    try:
        query = parse(full)
    except QueryError as exc:
        screen.query_error = exc
        screen._set_status(display_text(f"⚠ {exc.message} (at column {exc.position + 1})", one_line=True))
        return None
    screen.query_error = None
    # One project: the folder that holds it (it may live outside the projects folder: `open IMAGE`).
    root = Path(project_path).parent if project_path is not None else projects_root_of(screen.app, screen.studio)
    service = library_for(screen.app, root)

    def progress(i: int, n: int, name: str) -> None:
        try:
            screen.app.call_from_thread(screen._set_status, display_text(f"Indexing {name} ({i + 1} of {n})…",
                                                                         one_line=True))
        except Exception:  # the app is closing: the index goes on, nobody to tell
            pass

    try:
        result = await service.search(query, limit=limit, project_path=project_path, progress=progress)
    except Exception as exc:  # a store error is shown, never raised into the UI loop
        screen._set_status(display_text(f"⚠ Search failed: {exc}", one_line=True))
        return None
    screen.notes = list(result.notes)
    return list(result.hits)


class LibraryScreen(GalleryScreen, inherit_bindings=False):
    """Thumbnails of matching turns across every project (see the module docstring).  Its own keys:
    the gallery's compare (turn ids of one project) does not apply across projects."""

    BINDINGS = [*Screen.BINDINGS, *actions.bindings("library")]

    def __init__(self, studio: Studio, *, query: str = "", all_projects: bool = True) -> None:
        super().__init__(studio)
        self.query_text = query
        self.all_projects = all_projects
        self.notes: list[str] = []
        self.query_error: QueryError | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="gallery-bar"):
            yield Input(self.query_text, id="gallery-search",
                        placeholder="Search every project…  fox  tag:hero  model:pro  cost>0.2  after:2026-11-01  (/)")
            yield Checkbox("★ starred only", id="gallery-starred")
        yield Static("", id="gallery-status", markup=False)
        yield VerticalScroll(id="gallery-grid")
        yield StudioFooter()

    @property
    def scope_path(self) -> Path | None:
        return None if self.all_projects else Path(self.store.path)

    async def _fetch(self, limit: int) -> list[Any] | None:
        return await search_rows(self, self.query_text, limit=limit, starred=self.starred_only,
                                 project_path=self.scope_path)

    def _status_parts(self) -> list[str]:
        """The gallery's parts under a "Library · scope" heading (no compare here), then the notes."""
        scope = "all projects" if self.all_projects else f"project {self.store.name}"
        return ["Library", scope, *super()._status_parts(), *self.notes]

    def _set_status(self, text: str | None = None) -> None:
        super()._set_status(display_text(" · ".join(self._status_parts()) if text is None else text, one_line=True))

    # -- images of other projects (read-only) --------------------------------------------------------

    def _resolve_for(self, node: TurnNode | LibraryHit) -> TileImage | None:
        found = first_image(Path(node.project_path), node.turn_id)
        return TileImage(*found) if found else None

    async def _ensure_resolved(self) -> list[GalleryTile]:
        import asyncio

        missing = [t for t in self.tiles if t.image is None and not t.failed]

        def resolve_all() -> list[tuple[GalleryTile, TileImage | None]]:
            return [(t, self._resolve_for(t.node)) for t in missing]

        for tile, image in await asyncio.to_thread(resolve_all):
            if image is not None and tile.image is None:
                tile.image = image
        return [t for t in self.tiles if t.image is not None]

    # -- actions -------------------------------------------------------------------------------------

    def action_scope(self) -> None:
        self.all_projects = not self.all_projects
        self.limit = self.PAGE
        self.run_worker(self.reload(), group="gallery-search", exclusive=True)

    async def action_open(self) -> None:
        """Open the focused turn where it lives: this project's tree, or its own project."""
        tile = self.focused_tile
        if tile is None:
            return
        hit = tile.node
        show = getattr(self.app, "show_turn_in", None)
        if show is None:  # not inside the studio app (tests host the screen alone)
            self.dismiss(hit.turn_id)
            return
        await show(hit.project, hit.turn_id)

    def action_jump(self) -> None:
        self.run_worker(self.action_open())


def open_library(app: App[Any], studio: Studio, *, query: str = "") -> None:
    """Push the library (all projects) over whatever is showing."""
    app.push_screen(LibraryScreen(studio, query=query))
