"""Across projects: the projects under a root, recent turns everywhere, the turn behind an image file."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from banana_studio.domain.content import sha256_hex
from banana_studio.store import queries
from banana_studio.store.files import read_image_file
from banana_studio.store.names import ProjectError
from banana_studio.store.project.connection import BUSY_TIMEOUT_MS, DB_NAME, _check_header
from banana_studio.store.project.reads import TurnNode, _node
from banana_studio.store.recipe import read_recipe
from banana_studio.store.schema import SCHEMA_VERSION


@dataclass(slots=True)
class ProjectInfo:
    name: str
    path: Path
    n_turns: int
    updated_at: float
    cost: float
    """Real money spent in the project (demo turns excluded)."""
    uuid: str = ""
    demo_cost: float = 0.0
    """Simulated costs of its demo turns (not money)."""
    error: str = ""
    """Set when the project could not be read (corrupt, newer schema...)."""




def _ro_connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _project_dirs(root: Path) -> list[Path]:
    root = Path(root).expanduser()
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    return [d for d in entries if d.is_dir() and (d / DB_NAME).is_file()]


def list_projects(root: Path) -> list[ProjectInfo]:
    """Every project under ``root`` (read-only peek; a broken one is listed with ``error`` set)."""
    out: list[ProjectInfo] = []
    for d in _project_dirs(root):
        info = ProjectInfo(name=d.name, path=d, n_turns=0, updated_at=0.0, cost=0.0)
        try:
            _check_header(d / DB_NAME)
            conn = _ro_connect(d / DB_NAME)
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    info.error = f"schema version {version} is newer than this Banana Studio"
                elif version == 0:
                    info.error = "empty project database"
                else:
                    from banana_studio.store.totals import money, peek_totals

                    n, upd = conn.execute("SELECT count(*), coalesce(max(updated_at), 0) FROM turns").fetchone()
                    info.n_turns, info.updated_at = int(n), float(upd)
                    totals = peek_totals(conn, 0.0)
                    info.cost, info.demo_cost = money(totals.total), money(totals.demo_total)
                    row = conn.execute("SELECT value FROM meta WHERE key = 'uuid'").fetchone()
                    info.uuid = str(row[0]) if row else ""
                    if not info.updated_at:
                        info.updated_at = (d / DB_NAME).stat().st_mtime
            finally:
                conn.close()
        except (ProjectError, sqlite3.Error, OSError) as exc:
            info.error = str(exc)
        out.append(info)
    return out


def recent_turns(root: Path, limit: int = 20) -> list[tuple[ProjectInfo, TurnNode]]:
    """The ``limit`` most recent turns across all projects under ``root``, newest first."""
    rows: list[tuple[ProjectInfo, TurnNode]] = []
    for info in list_projects(root):
        if info.error:
            continue
        try:
            conn = _ro_connect(info.path / DB_NAME)
            try:
                sql = queries.RECENT_SQL
                if "source" not in {c[1] for c in conn.execute("PRAGMA table_info(turns)")}:
                    sql = sql.replace(", t.source", ", ''")  # not opened since schema 5: made by people
                for r in conn.execute(sql, (limit,)):
                    rows.append((info, _node(r)))
            finally:
                conn.close()
        except sqlite3.Error:
            continue
    rows.sort(key=lambda pair: pair[1].created_at, reverse=True)
    return rows[:limit]


def find_turn_for_image(image: Path, roots: list[Path]) -> tuple[Path, int] | None:
    """(project dir, turn id) that produced ``image``: by its embedded recipe, else by sha256."""
    try:
        data = read_image_file(Path(image).expanduser())
    except ValueError:
        return None
    projects = [info for root in roots for info in list_projects(root) if not info.error]
    recipe = read_recipe(data)
    if recipe and isinstance(recipe.get("turn_id"), int):
        tid = recipe["turn_id"]
        for by in ("project_uuid", "project"):
            want = recipe.get(by)
            if not want:
                continue
            for info in projects:
                if (info.uuid if by == "project_uuid" else info.name) == want and _has_turn(info.path, tid):
                    return info.path, tid
    sha = sha256_hex(data)
    for info in projects:
        try:
            conn = _ro_connect(info.path / DB_NAME)
            try:
                row = conn.execute(
                    "SELECT turn_id FROM images WHERE file_sha256 = ? OR sha256 = ? ORDER BY kind DESC LIMIT 1",
                    (sha, sha),
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        if row:
            return info.path, int(row[0])
    return None


def _has_turn(project_dir: Path, turn_id: int) -> bool:
    try:
        conn = _ro_connect(project_dir / DB_NAME)
        try:
            return conn.execute("SELECT 1 FROM turns WHERE id = ?", (turn_id,)).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


