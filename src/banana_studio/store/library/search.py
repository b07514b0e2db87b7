"""Running a parsed query (:mod:`banana_studio.domain.query`) against the search index.

Free words go to FTS5 (each a prefix, phrases exact, over every text column); negated words become
``NOT IN`` the matches of that word; filters are plain column tests on ``docs`` (tags through the
``doc_tags`` index).  Newest first, bounded by ``limit``.
"""

from __future__ import annotations

import fnmatch
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.catalogue import MODELS
from banana_studio.domain.query import Filter, Query, Word
from banana_studio.store.library.index import DOC_COLUMNS, TAG_SEP, LibraryIndex


@dataclass(slots=True)
class LibraryHit:
    """One matching turn and the project it lives in."""

    project: str
    project_path: str
    turn_id: int
    parent_id: int | None
    prompt: str
    """The first 300 characters (untrusted text: display through the sanitising boundary)."""
    status: str
    starred: bool
    label: str
    tags: list[str]
    model: str
    image_size: str
    aspect: str
    cost: float
    created_at: float
    has_refs: bool
    n_final: int
    kind: str
    target: str
    template: str
    model_version: str = ""
    """What answered (the server's modelVersion), "" when unknown."""

    @property
    def id(self) -> int:
        """The turn id (so a hit can stand where a ``TurnNode`` does)."""
        return self.turn_id

    @property
    def is_demo(self) -> bool:
        return self.target == "local"


@dataclass(slots=True)
class SearchResult:
    hits: list[LibraryHit] = field(default_factory=list)
    more: bool = False
    """More matches than ``limit``."""
    notes: list[str] = field(default_factory=list)
    """What the user should know ("no project records template runs yet", projects that could not be read)."""


def _fts_term(w: Word) -> str:
    quoted = '"' + w.text.replace('"', '""') + '"'
    return quoted if w.phrase else quoted + "*"


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _model_ids(value: str) -> list[str]:
    v = value.lower()
    return [m.id for m in MODELS if v in m.label.lower()]


def _clause(f: Filter, projects: dict[int, tuple[str, str]]) -> tuple[str, list[Any]]:
    key, value = f.key, f.value
    if key == "project":
        pattern = str(value).lower()
        pids = [pid for pid, (name, _) in projects.items() if fnmatch.fnmatchcase(name.lower(), pattern)]
        if not pids:
            return "0", []
        return f"d.pid IN ({','.join('?' * len(pids))})", pids
    if key == "model":
        ids = _model_ids(str(value))
        extra = f" OR d.model IN ({','.join('?' * len(ids))})" if ids else ""
        return f"(d.model LIKE ? ESCAPE '\\'{extra})", [_like(str(value)), *ids]
    if key in ("size", "status"):
        return f"d.{'image_size' if key == 'size' else 'status'} = ?", [value]
    if key == "aspect":
        return "d.aspect = ?", [value]
    if key == "template":
        return "d.template = ? COLLATE NOCASE", [value]
    if key == "tag":
        return "d.id IN (SELECT doc FROM doc_tags WHERE tag = ?)", [value]
    if key == "starred":
        return "d.starred = 1", []
    if key == "cost":
        return f"d.cost {f.op} ?", [value]
    if key in ("after", "before"):
        return f"d.created_at {f.op} ?", [value]
    if key == "has":
        column = {"refs": "d.has_refs = 1", "images": "d.n_final > 0", "grounding": "d.has_grounding = 1",
                  "thoughts": "d.has_thoughts = 1", "tags": "d.tags != ''", "label": "d.label != ''"}
        return column[str(value)], []
    raise ValueError(f"unknown filter {key!r}")


def compile_query(query: Query, projects: dict[int, tuple[str, str]], limit: int) -> tuple[str, list[Any]]:
    """SQL and parameters for ``query`` over the projects ``projects`` (pid → (name, path))."""
    where: list[str] = []
    params: list[Any] = []
    pids = sorted(projects)
    where.append(f"+d.pid IN ({','.join('?' * len(pids))})" if pids else "0")
    params += pids
    positive = query.positive_words
    if positive:
        where.append("d.id IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)")
        params.append(" ".join(_fts_term(w) for w in positive))
    for w in query.negative_words:
        where.append("d.id NOT IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?)")
        params.append(_fts_term(w))
    for f in query.filters:
        sql, p = _clause(f, projects)
        where.append(f"NOT ({sql})" if f.negated else sql)
        params += p
    cols = ", ".join(f"d.{c}" for c in DOC_COLUMNS)
    sql = (f"SELECT {cols} FROM docs d WHERE {' AND '.join(where)} "
           "ORDER BY d.created_at DESC, d.id DESC LIMIT ?")
    return sql, [*params, int(limit)]


def _hit(row: tuple[Any, ...], projects: dict[int, tuple[str, str]]) -> LibraryHit:
    d = dict(zip(DOC_COLUMNS, row, strict=True))
    name, path = projects.get(int(d["pid"]), ("?", ""))
    return LibraryHit(project=name, project_path=path, turn_id=int(d["turn_id"]), parent_id=d["parent_id"],
                      prompt=d["prompt"], status=d["status"], starred=bool(d["starred"]), label=d["label"],
                      tags=[t for t in str(d["tags"]).split(TAG_SEP) if t], model=d["model"],
                      image_size=d["image_size"], aspect=d["aspect"], cost=float(d["cost"]),
                      created_at=float(d["created_at"]), has_refs=bool(d["has_refs"]), n_final=int(d["n_final"]),
                      kind=d["kind"], target=d["target"], template=d["template"],
                      model_version=d["model_version"])


def run_query(index: LibraryIndex, query: Query, projects: dict[int, tuple[str, str]], *,
              limit: int = 200) -> SearchResult:
    """The newest ``limit`` matches of ``query`` among ``projects``."""
    result = SearchResult()
    if query.of("template") and not index.any_template(projects):
        result.notes.append("No project records template runs yet: template: matches nothing.")
    sql, params = compile_query(query, projects, limit + 1)
    try:
        with index._lock:
            rows = index.conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc).lower() or "syntax" in str(exc).lower():
            result.notes.append(f"The words could not be searched ({exc}).")
            return result
        raise
    result.more = len(rows) > limit
    result.hits = [_hit(r, projects) for r in rows[:limit]]
    return result
