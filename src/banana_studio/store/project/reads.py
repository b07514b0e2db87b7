"""Reads over the project: turns, the tree (skeleton + display rows), search, recent turns, costs."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from banana_studio.domain.content import Content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import Target
from banana_studio.domain.turn import ImageFile, Reference, Turn
from banana_studio.store import queries
from banana_studio.store.names import ProjectError
from banana_studio.store.project.blobs import Blobs


@dataclass(slots=True)
class TurnNode:
    """A light row for tree views and listings."""

    id: int
    parent_id: int | None
    prompt: str
    """First 120 characters."""
    status: str
    starred: bool
    label: str
    created_at: float
    n_final: int
    kind: str
    cost: float
    model: str = ""
    image_size: str = ""
    target: str = "unknown"
    model_version: str = ""
    source: str = ""
    """"" = a person made it, "mcp" = an agent (see :attr:`Turn.source`)."""

    @property
    def is_demo(self) -> bool:
        return self.target == "local"


def _node(row: tuple[Any, ...]) -> TurnNode:
    return TurnNode(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8], row[9],
                    row[10], row[11], row[12], row[13], (row[14] or "") if len(row) > 14 else "")


class Reads(Blobs):
    """Reading turns: one turn, children, a branch's path and its replay, the tree, search, recent, costs."""

    def get_turn(self, turn_id: int) -> Turn:
        row = self._turn_row(turn_id)
        images = self._query(
            "SELECT kind, idx, sha256, mime, path, width, height FROM images WHERE turn_id = ? "
            "ORDER BY kind DESC, idx", (turn_id,)
        )
        turn = self._turn_of(row, images)
        turn.tags = [r[0] for r in self._query(
            "SELECT tag FROM turn_tags WHERE turn_id = ? ORDER BY tag COLLATE NOCASE", (turn_id,))]
        return turn

    def _turns(self, ids: Sequence[int], *, lazy: bool = False) -> list[Turn]:
        """The turns ``ids`` in that order, read in batches (two queries per 500 turns, not two per turn)."""
        rows: dict[int, dict[str, Any]] = {}
        images: dict[int, list[tuple[Any, ...]]] = {}
        tags: dict[int, list[str]] = {}
        unique = sorted(set(ids))
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                for i in range(0, len(unique), 500):
                    batch = unique[i:i + 500]
                    marks = ",".join("?" * len(batch))
                    cur = self._conn.execute(f"SELECT * FROM turns WHERE id IN ({marks})", batch)
                    names = [d[0] for d in cur.description]
                    for r in cur.fetchall():
                        rows[r[0]] = dict(zip(names, r, strict=True))
                    for im in self._conn.execute(
                            "SELECT turn_id, kind, idx, sha256, mime, path, width, height FROM images "
                            f"WHERE turn_id IN ({marks}) ORDER BY turn_id, kind DESC, idx", batch):
                        images.setdefault(im[0], []).append(im[1:])
                    for tid, tag in self._conn.execute(f"SELECT turn_id, tag FROM turn_tags WHERE turn_id IN "
                                                       f"({marks}) ORDER BY turn_id, tag COLLATE NOCASE", batch):
                        tags.setdefault(tid, []).append(tag)
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc
        missing = next((i for i in ids if i not in rows), None)
        if missing is not None:
            raise ProjectError(f"Turn {missing} does not exist in project {self.name!r}.")
        out = [self._turn_of(rows[i], images.get(i, []), lazy=lazy) for i in ids]
        for turn in out:
            turn.tags = list(tags.get(turn.id, []))
        return out

    def _turn_of(self, row: dict[str, Any], images: Sequence[tuple[Any, ...]], *, lazy: bool = False) -> Turn:
        refs = [Reference(r["sha256"], r["mime_type"], r["name"], r["path"], str(r.get("named") or ""))
                for r in json.loads(row["refs_json"] or "[]")]
        return Turn(
            id=row["id"],
            parent_id=row["parent_id"],
            prompt=row["prompt"],
            settings=GenerationSettings.from_json(json.loads(row["settings_json"] or "{}")),
            status=row["status"],
            references=refs,
            user_content=self._load_content(row["user_json"], lazy=lazy),
            model_content=self._load_content(row["model_json"], lazy=lazy),
            images=[ImageFile(*im) for im in images],
            finish_reason=row["finish_reason"],
            finish_message=row["finish_message"],
            error=row["error"],
            error_kind=row["error_kind"],
            usage=json.loads(row["usage_json"] or "{}"),
            grounding=json.loads(row["grounding_json"] or "{}"),
            cost=row["cost"],
            starred=bool(row["starred"]),
            label=row["label"],
            kind=row["kind"],
            model_version=row["model_version"],
            response_id=row["response_id"],
            target=row.get("target") or "unknown",
            source=row.get("source") or "",
            source_client=row.get("source_client") or "",
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def children(self, turn_id: int | None) -> list[Turn]:
        if turn_id is None:
            rows = self._query("SELECT id FROM turns WHERE parent_id IS NULL ORDER BY id")
        else:
            rows = self._query("SELECT id FROM turns WHERE parent_id = ? ORDER BY id", (turn_id,))
        return self._turns([r[0] for r in rows])

    def siblings(self, turn_id: int) -> list[Turn]:
        row = self._turn_row(turn_id)
        return self.children(row["parent_id"])

    def _path_ids(self, turn_id: int) -> list[int]:
        rows = self._query(
            "WITH RECURSIVE up(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM turns WHERE id = ?"
            " UNION ALL SELECT t.id, t.parent_id, up.depth + 1 FROM turns t JOIN up ON t.id = up.parent_id"
            " WHERE up.depth < 100000) SELECT id FROM up ORDER BY depth DESC",
            (turn_id,),
        )
        if not rows:
            raise ProjectError(f"Turn {turn_id} does not exist in project {self.name!r}.")
        return [r[0] for r in rows]

    def path_to(self, turn_id: int, *, lazy_signatures: bool = False) -> list[Turn]:
        """The turns from the root to ``turn_id``.  ``lazy_signatures``: big thought signatures are left
        as blob references (``Part.signature_blob``) instead of read -- for measuring or checking a
        branch, which needs their sizes, not their megabytes; ``Content.inflate`` reads them."""
        return self._turns(self._path_ids(turn_id), lazy=lazy_signatures)

    def replay_contents(self, turn_id: int) -> list[Content]:
        """The history to send when continuing from ``turn_id`` (inflated, signatures byte-exact)."""
        out: list[Content] = []
        for t in self.path_to(turn_id):
            if t.status != "done" or t.model_content is None or t.user_content is None:
                continue
            out.append(t.user_content.inflate(self.blob_bytes))
            out.append(t.model_content.inflate(self.blob_bytes))
        return out

    def tree_index(self) -> list[TurnNode]:
        return [_node(r) for r in self._query(queries.TREE_INDEX_SQL)]

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on this store's connection: it changes when ANOTHER
        connection (another process: an MCP server, ``gen``, a second studio) commits to the index,
        never for this store's own writes.  A cheap poll for "someone else changed the project"."""
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc

    def turns_after(self, turn_id: int, *, other_processes: bool = False) -> tuple[list[TurnNode], int]:
        """The light rows of turns newer than ``turn_id`` (ids only grow: AUTOINCREMENT), oldest first,
        and the newest id.  ``other_processes``: leave out the turns this process created."""
        mine = " AND t.owner_pid != ?" if other_processes else ""
        params: tuple[Any, ...] = (int(turn_id), os.getpid()) if other_processes else (int(turn_id),)
        rows = self._query(queries.NODE_SQL + " WHERE t.id > ?" + mine + " ORDER BY t.id", params)
        latest = self._query("SELECT coalesce(max(id), 0) FROM turns")[0][0]
        return [_node(r) for r in rows], int(latest)

    def tree_skeleton(self) -> tuple[list[int], list[int | None]]:
        """Every turn's id and parent id (ids ascending): what the branch tree lays out; the display
        rows of the turns on screen come from :meth:`nodes_for`."""
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                return queries.tree_skeleton(self._conn)
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc

    def nodes_for(self, ids: Sequence[int]) -> list[TurnNode]:
        """The light rows of the given turns (id order; unknown ids are left out)."""
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                return [_node(r) for r in queries.nodes_for(self._conn, ids)]
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc

    def search(self, text: str, *, limit: int = 200, starred: bool = False) -> list[TurnNode]:
        terms = re.findall(r"\w+", text or "")
        if not terms:
            return [_node(r) for r in self._query(queries.search_sql(fts=False, starred=starred), (limit,))]
        match = queries.fts_match(terms)
        try:
            if starred:
                with self._lock:
                    rows = queries.starred_search(self._conn, match, limit)
            else:
                rows = self._query(queries.search_sql(fts=True, starred=False), (match, limit))
        except sqlite3.OperationalError:
            like = "%" + text.replace("%", r"\%").replace("_", r"\_") + "%"
            rows = self._query(queries.search_sql(fts=False, starred=starred, like=True), (like, limit))
        return [_node(r) for r in rows]

    def recent(self, limit: int = 50) -> list[TurnNode]:
        return [_node(r) for r in self._query(queries.RECENT_SQL, (limit,))]

    def costs(self, turn_id: int | None = None) -> dict[str, float]:
        """Real money of the turn, its branch, the project and today (see :mod:`store.totals`: one
        definition of "today", across :attr:`spending_roots`), and the simulated demo costs apart
        (``demo_turn``, ``demo_branch``, ``demo_project``, ``demo_today``)."""
        from banana_studio.store.totals import local_midnight, money, peek_totals, totals_across

        midnight = local_midnight()
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                mine = peek_totals(self._conn, midnight)
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc
        everywhere = totals_across(self.spending_roots, [self.path], midnight=midnight)
        turn = branch = demo_turn = demo_branch = 0.0
        if turn_id is not None:
            ids = self._path_ids(turn_id)
            marks = ",".join("?" * len(ids))
            rows = self._query(f"SELECT id, cost, target FROM turns WHERE id IN ({marks})", ids)
            for tid, cost, target in rows:
                demo = target == Target.LOCAL.value
                if demo:
                    demo_branch += float(cost)
                else:
                    branch += float(cost)
                if tid == turn_id:
                    demo_turn, turn = (float(cost), 0.0) if demo else (0.0, float(cost))
        return {"turn": money(turn), "branch": money(branch), "project": money(mine.total),
                "today": everywhere.today, "demo_turn": money(demo_turn), "demo_branch": money(demo_branch),
                "demo_project": money(mine.demo_total), "demo_today": everywhere.demo_today}

