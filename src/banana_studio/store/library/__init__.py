"""Search across every project: a user-level index (:mod:`.index`), what it reads of a project
(:mod:`.extract`) and how a query runs over it (:mod:`.search`).  :class:`Library` puts them together:
every search first brings the index up to date (cheap when nothing changed) and a damaged index is
rebuilt and searched again."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from banana_studio.domain.query import Query, parse
from banana_studio.store.library.extract import SyncStats
from banana_studio.store.library.index import INDEX_NAME, LibraryIndex, _corrupt
from banana_studio.store.library.search import LibraryHit, SearchResult, run_query

Progress = Callable[[int, int, str], None]


class Library:
    """Search over the projects under ``roots`` through the index file ``index_path``."""

    def __init__(self, index_path: Path, roots: Iterable[Path]) -> None:
        self.roots = [Path(r).expanduser().absolute() for r in roots]
        self.index = LibraryIndex(index_path)
        self.last_sync = SyncStats()

    def sync(self, progress: Progress | None = None) -> SyncStats:
        self.last_sync = self.index.sync(self.roots, progress)
        return self.last_sync

    def search(self, query: str | Query, *, limit: int = 200, project_path: Path | None = None,
               sync: bool = True, progress: Progress | None = None) -> SearchResult:
        """Matches of ``query`` (text is parsed: :class:`~banana_studio.domain.query.QueryError` on a bad
        query) across every project, or only ``project_path``'s; newest first."""
        q = parse(query) if isinstance(query, str) else query
        for attempt in (0, 1):
            try:
                if sync:
                    self.sync(progress)
                projects = self.index.project_ids(self.roots)
                if project_path is not None:
                    want = str(Path(project_path).expanduser().absolute())
                    projects = {pid: v for pid, v in projects.items() if v[1] == want}
                result = run_query(self.index, q, projects, limit=limit)
                if project_path is None:
                    result.notes += [f"Not searched: {e}" for e in self.index.problems(self.roots)]
                return result
            except sqlite3.DatabaseError as exc:
                if attempt or not _corrupt(exc):
                    raise
                self.index.rebuild()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["INDEX_NAME", "Library", "LibraryHit", "LibraryIndex", "SearchResult", "SyncStats"]
