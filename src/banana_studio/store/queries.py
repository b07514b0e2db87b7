"""Read queries over the project index that must stay fast at 100,000+ turns: tree rows, search,
recent turns.

Every query here is bounded by what it returns, not by the size of the project:

* a turn's final-image count is a correlated lookup on ``images(turn_id, kind)`` (the old
  ``LEFT JOIN (… GROUP BY turn_id)`` materialised a count for every image of the project on every
  query, whatever the ``LIMIT``);
* search walks the full-text index newest first (``ORDER BY rowid DESC``) and stops at ``LIMIT``;
  starred searches walk the partial index of starred turns instead;
* the branch tree reads only ``(id, parent_id)`` for the whole project (a covering index scan), and
  the display rows of the turns actually on screen (:func:`nodes_for`).

The indexes are created idempotently when a project is opened (:func:`ensure_indexes`), so the schema
version does not change and an older studio opening the same project simply ignores them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

QUERY_INDEXES: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS images_turn_kind ON images(turn_id, kind)",
    "CREATE INDEX IF NOT EXISTS turns_starred ON turns(id) WHERE starred = 1",
    "CREATE INDEX IF NOT EXISTS turns_created_target_cost ON turns(created_at, target, cost)",
    "DROP INDEX IF EXISTS turns_created_cost",
    "CREATE INDEX IF NOT EXISTS turns_parent_id ON turns(parent_id, id)",
    "CREATE INDEX IF NOT EXISTS turns_live ON turns(status) WHERE status IN ('pending', 'running')",
)

NODE_COLUMNS = (
    "t.id, t.parent_id, substr(t.prompt, 1, 120), t.status, t.starred, t.label, t.created_at, "
    "(SELECT count(*) FROM images i WHERE i.turn_id = t.id AND i.kind = 'final'), "
    "t.kind, t.cost, t.model, t.image_size, t.target, t.model_version, t.source"
)
NODE_SQL = f"SELECT {NODE_COLUMNS} FROM turns t"
"""One light display row per turn (``TurnNode`` field order); append WHERE / ORDER BY / LIMIT."""

RECENT_SQL = NODE_SQL + " ORDER BY t.created_at DESC, t.id DESC LIMIT ?"

TREE_INDEX_SQL = (
    "SELECT t.id, t.parent_id, substr(t.prompt, 1, 120), t.status, t.starred, t.label, t.created_at, "
    "coalesce(n.n, 0), t.kind, t.cost, t.model, t.image_size, t.target, t.model_version, t.source FROM turns t "
    "LEFT JOIN (SELECT turn_id, count(*) AS n FROM images WHERE kind = 'final' GROUP BY turn_id) n "
    "ON n.turn_id = t.id ORDER BY t.id"
)
"""Every turn's row (``history`` listings): here one grouped pass over the images beats a lookup per turn."""

_MAX_VARS = 500
"""Ids per ``IN (…)`` batch (well under SQLite's bound-parameter limit)."""
_PAGE = 100
"""First page of full-text hits a starred search reads (doubling up to ``_MAX_VARS``)."""


def ensure_indexes(conn: sqlite3.Connection) -> None:
    """Create the query indexes and the cost totals when missing (a no-op once they exist).  Errors are
    left to the caller: a read-only or locked database still works, only slower."""
    from banana_studio.store.totals import ensure_summary

    for stmt in QUERY_INDEXES:
        conn.execute(stmt)
    ensure_summary(conn)


def fts_match(terms: Sequence[str]) -> str:
    """An FTS5 query matching every term as a prefix (each quoted, so no term is an operator)."""
    return " ".join('"' + t.replace('"', '""') + '"*' for t in terms)


def search_sql(*, fts: bool, starred: bool, like: bool = False) -> str:
    """SQL for one search; parameters: ``(match_or_pattern, limit)`` or ``(limit,)`` without terms."""
    if not fts and not like:
        if starred:
            return NODE_SQL + " WHERE t.starred = 1 ORDER BY t.id DESC LIMIT ?"
        return NODE_SQL + " ORDER BY t.id DESC LIMIT ?"
    if like:
        star = " AND t.starred = 1" if starred else ""
        return NODE_SQL + " WHERE t.prompt LIKE ? ESCAPE '\\'" + star + " ORDER BY t.id DESC LIMIT ?"
    if starred:
        raise ValueError("a starred full-text search pages through the index: use starred_search()")
    # The full-text index yields rowids newest first and stops at the limit.
    return (NODE_SQL + " JOIN (SELECT rowid AS hit FROM turns_fts WHERE turns_fts MATCH ? "
            "ORDER BY rowid DESC LIMIT ?) f ON t.id = f.hit ORDER BY t.id DESC")


def starred_search(conn: sqlite3.Connection, match: str, limit: int) -> list[tuple[Any, ...]]:
    """Starred turns matching ``match``, newest first: one cursor walks the full-text hits newest first
    (SQLite steps it only as far as it is read) and each page of hits is filtered on the starred turns,
    until ``limit`` rows are found.  The cost follows the hits read before the limit is reached."""
    out: list[tuple[Any, ...]] = []
    cursor = conn.execute("SELECT rowid FROM turns_fts WHERE turns_fts MATCH ? ORDER BY rowid DESC", (match,))
    try:
        page = _PAGE
        while len(out) < limit:
            hits = cursor.fetchmany(page)
            if not hits:
                break
            ids = [h[0] for h in hits]
            marks = ",".join("?" * len(ids))
            out.extend(conn.execute(NODE_SQL + f" WHERE t.starred = 1 AND t.id IN ({marks}) ORDER BY t.id DESC "
                                    "LIMIT ?", (*ids, limit - len(out))).fetchall())
            page = min(page * 2, _MAX_VARS)
    finally:
        cursor.close()
    return out


def tree_skeleton(conn: sqlite3.Connection) -> tuple[list[int], list[int | None]]:
    """Every turn's ``(id, parent_id)``, ids ascending, from the covering ``turns_parent_id`` index
    (no table row is read).  Two flat lists: a 100k-turn project costs a few MB, not a row object each."""
    # No ORDER BY: sorting by id would make SQLite read the table in rowid order instead of the index.
    rows = conn.execute("SELECT id, parent_id FROM turns").fetchall()
    rows.sort()
    return [r[0] for r in rows], [r[1] for r in rows]


def nodes_for(conn: sqlite3.Connection, ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """Display rows (``NODE_SQL`` columns) of the given turns, in id order; unknown ids are skipped."""
    out: list[tuple[Any, ...]] = []
    unique = sorted(set(ids))
    for i in range(0, len(unique), _MAX_VARS):
        batch = unique[i:i + _MAX_VARS]
        marks = ",".join("?" * len(batch))
        out.extend(conn.execute(NODE_SQL + f" WHERE t.id IN ({marks}) ORDER BY t.id", batch).fetchall())
    return out


__all__ = ["NODE_COLUMNS", "NODE_SQL", "QUERY_INDEXES", "RECENT_SQL", "TREE_INDEX_SQL",
           "ensure_indexes", "fts_match", "nodes_for", "search_sql", "starred_search", "tree_skeleton"]
