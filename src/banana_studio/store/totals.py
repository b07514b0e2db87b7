"""Money totals: one definition of "today", the project total and the demo (simulated) totals.

Real money is every turn not made by the local demo server (``target != 'local'``; turns of an
unknown target count as real, to be safe).  Simulated demo costs are summed apart and never count
towards spending or budgets.

"Today" is the real money recorded since local midnight in every project under the projects roots
(the configured root and the open project's own folder, when it lives elsewhere).  The status line,
``branch.json``, ``history`` and the budget guard all use :func:`totals_across`.

Databases not yet migrated to the schema with ``target`` (read-only peeks of projects not opened
since the upgrade) are classified the way the migration would: by the shape of their signatures.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from banana_studio.domain.target import Target, infer_target

DB_NAME = "project.db"
MONEY_DIGITS = 6
"""Prices carry at most six decimals (per-token prices): totals are rounded to that."""


def money(value: float) -> float:
    return round(float(value), MONEY_DIGITS)


def local_midnight(now: datetime | None = None) -> float:
    """Epoch seconds of today's local midnight: where "today" begins."""
    now = now or datetime.now().astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


@dataclass(frozen=True, slots=True)
class Totals:
    today: float = 0.0
    """Real money recorded since midnight."""
    total: float = 0.0
    """Real money recorded, all time."""
    demo_today: float = 0.0
    """Simulated demo costs since midnight (never spending)."""
    demo_total: float = 0.0

    def __add__(self, other: Totals) -> Totals:
        return Totals(self.today + other.today, self.total + other.total, self.demo_today + other.demo_today,
                      self.demo_total + other.demo_total)

    def rounded(self) -> Totals:
        return Totals(money(self.today), money(self.total), money(self.demo_today), money(self.demo_total))


def has_target_column(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "target" for row in conn.execute("PRAGMA table_info(turns)"))


def real_filter(conn: sqlite3.Connection) -> str:
    """A SQL condition on ``turns`` selecting real-money turns (for queries that need one)."""
    return "target != 'local'" if has_target_column(conn) else "1"


SUMMARY_TABLE = "cost_totals"
SUMMARY_TRIGGERS = ("cost_totals_insert", "cost_totals_delete", "cost_totals_update")
_SUMMARY_SQL = (
    "CREATE TABLE IF NOT EXISTS cost_totals (local INTEGER PRIMARY KEY, total REAL NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS cost_totals_insert AFTER INSERT ON turns WHEN NEW.cost != 0 BEGIN "
    "UPDATE cost_totals SET total = total + NEW.cost WHERE local = (NEW.target = 'local'); END",
    "CREATE TRIGGER IF NOT EXISTS cost_totals_delete AFTER DELETE ON turns WHEN OLD.cost != 0 BEGIN "
    "UPDATE cost_totals SET total = total - OLD.cost WHERE local = (OLD.target = 'local'); END",
    "CREATE TRIGGER IF NOT EXISTS cost_totals_update AFTER UPDATE OF cost, target ON turns "
    "WHEN OLD.cost != NEW.cost OR OLD.target IS NOT NEW.target BEGIN "
    "UPDATE cost_totals SET total = total - OLD.cost WHERE local = (OLD.target = 'local'); "
    "UPDATE cost_totals SET total = total + NEW.cost WHERE local = (NEW.target = 'local'); END",
)
"""All-time totals kept by triggers, so a project's total is two rows, not a pass over every turn.
Created (and filled in the same write transaction) when a project is opened: no schema bump, and an
older studio writing the project keeps them right, because the triggers live in the database."""


def has_summary(conn: sqlite3.Connection) -> bool:
    """True when the totals table and all its triggers are in place (else the totals are not trusted:
    a migration that rebuilt ``turns`` would have dropped the triggers)."""
    names = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE (type = 'table' AND name = ?) OR (type = 'trigger' AND name IN "
        "(?, ?, ?))", (SUMMARY_TABLE, *SUMMARY_TRIGGERS))}
    return len(names) == 1 + len(SUMMARY_TRIGGERS)


