"""The user-level search index: one SQLite file (FTS5) over the turns of every project, kept in step
with each project.

Each project is recorded with a *stamp* (size and mtime of its index and WAL files): an unchanged
stamp means nothing to read, so a search across 20 unchanged projects costs 40 ``stat`` calls.  A
changed project is read read-only, and only its turns whose revision (``turns.rev``, bumped by
triggers on every change of a turn or its tags, schema 6) is newer than the recorded one are
re-indexed; turns deleted since are dropped (by count, then by id).  A project without revisions
(an older schema, not opened since) is re-read whole.  A project that vanished is dropped; one
recreated at the same path (another uuid) is rebuilt.  A missing, unreadable or corrupt index file
is rebuilt from the projects.

Synchronous and thread-safe (one connection, one lock); callers run it in a worker thread.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from banana_studio.store.library.extract import SyncStats, read_project
from banana_studio.store.names import ProjectError
from banana_studio.store.project.catalogue import _project_dirs
from banana_studio.store.project.connection import BUSY_TIMEOUT_MS, DB_NAME

INDEX_VERSION = 2
"""2: docs.model_version.  An index of another version is thrown away and rebuilt from the projects."""
INDEX_NAME = "search-index.db"
TAG_SEP = "\x1f"

_SCHEMA = (
    "CREATE TABLE projects (pid INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, root TEXT NOT NULL, "
    "name TEXT NOT NULL, uuid TEXT NOT NULL DEFAULT '', stamp TEXT NOT NULL DEFAULT '', rev INTEGER NOT NULL "
    "DEFAULT 0, n INTEGER NOT NULL DEFAULT 0, has_template INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL "
    "DEFAULT '')",
    "CREATE TABLE docs (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, turn_id INTEGER NOT NULL, parent_id INTEGER, "
    "prompt TEXT NOT NULL, status TEXT NOT NULL, starred INTEGER NOT NULL, label TEXT NOT NULL, tags TEXT NOT NULL, "
    "model TEXT NOT NULL, image_size TEXT NOT NULL, aspect TEXT NOT NULL, cost REAL NOT NULL, created_at REAL "
    "NOT NULL, has_refs INTEGER NOT NULL, n_final INTEGER NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL, "
    "template TEXT NOT NULL, has_grounding INTEGER NOT NULL, has_thoughts INTEGER NOT NULL, "
    "model_version TEXT NOT NULL)",
    "CREATE INDEX docs_created ON docs(created_at)",
    "CREATE INDEX docs_pid ON docs(pid, turn_id)",
    "CREATE TABLE doc_tags (tag TEXT NOT NULL COLLATE NOCASE, doc INTEGER NOT NULL, PRIMARY KEY (tag, doc)) "
    "WITHOUT ROWID",
    "CREATE INDEX doc_tags_doc ON doc_tags(doc)",
    "CREATE VIRTUAL TABLE docs_fts USING fts5(prompt, label, tags, thoughts, answer, grounding, "
    "tokenize='unicode61 remove_diacritics 2')",
)

DOC_COLUMNS = ("id", "pid", "turn_id", "parent_id", "prompt", "status", "starred", "label", "tags", "model",
               "image_size", "aspect", "cost", "created_at", "has_refs", "n_final", "kind", "target", "template",
               "has_grounding", "has_thoughts", "model_version")


def doc_id(pid: int, turn_id: int) -> int:
    """A turn's row id in the index: stable, so a re-indexed turn replaces itself."""
    return (int(pid) << 32) | int(turn_id)


def _stamp(project: Path) -> str:
    """What changes when anyone commits to the project: its index file's and its WAL's mtime and size."""
    parts = []
    for name in (DB_NAME, DB_NAME + "-wal"):
        try:
            st = os.stat(project / name)
        except OSError:
            parts.append("-")
            continue
        # An empty WAL is no change: a read-only reader (this index's own) creates one when there is none.
        parts.append(f"{st.st_mtime_ns}:{st.st_size}" if st.st_size or name == DB_NAME else "-")
    return "/".join(parts)


_NOT_TEXT = "the folder name is not valid UTF-8 text; rename the folder to search it"


