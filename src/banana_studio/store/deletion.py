"""Crash-safe removal of files that leave the record: a journal of pending deletions in the index.

Deleting a branch (or discarding an unsaved answer) happens in this order:

1. in one transaction: the rows are deleted **and** every file they owned is written to the
   ``pending_deletions`` table; commit;
2. the files are unlinked, one by one;
3. the journal rows are removed (a second short transaction).

A process killed before 1 commits changed nothing (rows and files are all still there).  Killed
after it, the journal lists exactly the files that are off the record; the next open of the
project (:func:`finish_pending`) unlinks them, so ``images/`` again holds exactly what the index
records.  A journalled file that is on record again by then (a blob re-used by a new turn) is kept.

The table is created idempotently (``CREATE TABLE IF NOT EXISTS``), so it needs no schema version.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from banana_studio.store.files import fault_point

TABLE_SQL = ("CREATE TABLE IF NOT EXISTS pending_deletions (rel TEXT PRIMARY KEY, "
             "kind TEXT NOT NULL, sha256 TEXT NOT NULL DEFAULT '')")
KINDS = ("image", "blob", "thumbs")
"""``image``: a file under images/; ``blob``: blobs/xx/…; ``thumbs``: every ``.thumbs/<sha>-*``."""


def journal(c: sqlite3.Connection, entries: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Record ``(rel, kind, sha256)`` entries inside the caller's write transaction."""
    rows = list(dict.fromkeys(entries))
    c.execute(TABLE_SQL)
    c.executemany("INSERT OR REPLACE INTO pending_deletions(rel, kind, sha256) VALUES (?, ?, ?)", rows)
    return rows


def has_pending(conn: sqlite3.Connection) -> bool:
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending_deletions'").fetchone():
        return conn.execute("SELECT 1 FROM pending_deletions LIMIT 1").fetchone() is not None
    return False


def pending(c: sqlite3.Connection) -> list[tuple[str, str, str]]:
    c.execute(TABLE_SQL)
    return [(str(r[0]), str(r[1]), str(r[2])) for r in
            c.execute("SELECT rel, kind, sha256 FROM pending_deletions ORDER BY rel").fetchall()]


def still_recorded(c: sqlite3.Connection, rel: str, kind: str, sha: str) -> bool:
    if kind == "image":
        return c.execute("SELECT 1 FROM images WHERE path = ? LIMIT 1", (rel,)).fetchone() is not None
    if kind == "blob":
        return c.execute("SELECT 1 FROM turn_blobs WHERE sha256 = ? LIMIT 1", (sha,)).fetchone() is not None
    return c.execute("SELECT 1 FROM images WHERE sha256 = ? LIMIT 1", (sha,)).fetchone() is not None


def _safe_rel(rel: str) -> bool:
    pure = PurePosixPath(rel)
    return bool(rel) and not pure.is_absolute() and ".." not in pure.parts


def unlink_entries(root: Path, entries: list[tuple[str, str, str]], *,
                   step: str = "delete") -> list[tuple[str, str, str]]:
    """Unlink journalled files; returns the entries that are gone now (missing ones count: a crash may
    have removed them already).  An entry whose file could not be removed stays journalled."""
    done: list[tuple[str, str, str]] = []
    for i, entry in enumerate(entries):
        rel, kind, sha = entry
        fault_point(f"{step}.unlink.{i}")
        if kind == "thumbs":  # a cache: best effort
            with contextlib.suppress(OSError):
                for thumb in (root / ".thumbs").glob(f"{sha}-*"):
                    with contextlib.suppress(OSError):
                        thumb.unlink()
            done.append(entry)
            continue
        if not _safe_rel(rel):
            done.append(entry)
            continue
        try:
            os.unlink(root / rel)
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError:
            continue
        done.append(entry)
    return done


def forget(c: sqlite3.Connection, entries: list[tuple[str, str, str]]) -> None:
    c.executemany("DELETE FROM pending_deletions WHERE rel = ?", [(e[0],) for e in entries])
