"""Tags on turns: read, add and remove in bulk (one transaction for a whole gallery selection)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from banana_studio.domain.tags import parse_tags
from banana_studio.store.names import ProjectError
from banana_studio.store.project.turns import TurnWrites

_MAX_VARS = 500


class Tags(TurnWrites):
    """Tags of a turn; bulk edits of many turns at once."""

    def tags_of(self, turn_ids: Sequence[int]) -> dict[int, list[str]]:
        """Each listed turn's tags, sorted without case (turns without tags map to [])."""
        out: dict[int, list[str]] = {int(t): [] for t in turn_ids}
        ids = sorted(out)
        for i in range(0, len(ids), _MAX_VARS):
            batch = ids[i:i + _MAX_VARS]
            marks = ",".join("?" * len(batch))
            for tid, tag in self._query(f"SELECT turn_id, tag FROM turn_tags WHERE turn_id IN ({marks}) "
                                        "ORDER BY turn_id, tag COLLATE NOCASE", batch):
                out[int(tid)].append(str(tag))
        return out

    def all_tags(self) -> list[tuple[str, int]]:
        """Every tag in the project with how many turns carry it, most used first."""
        rows = self._query("SELECT tag, count(*) FROM turn_tags GROUP BY tag COLLATE NOCASE "
                           "ORDER BY count(*) DESC, tag COLLATE NOCASE")
        return [(str(t), int(n)) for t, n in rows]

    def edit_tags(self, turn_ids: Iterable[int], *, add: Iterable[str] = (), remove: Iterable[str] = ()) -> int:
        """Add ``add`` to and remove ``remove`` from every turn of ``turn_ids`` in one transaction (tags
        are normalised; a tag both added and removed is added).  Unknown turns: nothing changes and a
        :class:`ProjectError` names the first.  Returns the number of tag rows changed."""
        ids = sorted({int(t) for t in turn_ids})
        adding = parse_tags(list(add))
        folded = {t.casefold() for t in adding}
        removing = [t for t in parse_tags(list(remove)) if t.casefold() not in folded]
        if not ids or not (adding or removing):
            return 0
        changed = 0
        with self._tx() as c:
            for i in range(0, len(ids), _MAX_VARS):
                batch = ids[i:i + _MAX_VARS]
                marks = ",".join("?" * len(batch))
                known = {r[0] for r in c.execute(f"SELECT id FROM turns WHERE id IN ({marks})", batch)}
                missing = [t for t in batch if t not in known]
                if missing:
                    raise ProjectError(f"Turn {missing[0]} does not exist in project {self.name!r}.")
            for tag in removing:
                for i in range(0, len(ids), _MAX_VARS):
                    batch = ids[i:i + _MAX_VARS]
                    marks = ",".join("?" * len(batch))
                    cur = c.execute(f"DELETE FROM turn_tags WHERE tag = ? AND turn_id IN ({marks})", (tag, *batch))
                    changed += max(0, cur.rowcount)
            for tag in adding:
                # A tag already there with other case is re-spelled the new way.
                for tid in ids:
                    c.execute("DELETE FROM turn_tags WHERE turn_id = ? AND tag = ? AND tag != ? COLLATE BINARY",
                              (tid, tag, tag))
                    cur = c.execute("INSERT OR IGNORE INTO turn_tags(turn_id, tag) VALUES (?, ?)", (tid, tag))
                    changed += max(0, cur.rowcount)
        return changed