def ensure_summary(conn: sqlite3.Connection) -> None:
    """Create the totals table and triggers when missing and fill the table from the turns, in one write
    transaction (a writer in another process cannot slip a cost in between).  ``conn`` is in autocommit."""
    if not has_target_column(conn) or has_summary(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not has_summary(conn):
            for stmt in _SUMMARY_SQL:
                conn.execute(stmt)
            conn.execute("DELETE FROM cost_totals")
            conn.execute(
                "INSERT INTO cost_totals (local, total) SELECT l, coalesce((SELECT sum(cost) FROM turns "
                "WHERE (target = 'local') = l), 0) FROM (SELECT 0 AS l UNION ALL SELECT 1)")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def peek_totals(conn: sqlite3.Connection, midnight: float) -> Totals:
    """Totals of one project database (any schema version from 1 on).  With the totals table, the cost
    follows today's turns (an index range), not the size of the project."""
    if has_target_column(conn):
        if has_summary(conn):
            by_local = dict(conn.execute("SELECT local, total FROM cost_totals").fetchall())
            total, demo_total = float(by_local.get(0, 0.0)), float(by_local.get(1, 0.0))
            if midnight <= 0:
                return Totals(total, total, demo_total, demo_total)
            row = conn.execute(
                "SELECT coalesce(sum(CASE WHEN target != 'local' THEN cost ELSE 0 END), 0), "
                "coalesce(sum(CASE WHEN target = 'local' THEN cost ELSE 0 END), 0) FROM turns "
                "WHERE created_at >= ?", (midnight,)).fetchone()
            return Totals(float(row[0]), total, float(row[1]), demo_total)
        row = conn.execute(
            "SELECT "
            "coalesce(sum(CASE WHEN target != 'local' AND created_at >= ? THEN cost ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN target != 'local' THEN cost ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN target = 'local' AND created_at >= ? THEN cost ELSE 0 END), 0), "
            "coalesce(sum(CASE WHEN target = 'local' THEN cost ELSE 0 END), 0) FROM turns",
            (midnight, midnight)).fetchone()
        return Totals(*(float(v) for v in row))
    from banana_studio.store.schema import signatures_of

    out = Totals()
    for created_at, cost, model_json in conn.execute(
            "SELECT created_at, cost, model_json FROM turns WHERE cost != 0"):
        demo = infer_target(signatures_of(model_json)) is Target.LOCAL
        today = float(cost) if created_at >= midnight else 0.0
        out = out + (Totals(0.0, 0.0, today, float(cost)) if demo else Totals(today, float(cost), 0.0, 0.0))
    return out


def project_dbs(roots: Iterable[Path], also: Iterable[Path] = ()) -> list[Path]:
    """Every project database under ``roots`` plus the project folders ``also``, each once."""
    seen: set[Path] = set()
    out: list[Path] = []
    candidates: list[Path] = []
    for root in roots:
        try:
            candidates += [d / DB_NAME for d in sorted(Path(root).expanduser().iterdir())]
        except OSError:
            continue
    candidates += [Path(p).expanduser() / DB_NAME for p in also]
    for db in candidates:
        try:
            if not db.is_file():
                continue
            key = db.resolve()
        except OSError:
            continue
        if key not in seen:
            seen.add(key)
            out.append(db)
    return out


_CACHE: dict[tuple[str, float], tuple[tuple[int, ...], Totals]] = {}
_CACHE_MAX = 512


def _stamp(db: Path) -> tuple[int, ...]:
    """Changes whenever the database does (the main file or its WAL)."""
    out: list[int] = []
    for p in (db, db.with_name(db.name + "-wal")):
        try:
            st = p.stat()
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return tuple(out)


def read_totals(db: Path, midnight: float) -> Totals:
    """:func:`peek_totals` of a database opened read-only (an unreadable one counts nothing).  Cached
    until the database changes: the status line asks on every cursor move, across every project."""
    key = (str(db), midnight)
    stamp = _stamp(db)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    totals = _read_totals(db, midnight)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = (stamp, totals)
    return totals


def _read_totals(db: Path, midnight: float) -> Totals:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return Totals()
    try:
        return peek_totals(conn, midnight)
    except sqlite3.Error:
        return Totals()
    finally:
        conn.close()


def totals_across(roots: Iterable[Path], also: Iterable[Path] = (), *, midnight: float | None = None) -> Totals:
    """Summed :class:`Totals` of every project under ``roots`` (and ``also``)."""
    midnight = local_midnight() if midnight is None else midnight
    out = Totals()
    for db in project_dbs(roots, also):
        out = out + read_totals(db, midnight)
    return out.rounded()
