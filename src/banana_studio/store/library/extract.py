"""Reading one project for the search index: the searchable text and filter columns of its turns,
read-only, in one read transaction (so the revision, the count and the rows agree).

The text of thoughts, answers and grounding titles is pulled out of the stored JSON (one parse per
turn), guarded so that a malformed or hostile value yields no text instead of failing the read.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banana_studio.store.names import ProjectError
from banana_studio.store.project.connection import BUSY_TIMEOUT_MS, DB_NAME, _check_header
from banana_studio.store.schema import SCHEMA_VERSION

TEMPLATE_COLUMNS = ("template", "template_name")
"""Columns of ``turns`` that may hold the name of the template a turn was made from."""
TEMPLATE_TABLES = {"template_runs", "template_cells"}
"""Or: template runs (``name``) and their cells (``run_id``, ``turn_id``), the turns a run made.  A
project with neither (an older schema) has no template runs: ``template:`` matches nothing there."""
_TEMPLATE_CELLS = ("(SELECT r.name FROM template_cells c JOIN template_runs r ON r.id = c.run_id "
                   "WHERE c.turn_id = t.id ORDER BY c.run_id DESC LIMIT 1)")


@dataclass(slots=True)
class SyncStats:
    projects: int = 0
    synced: int = 0
    indexed: int = 0
    deleted: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ProjectRead:
    uuid: str = ""
    docs: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    rev: int = 0
    incremental: bool = False
    has_template: bool = False
    error: str = ""
    ids: list[int] | None = None

    def all_ids(self) -> list[int]:
        return list(self.ids or [])


def _texts_of(model_json: Any, grounding_json: Any) -> tuple[str, str, str]:
    """(thoughts, answer text, grounding titles) of a stored turn; malformed or hostile JSON gives
    empty text, never an error."""
    thoughts: list[str] = []
    answer: list[str] = []
    titles: list[str] = []
    try:
        model = json.loads(model_json) if model_json else {}
    except (ValueError, TypeError, RecursionError):
        model = {}
    parts = model.get("parts") if isinstance(model, dict) else None
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else answer).append(part["text"])
    try:
        grounding = json.loads(grounding_json) if grounding_json else {}
    except (ValueError, TypeError, RecursionError):
        grounding = {}
    if isinstance(grounding, dict):
        for key in ("groundingChunks", "sources"):
            chunks = grounding.get(key)
            for chunk in chunks if isinstance(chunks, list) else []:
                if isinstance(chunk, dict):
                    web = chunk.get("web") if isinstance(chunk.get("web"), dict) else chunk
                    if isinstance(web.get("title"), str):
                        titles.append(web["title"])
    return " ".join(thoughts), " ".join(answer), " ".join(titles)


def _select(columns: set[str], tables: set[str], since: int) -> tuple[str, tuple[Any, ...]]:
    has_tags = "turn_tags" in tables
    template = next((f"coalesce(t.{c}, '')" for c in TEMPLATE_COLUMNS if c in columns), "''")
    if template == "''" and tables >= TEMPLATE_TABLES:
        template = f"coalesce({_TEMPLATE_CELLS}, '')"
    tags = ("(SELECT group_concat(tag, char(31)) FROM turn_tags g WHERE g.turn_id = t.id)" if has_tags else "''")
    model = "t.model" if "model" in columns else "coalesce(json_extract(t.settings_json, '$.model'), '')"
    size = "t.image_size" if "image_size" in columns else "coalesce(json_extract(t.settings_json, '$.image_size'), '')"
    target = "t.target" if "target" in columns else "'unknown'"
    model_version = "coalesce(t.model_version, '')" if "model_version" in columns else "''"
    sql = (
        "SELECT t.id, t.parent_id, t.prompt, t.status, t.starred, t.label, "
        f"coalesce({tags}, ''), {model}, {size}, "
        "coalesce(CASE WHEN json_valid(t.settings_json) THEN json_extract(t.settings_json, '$.aspect_ratio') END, ''), "
        "t.cost, t.created_at, (t.refs_json NOT IN ('', '[]')), "
        "(SELECT count(*) FROM images i WHERE i.turn_id = t.id AND i.kind = 'final'), t.kind, "
        f"{target}, {template}, t.model_json, t.grounding_json, {model_version} FROM turns t"
    )
    if since >= 0 and "rev" in columns:
        return sql + " WHERE t.rev > ? ORDER BY t.rev", (since,)
    return sql, ()


def _doc(r: tuple[Any, ...]) -> dict[str, Any]:
    tags = [t for t in str(r[6] or "").split("\x1f") if t]
    prompt = str(r[2] or "")
    thoughts, answer, grounding = _texts_of(r[17], r[18])
    return {"turn_id": int(r[0]), "parent_id": r[1], "prompt": prompt[:300], "prompt_full": prompt,
            "status": str(r[3] or ""), "starred": int(bool(r[4])), "label": str(r[5] or ""),
            "tags": "\x1f".join(tags), "tag_list": tags, "model": str(r[7] or ""), "image_size": str(r[8] or ""),
            "aspect": str(r[9] or ""), "cost": float(r[10] or 0), "created_at": float(r[11] or 0),
            "has_refs": int(bool(r[12])), "n_final": int(r[13] or 0), "kind": str(r[14] or ""),
            "target": str(r[15] or "unknown"), "template": str(r[16] or ""), "thoughts": thoughts,
            "answer": answer, "grounding": grounding, "has_grounding": int(bool(grounding)),
            "has_thoughts": int(bool(thoughts)), "model_version": str(r[19] or "")}


def read_project(project: Path, since: int) -> ProjectRead:
    """The turns of ``project`` changed after revision ``since`` (all of them when ``since`` < 0 or
    the project has no revisions), read-only.  Problems are returned in ``error``, never raised."""
    db = project / DB_NAME
    out = ProjectRead()
    try:
        _check_header(db)
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except (ProjectError, sqlite3.Error) as exc:
        out.error = str(exc)
        return out
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("BEGIN")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            out.error = f"schema version {version} is newer than this Banana Studio"
            return out
        if version == 0:
            out.error = "empty project database"
            return out
        columns = {c[1] for c in conn.execute("PRAGMA table_info(turns)")}
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        row = conn.execute("SELECT value FROM meta WHERE key = 'uuid'").fetchone()
        out.uuid = str(row[0]) if row else ""
        out.has_template = any(c in columns for c in TEMPLATE_COLUMNS) or tables >= TEMPLATE_TABLES
        out.incremental = since >= 0 and "rev" in columns
        sql, params = _select(columns, tables, since if out.incremental else -1)
        out.docs = [_doc(r) for r in conn.execute(sql, params)]
        out.count = int(conn.execute("SELECT count(*) FROM turns").fetchone()[0])
        if "rev" in columns:
            out.rev = int(conn.execute("SELECT coalesce(max(rev), 0) FROM turns").fetchone()[0])
        out.ids = [r[0] for r in conn.execute("SELECT id FROM turns")]
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        out.error = f"unreadable ({exc})"
        out.docs = []
    finally:
        conn.close()
    return out
