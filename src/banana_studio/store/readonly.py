"""Read-only access to the projects under one folder (the web gallery reads through this).

Nothing here can change a project: every database is opened with SQLite's ``mode=ro`` URI flag plus
``PRAGMA query_only``, no recovery, no index creation, no thumbnail cache (a :class:`ProjectStore`
open would do all three).  Files are only ever opened for reading, and only files the project's
index records (see :meth:`ProjectView.recorded_file`).

Project names come from the folder listing itself: a name from a URL is looked up in that listing,
never joined onto a path, so ``..`` or ``/`` in a request cannot reach another folder.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from banana_studio import __version__
from banana_studio.store import ProjectInfo, list_projects, queries
from banana_studio.store.schema import SCHEMA_VERSION

DB_NAME = "project.db"
BUSY_TIMEOUT_S = 5.0
TREE_MAX = 3000
"""Turns listed on a project page; a bigger project shows the first ones and says how many are left."""


class ReadError(Exception):
    """The project cannot be read (gone, corrupt, newer schema); the message is safe to show."""


@dataclass(slots=True)
class TreeRow:
    id: int
    parent_id: int | None
    prompt: str
    """The first 120 characters."""
    status: str
    starred: bool
    label: str
    n_final: int
    kind: str
    cost: float
    target: str


_TREE_SQL = ("SELECT t.id, t.parent_id, substr(t.prompt, 1, 120), t.status, t.starred, t.label, "
             "(SELECT count(*) FROM images i WHERE i.turn_id = t.id AND i.kind = 'final'), t.kind, t.cost, "
             "t.target FROM turns t")


@dataclass(slots=True)
class ImageRow:
    kind: str
    index: int
    sha256: str
    mime: str
    path: str
    width: int
    height: int


@dataclass(slots=True)
class TurnView:
    """Everything the gallery shows about one turn (text fields exactly as stored: escape on output)."""

    id: int
    parent_id: int | None
    prompt: str
    kind: str
    status: str
    settings: dict[str, Any]
    references: list[dict[str, Any]]
    model_parts: list[dict[str, Any]]
    usage: dict[str, Any]
    grounding: dict[str, Any]
    finish_reason: str
    finish_message: str
    error: str
    cost: float
    starred: bool
    label: str
    model_version: str
    target: str
    created_at: float
    images: list[ImageRow] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    source: str = ""
    """Who asked for the turn when not a person in the studio (``mcp``: an agent; schema 5)."""
    source_client: str = ""

    def finals(self) -> list[ImageRow]:
        return [im for im in self.images if im.kind == "final"]

    def drafts(self) -> list[ImageRow]:
        return [im for im in self.images if im.kind == "draft"]

    def alternates(self) -> list[ImageRow]:
        """A region edit's other picture: the model's untouched output (``model``) while the protected
        composite is shown, or the composite (``protected``) while the model output is."""
        return [im for im in self.images if im.kind in ("model", "protected")]

    def thoughts(self) -> str:
        return "".join(p.get("text") or "" for p in self.model_parts if p.get("thought")).strip()

    def answer(self) -> str:
        return "".join(p.get("text") or "" for p in self.model_parts if not p.get("thought")).strip()

    def recipe(self, project: str) -> dict[str, Any]:
        """The same recipe the studio embeds in the image files (without the per-image fields)."""
        return {"app": "banana-studio", "project": project, "turn_id": self.id, "parent_id": self.parent_id,
                "prompt": self.prompt, "model": self.settings.get("model", ""), "settings": self.settings,
                "references": [r.get("sha256") for r in self.references], "target": self.target,
                "model_version": self.model_version, "created_at": _iso(self.created_at)}


def _iso(ts: float) -> str:
    try:
        return datetime.fromtimestamp(float(ts)).astimezone().isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return ""


def _json(text: str | None, default: Any) -> Any:
    try:
        value = json.loads(text) if text else default
    except (ValueError, TypeError):
        return default
    return value if isinstance(value, type(default)) else default


class ProjectReader:
    """The projects under ``root``, read-only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def projects(self) -> list[ProjectInfo]:
        return list_projects(self.root)  # a read-only peek at each index

    def project_dir(self, name: str) -> Path | None:
        """The folder of the project called ``name`` (an exact entry of the listing), else None."""
        try:
            for entry in self.root.iterdir():
                if entry.name == name and entry.is_dir() and (entry / DB_NAME).is_file():
                    return entry
        except OSError:
            return None
        return None

    @contextlib.contextmanager
    def open(self, project: Path) -> Iterator[ProjectView]:
        """A read-only view of the project in folder ``project`` (from :meth:`project_dir`); every
        database error inside the ``with`` block comes out as :class:`ReadError`."""
        db = project / DB_NAME
        try:
            conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise ReadError("The project's index cannot be opened.") from exc
        try:
            conn.execute("PRAGMA query_only = ON")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise ReadError("This project was written by a newer Banana Studio.")
            if version == 0:
                raise ReadError("The project's index is empty.")
            yield ProjectView(conn, project)
        except sqlite3.Error as exc:
            raise ReadError("The project's index cannot be read (busy or damaged).") from exc
        finally:
            conn.close()