def _is_text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class LibraryIndex:
    """The index file at ``path`` (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self.rebuilt = False
        """True when the file was missing or unusable and was created afresh."""
        self.not_text: dict[str, list[str]] = {}
        """Per root: project folders the last sync skipped because their names are not valid UTF-8."""
        try:
            self.conn = self._open()
        except (OSError, sqlite3.Error) as exc:
            raise ProjectError(f"Cannot open the search index {self.path}: {exc}.") from exc

    # -- opening / rebuilding ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn

    def _open(self) -> sqlite3.Connection:
        """Open the index, creating it when the file is new, and starting afresh when it is damaged or
        not an index.  Creating happens under SQLite's write lock, and the file is judged again once
        that lock is held: several processes (or threads) opening a new index at once create it once,
        and none mistakes another's half-made index for a damaged one.  A busy database is never
        taken for a damaged one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        for attempt in (1, 2):
            conn: sqlite3.Connection | None = None
            try:
                conn = self._connect()
                conn.execute("PRAGMA journal_mode = WAL")
                if int(conn.execute("PRAGMA user_version").fetchone()[0]) != INDEX_VERSION:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                        if version == 0 and not conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                            for stmt in _SCHEMA:
                                conn.execute(stmt)
                            conn.execute(f"PRAGMA user_version = {INDEX_VERSION}")
                            fresh = True
                        elif version != INDEX_VERSION:
                            raise sqlite3.DatabaseError(f"index version {version}" if version else "not an index")
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                conn.execute("SELECT count(*) FROM projects").fetchone()
                conn.execute("SELECT rowid FROM docs_fts LIMIT 1").fetchall()
                self.rebuilt = fresh
                return conn
            except sqlite3.DatabaseError as exc:
                if conn is not None:
                    conn.close()
                text = str(exc).lower()
                if attempt == 2 or (isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)):
                    raise
                self._remove_files()
                fresh = True
        raise AssertionError("unreachable")

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(str(self.path) + suffix)

    def rebuild(self) -> None:
        """Throw the index away and start empty (the next sync reads every project again)."""
        with self._lock:
            self.conn.close()
            self._remove_files()
            self.conn = self._open()
            self.rebuilt = True

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise

    # -- syncing ----------------------------------------------------------------------------------

    def sync(self, roots: Iterable[Path], progress: Callable[[int, int, str], None] | None = None) -> SyncStats:
        """Bring every project under ``roots`` up to date; drop projects that are gone.  A corrupt
        index is rebuilt and synced again (once)."""
        try:
            return self._sync(roots, progress)
        except sqlite3.DatabaseError as exc:
            if not _corrupt(exc):
                raise
            self.rebuild()
            return self._sync(roots, progress)

    def _sync(self, roots: Iterable[Path], progress: Callable[[int, int, str], None] | None) -> SyncStats:
        stats = SyncStats()
        wanted: list[tuple[Path, Path]] = []
        root_list = [Path(r).expanduser().absolute() for r in roots]
        for root in root_list:
            skipped = self.not_text[str(root)] = []
            for d in _project_dirs(root):
                if _is_text(str(d.absolute())):
                    wanted.append((root, d.absolute()))
                else:  # SQLite stores text: a folder name with a byte that is not UTF-8 cannot be indexed
                    skipped.append(d.name)
                    stats.errors.append(f"{d.name}: {_NOT_TEXT}")
        with self._lock:
            known = {str(p): (pid, stamp) for pid, p, stamp in
                     self.conn.execute("SELECT pid, path, stamp FROM projects")}
            present = {str(d) for _, d in wanted}
            gone = [pid for p, (pid, _) in known.items()
                    if p not in present and any(Path(p).parent == r for r in root_list)]
            if gone:
                with self._tx() as c:
                    for pid in gone:
                        self._drop_project(c, pid)
                stats.dropped += len(gone)
            changed = [(r, d) for r, d in wanted if known.get(str(d), (0, ""))[1] != _stamp(d)]
            for i, (root, project) in enumerate(changed):
                if progress is not None:
                    progress(i, len(changed), project.name)
                self._sync_project(root, project, stats)
            stats.projects = len(wanted)
        return stats

    def _drop_project(self, c: sqlite3.Connection, pid: int) -> None:
        lo, hi = doc_id(pid, 0), doc_id(pid + 1, 0)
        c.execute("DELETE FROM docs_fts WHERE rowid >= ? AND rowid < ?", (lo, hi))
        c.execute("DELETE FROM doc_tags WHERE doc IN (SELECT id FROM docs WHERE pid = ?)", (pid,))
        c.execute("DELETE FROM docs WHERE pid = ?", (pid,))
        c.execute("DELETE FROM projects WHERE pid = ?", (pid,))

    def _sync_project(self, root: Path, project: Path, stats: SyncStats) -> None:
        stamp = _stamp(project)  # before reading: a write after this shows as a new stamp next time
        row = self.conn.execute("SELECT pid, uuid, rev, n FROM projects WHERE path = ?", (str(project),)).fetchone()
        since = int(row[2]) if row else -1
        read = read_project(project, since)
        if read.error:
            with self._tx() as c:
                c.execute("INSERT OR IGNORE INTO projects(path, root, name) VALUES (?, ?, ?)",
                          (str(project), str(root), project.name))
                c.execute("UPDATE projects SET stamp = ?, error = ? WHERE path = ?", (stamp, read.error, str(project)))
            stats.errors.append(f"{project.name}: {read.error}")
            return
        with self._tx() as c:
            # Another process may have synced (or dropped) this project since it was looked up.
            now = c.execute("SELECT pid, uuid FROM projects WHERE path = ?", (str(project),)).fetchone()
            if read.incremental and (now is None or row is None or now[0] != row[0]):
                return  # what was read builds on a record that changed: read it again next time
            if now is not None and (now[1] != read.uuid or not read.incremental):
                self._drop_project(c, int(now[0]))
                now = None
            if now is None:
                cur = c.execute("INSERT INTO projects(path, root, name, uuid) VALUES (?, ?, ?, ?)",
                                (str(project), str(root), project.name, read.uuid))
                pid = int(cur.lastrowid or 0)
            else:
                pid = int(now[0])
            self._write_docs(c, pid, read.docs)
            n_index = c.execute("SELECT count(*) FROM docs WHERE pid = ?", (pid,)).fetchone()[0]
            if n_index != read.count:  # turns were deleted since: drop what is no longer there
                ids = set(read.all_ids())
                stale = [r[0] for r in c.execute("SELECT turn_id FROM docs WHERE pid = ?", (pid,))
                         if r[0] not in ids]
                self._delete_docs(c, pid, stale)
                stats.deleted += len(stale)
            c.execute("UPDATE projects SET name = ?, root = ?, uuid = ?, stamp = ?, rev = ?, n = ?, has_template = ?, "
                      "error = '' WHERE pid = ?", (project.name, str(root), read.uuid, stamp, read.rev, read.count,
                                                   int(read.has_template), pid))
        stats.indexed += len(read.docs)
        stats.synced += 1

    def _delete_docs(self, c: sqlite3.Connection, pid: int, turn_ids: Iterable[int]) -> None:
        ids = [(doc_id(pid, t),) for t in turn_ids]
        c.executemany("DELETE FROM docs_fts WHERE rowid = ?", ids)
        c.executemany("DELETE FROM doc_tags WHERE doc = ?", ids)
        c.executemany("DELETE FROM docs WHERE id = ?", ids)

    def _write_docs(self, c: sqlite3.Connection, pid: int, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        self._delete_docs(c, pid, [d["turn_id"] for d in docs])
        rows, fts, tags = [], [], []
        for d in docs:
            did = doc_id(pid, d["turn_id"])
            rows.append((did, pid, *(d[k] for k in DOC_COLUMNS[2:])))
            fts.append((did, d["prompt_full"], d["label"], " ".join(d["tag_list"]), d["thoughts"], d["answer"],
                        d["grounding"]))
            tags += [(t, did) for t in d["tag_list"]]
        marks = ",".join("?" * len(DOC_COLUMNS))
        c.executemany(f"INSERT INTO docs({', '.join(DOC_COLUMNS)}) VALUES ({marks})", rows)
        c.executemany("INSERT INTO docs_fts(rowid, prompt, label, tags, thoughts, answer, grounding) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", fts)
        c.executemany("INSERT OR IGNORE INTO doc_tags(tag, doc) VALUES (?, ?)", tags)

    # -- reading ----------------------------------------------------------------------------------

    def project_ids(self, roots: Iterable[Path]) -> dict[int, tuple[str, str]]:
        """pid → (name, path) of the indexed projects under ``roots``."""
        want = {str(Path(r).expanduser().absolute()) for r in roots}
        with self._lock:
            rows = self.conn.execute("SELECT pid, name, path, root FROM projects WHERE error = ''").fetchall()
        return {int(pid): (name, path) for pid, name, path, root in rows if root in want}

    def problems(self, roots: Iterable[Path]) -> list[str]:
        """"name: why" of each project under ``roots`` that could not be read at its last sync."""
        want = {str(Path(r).expanduser().absolute()) for r in roots}
        with self._lock:
            rows = self.conn.execute(
                "SELECT name, error, root FROM projects WHERE error != '' ORDER BY name").fetchall()
        skipped = [f"{name}: {_NOT_TEXT}" for root in sorted(want) for name in self.not_text.get(root, [])]
        return [f"{name}: {error}" for name, error, root in rows if root in want] + skipped

    def any_template(self, pids: Iterable[int]) -> bool:
        ids = list(pids)
        if not ids:
            return False
        with self._lock:
            marks = ",".join("?" * len(ids))
            return bool(self.conn.execute(f"SELECT 1 FROM projects WHERE has_template = 1 AND pid IN ({marks})",
                                          ids).fetchone())


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("malformed", "not a database", "corrupt", "no such table", "no such column"))


__all__ = ["DOC_COLUMNS", "INDEX_NAME", "INDEX_VERSION", "TAG_SEP", "LibraryIndex", "doc_id"]
