"""Read-only peeks at project databases for the money guards: what was spent, what is in flight,
and whether a project holds real-API turns.

The budget guard sums these across every project under the projects root; demo mode asks whether a
project is real before adding simulated turns to it.  Databases are opened read-only (a project open
in another studio is never locked or migrated); an unreadable one counts nothing.  Sync: async callers
use ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from banana_studio.domain.settings import GenerationSettings
from banana_studio.store.project import LIVE_STATUSES
from banana_studio.store.totals import DB_NAME, peek_totals, project_dbs, real_filter

__all__ = ["DB_NAME", "ProjectSpending", "peek_spending", "project_db", "real_turn_count", "spending_dbs"]


@dataclass(frozen=True, slots=True)
class ProjectSpending:
    """Real money of one project (demo turns never count) and the settings of its real turns still
    in flight (pending / running), for the caller to estimate."""

    today: float = 0.0
    total: float = 0.0
    in_flight: list[GenerationSettings] = field(default_factory=list)


def project_db(project_dir: Path) -> Path:
    return Path(project_dir) / DB_NAME


def spending_dbs(roots: Iterable[Path], also: Iterable[Path] = ()) -> list[Path]:
    """Every project database under ``roots`` plus the project folders ``also``, each once."""
    return project_dbs(roots, also)


LIVE_SQL = "status IN (" + ", ".join(f"'{s}'" for s in LIVE_STATUSES) + ")"
"""The live statuses written out, not bound: SQLite uses the partial index ``turns_live`` (``WHERE status
IN ('pending', 'running')``) only when it can see the query asks for a subset of it -- with ``?``
parameters it scans every turn (a 100k-turn project on every budget check)."""


def _settings(raw: str | None) -> GenerationSettings:
    try:
        return GenerationSettings.from_json(json.loads(raw or "{}"))
    except (ValueError, TypeError):
        return GenerationSettings()


def peek_spending(db: Path, midnight: float) -> ProjectSpending:
    """:class:`ProjectSpending` of the project database ``db`` (read-only)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return ProjectSpending()
    try:
        totals = peek_totals(conn, midnight)
        rows = conn.execute(f"SELECT settings_json FROM turns WHERE {LIVE_SQL} AND {real_filter(conn)}").fetchall()
        return ProjectSpending(totals.today, totals.total, [_settings(raw) for (raw,) in rows])
    except sqlite3.Error:
        return ProjectSpending()
    finally:
        conn.close()


def real_turn_count(project_dir: Path, *, known_only: bool = False) -> int:
    """How many turns of the project were made with a real API (read-only; 0 if unreadable).
    ``known_only``: only turns recorded with a real target count (not ones of an unknown target)."""
    db = project_db(project_dir)
    if not db.is_file():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
        try:
            where = "target IN ('gemini-api', 'vertex')" if known_only else real_filter(conn)
            return int(conn.execute(f"SELECT count(*) FROM turns WHERE {where}").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
