"""The library: search across every project (the query language of :mod:`banana_studio.domain.query`)
and tag edits, for the studio and the command line.

One :class:`LibraryService` per process holds the user-level index (``search-index.db`` in the user
data folder, see :mod:`banana_studio.paths`).  The async methods run the store's work in a worker
thread: syncing a changed project and searching never block the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from banana_studio.domain.query import Query, QueryError, parse
from banana_studio.store import ProjectStore
from banana_studio.store.files import atomic_write
from banana_studio.store.library import INDEX_NAME, Library, LibraryHit, SearchResult
from banana_studio.store.project.thumbnails import encode_thumbnail

Progress = Callable[[int, int, str], None]


def index_path() -> Path:
    from banana_studio.paths import data_dir

    return data_dir() / INDEX_NAME


class LibraryService:
    """Search over the projects under ``roots`` (opened lazily, in the first worker thread that needs it)."""

    def __init__(self, roots: Iterable[Path], path: Path | None = None) -> None:
        self.roots = [Path(r).expanduser() for r in roots]
        self.path = path or index_path()
        self._library: Library | None = None
        self._open_lock = threading.Lock()

    @property
    def library(self) -> Library:
        with self._open_lock:
            if self._library is None:
                self._library = Library(self.path, self.roots)
            return self._library

    def search_now(self, query: str | Query, *, limit: int = 200, project_path: Path | None = None,
                   progress: Progress | None = None) -> SearchResult:
        """Blocking: bring the index up to date, then search.  Raises :class:`QueryError`."""
        q = parse(query) if isinstance(query, str) else query
        return self.library.search(q, limit=limit, project_path=project_path, progress=progress)

    async def search(self, query: str | Query, *, limit: int = 200, project_path: Path | None = None,
                     progress: Progress | None = None) -> SearchResult:
        """The same in a worker thread (the query is parsed first, on the caller's side: a bad query
        raises :class:`QueryError` at once)."""
        q = parse(query) if isinstance(query, str) else query
        return await asyncio.to_thread(self.search_now, q, limit=limit, project_path=project_path,
                                       progress=progress)

    def close(self) -> None:
        with self._open_lock:
            if self._library is not None:
                self._library.close()
                self._library = None


def first_image(project_dir: Path, turn_id: int) -> tuple[Path, Path] | None:
    """Blocking: (image, thumbnail) of a turn's first final image in any project, read-only (the
    project's cached 512 px thumbnail when it has one, else the image itself)."""
    from banana_studio.store.readonly import ProjectReader, ReadError

    project_dir = Path(project_dir)
    try:
        with ProjectReader(project_dir.parent).open(project_dir.absolute()) as view:
            turn = view.turn(int(turn_id))
            finals = turn.finals() if turn is not None else []
            path = view.recorded_file(finals[0].path) if finals else None
            sha = finals[0].sha256 if finals else ""
    except ReadError:
        return None
    if path is None:
        return None
    for ext in ("jpg", "png"):
        thumb = project_dir / ".thumbs" / f"{sha}-512.{ext}"
        if thumb.is_file():
            return path, thumb
    return path, _cached_thumb(path, sha)


def _cached_thumb(image: Path, sha: str, max_px: int = 512) -> Path:
    """A thumbnail of another project's image in the user cache (that project's folder is only read);
    the image itself when none can be made."""
    from PIL import Image

    from banana_studio.paths import cache_dir

    folder = cache_dir() / "library-thumbs"
    for ext in ("jpg", "png"):
        if (folder / f"{sha}-{max_px}.{ext}").is_file():
            return folder / f"{sha}-{max_px}.{ext}"
    try:
        data, ext = encode_thumbnail(image, max_px)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{sha}-{max_px}.{ext}"
        atomic_write(target, data)
        return target
    except (OSError, ValueError, Image.DecompressionBombError):
        return image


def edit_tags_now(store: ProjectStore, turn_ids: Iterable[int], *, add: Iterable[str] = (),
                  remove: Iterable[str] = ()) -> int:
    """Blocking: add / remove tags on many turns of ``store`` in one transaction (``TagError`` for a
    bad tag, ``ProjectError`` for an unknown turn)."""
    return store.edit_tags(list(turn_ids), add=list(add), remove=list(remove))


async def edit_tags(store: ProjectStore, turn_ids: Iterable[int], *, add: Iterable[str] = (),
                    remove: Iterable[str] = ()) -> int:
    return await asyncio.to_thread(edit_tags_now, store, list(turn_ids), add=list(add), remove=list(remove))


def edit_tags_in_now(project_dir: Path, turn_ids: Iterable[int], *, add: Iterable[str] = (),
                     remove: Iterable[str] = ()) -> int:
    """Blocking: the same in another project (opened for the edit, then closed)."""
    with ProjectStore.open_path(project_dir, create=False) as store:
        return edit_tags_now(store, turn_ids, add=add, remove=remove)


async def edit_tags_in(project_dir: Path, turn_ids: Iterable[int], *, add: Iterable[str] = (),
                       remove: Iterable[str] = ()) -> int:
    return await asyncio.to_thread(edit_tags_in_now, Path(project_dir), list(turn_ids), add=list(add),
                                   remove=list(remove))


async def tags_of(store: ProjectStore, turn_ids: Iterable[int]) -> dict[int, list[str]]:
    return await asyncio.to_thread(store.tags_of, list(turn_ids))


async def all_tags(store: ProjectStore) -> list[tuple[str, int]]:
    return await asyncio.to_thread(store.all_tags)


__all__ = ["LibraryHit", "LibraryService", "QueryError", "SearchResult", "all_tags", "edit_tags",
           "edit_tags_in", "edit_tags_in_now", "edit_tags_now", "first_image", "index_path", "tags_of"]