class ProjectView:
    """One project's index, open read-only (from :meth:`ProjectReader.open`)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self.name = path.name

    def tree(self, limit: int = TREE_MAX) -> tuple[list[TreeRow], int]:
        """Rows of the first ``limit`` turns in tree order (depth first, children by id), and how many
        turns the project has in all."""
        ids, parents = queries.tree_skeleton(self._conn)
        known = set(ids)
        kids: dict[int | None, list[int]] = {}
        for tid, parent in zip(ids, parents, strict=True):
            kids.setdefault(parent if parent in known else None, []).append(tid)
        order: list[int] = []
        stack = list(reversed(kids.get(None, [])))
        while stack and len(order) < limit:
            tid = stack.pop()
            order.append(tid)
            stack.extend(reversed(kids.get(tid, [])))
        rows: dict[int, TreeRow] = {}
        for i in range(0, len(order), 500):  # well under SQLite's bound-parameter limit
            batch = order[i:i + 500]
            marks = ",".join("?" * len(batch))
            for r in self._conn.execute(_TREE_SQL + f" WHERE t.id IN ({marks})", batch):
                rows[int(r[0])] = TreeRow(int(r[0]), r[1], str(r[2] or ""), str(r[3] or ""), bool(r[4]),
                                          str(r[5] or ""), int(r[6]), str(r[7] or ""), float(r[8] or 0),
                                          str(r[9] or "unknown"))
        return [rows[i] for i in order if i in rows], len(ids)

    def turn(self, turn_id: int) -> TurnView | None:
        cur = self._conn.execute("SELECT * FROM turns WHERE id = ?", (turn_id,))
        row = cur.fetchone()
        if row is None:
            return None
        r = dict(zip([d[0] for d in cur.description], row, strict=True))
        model = _json(r.get("model_json"), {})
        view = TurnView(
            id=int(r["id"]), parent_id=r["parent_id"], prompt=str(r["prompt"] or ""), kind=str(r["kind"] or ""),
            status=str(r["status"] or ""), settings=_json(r.get("settings_json"), {}),
            references=[x for x in _json(r.get("refs_json"), []) if isinstance(x, dict)],
            model_parts=[p for p in (model.get("parts") or []) if isinstance(p, dict)],
            usage=_json(r.get("usage_json"), {}), grounding=_json(r.get("grounding_json"), {}),
            finish_reason=str(r["finish_reason"] or ""), finish_message=str(r["finish_message"] or ""),
            error=str(r["error"] or ""), cost=float(r["cost"] or 0), starred=bool(r["starred"]),
            label=str(r["label"] or ""), model_version=str(r["model_version"] or ""),
            target=str(r.get("target") or "unknown"), created_at=float(r["created_at"] or 0),
            source=str(r.get("source") or ""), source_client=str(r.get("source_client") or ""),
        )
        view.images = [ImageRow(*im) for im in self._conn.execute(
            "SELECT kind, idx, sha256, mime, path, width, height FROM images WHERE turn_id = ? "
            "ORDER BY kind DESC, idx", (turn_id,))]
        view.children = [c[0] for c in self._conn.execute("SELECT id FROM turns WHERE parent_id = ? ORDER BY id",
                                                    (turn_id,))]
        return view

    def recent_images(self, limit: int = 60) -> list[tuple[int, str, str]]:
        """``(turn id, path, prompt)`` of the newest final images, newest first."""
        return [(int(r[0]), str(r[1]), str(r[2] or "")) for r in self._conn.execute(
            "SELECT i.turn_id, i.path, substr(t.prompt, 1, 200) FROM images i JOIN turns t ON t.id = i.turn_id "
            "WHERE i.kind = 'final' ORDER BY i.id DESC LIMIT ?", (limit,))]

    def branch_ids(self, turn_id: int) -> list[int]:
        """The ids from the root down to ``turn_id`` (empty if it does not exist)."""
        rows = self._conn.execute(
            "WITH RECURSIVE up(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM turns WHERE id = ?"
            " UNION ALL SELECT t.id, t.parent_id, up.depth + 1 FROM turns t JOIN up ON t.id = up.parent_id"
            " WHERE up.depth < 100000) SELECT id FROM up ORDER BY depth DESC", (turn_id,)).fetchall()
        return [int(r[0]) for r in rows]

    def branch(self, turn_id: int) -> list[TurnView]:
        """The turns from the root down to ``turn_id`` (empty if it does not exist)."""
        return [v for v in (self.turn(i) for i in self.branch_ids(turn_id)) if v is not None]

    def branch_doc(self, turn_id: int, file_of: Any) -> dict[str, Any]:
        """The branch in the ``branch.json`` shape that :mod:`store.storyboard` draws; each image's
        ``file`` is ``file_of(image_row)`` (a URL for the page, the project-relative path for the sheet)."""
        turns = self.branch(turn_id)
        return {
            "app": "banana-studio", "app_version": __version__, "project": self.name, "turn_id": turn_id,
            "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "costs": {"branch": sum(t.cost for t in turns if t.target != "local")},
            "turns": [{
                "id": t.id, "parent_id": t.parent_id, "prompt": t.prompt, "status": t.status, "label": t.label,
                "settings": t.settings, "references": t.references, "usage": t.usage, "grounding": t.grounding,
                "cost": t.cost, "error": t.error, "model_content": {"parts": t.model_parts},
                "images": [{"kind": im.kind, "index": im.index, "file": file_of(im), "width": im.width,
                            "height": im.height} for im in t.images],
            } for t in turns],
        }

    def recorded_file(self, rel: str) -> Path | None:
        """The file at project-relative ``rel`` if the index records it (an image of a turn or a stored
        reference) and it lies, links resolved, in the project's ``images/`` (or ``images/drafts/``) or
        ``refs/`` folder (either may itself be a link to another disk); else None."""
        pure = PurePosixPath(rel)
        if not rel or "\\" in rel or "\x00" in rel or pure.is_absolute() or ".." in pure.parts:
            return None
        hit = self._conn.execute("SELECT 1 FROM images WHERE path = ? LIMIT 1", (rel,)).fetchone()
        if hit is None and not _is_recorded_ref(self._conn, rel):
            return None
        target = self.path.joinpath(*pure.parts)
        try:
            resolved = target.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        roots = set()
        for sub in ("images", "images/drafts", "refs"):
            with contextlib.suppress(OSError, RuntimeError):
                roots.add((self.path / sub).resolve())  # images/ may be a link to another disk
        if not any(root in resolved.parents for root in roots) or not resolved.is_file():
            return None
        return resolved

def _is_recorded_ref(conn: sqlite3.Connection, rel: str) -> bool:
    if not rel.startswith("refs/") or "/" in rel[5:]:
        return False
    needle = json.dumps(rel)
    for (refs_json,) in conn.execute("SELECT refs_json FROM turns WHERE instr(refs_json, ?) > 0 LIMIT 50",
                                     (needle,)):
        for ref in _json(refs_json, []):
            if isinstance(ref, dict) and ref.get("path") == rel:
                return True
    return False
