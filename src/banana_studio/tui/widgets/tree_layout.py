"""The branch tree's line layout, computed from turn ids and parent ids alone.

Pure Python over integers (no Textual, no store), so a 100k-turn project is laid out in a worker
thread while the event loop keeps running; the display rows (prompt, status, cost) of the lines on
screen are fetched separately and lazily (see ``BranchTree.load``).

Layout: a turn with a single child continues on the next line at the same indent (a conversation
reads as a straight column); only forks indent, drawn with ``├─`` / ``└─`` guides.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import overload

_Cont = tuple[str, "_Cont"] | None
"""The guide in front of a fork's children, as a shared linked list of two-cell segments (innermost
first): a deep tree costs one small tuple per fork, not a string as long as its depth per line."""


_Cont = tuple[str, "_Cont"] | None
"""The guide in front of a fork's children, as a shared linked list of two-cell segments (innermost
first): a deep tree costs one small tuple per fork, not a string as long as its depth per line."""


class Row:
    """One visual line: the turn id plus the guide text in front of it."""

    __slots__ = ("guide", "id", "sib_count", "sib_index")

    def __init__(self, turn_id: int, guide: str, sib_index: int, sib_count: int) -> None:
        self.id = turn_id
        self.guide = guide
        self.sib_index = sib_index
        self.sib_count = sib_count


class Rows(Sequence[Row]):
    """The lines of a layout as two parallel lists, turn ids and guide links (no object per line: a
    100k-turn project lays out without allocating 100k rows).  A :class:`Row` is made only for a line
    that is asked for: its sibling position comes from the (sorted) children lists, its guide from the
    shared links."""

    __slots__ = ("_children", "_conts", "_parent", "ids")

    def __init__(self, parent: dict[int, int | None] | None = None,
                 children: dict[int | None, list[int]] | None = None) -> None:
        self.ids: list[int] = []
        self._conts: list[_Cont] = []
        self._parent = parent if parent is not None else {}
        self._children = children if children is not None else {}

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> Row: ...
    @overload
    def __getitem__(self, i: slice) -> list[Row]: ...

    def __getitem__(self, i: int | slice) -> Row | list[Row]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self.ids)))]
        tid = self.ids[i]
        kids = self._children.get(self._parent.get(tid), [tid])
        n = len(kids)
        idx = bisect.bisect_left(kids, tid)
        parts = ["" if n == 1 else "└─" if idx == n - 1 else "├─"]
        cont = self._conts[i]
        while cont is not None:
            parts.append(cont[0])
            cont = cont[1]
        parts.reverse()
        return Row(tid, "".join(parts), idx, n)


@dataclass(slots=True)
class TreeLayout:
    parent: dict[int, int | None] = field(default_factory=dict)
    """Every turn's parent (``None`` for roots and for turns whose parent is not in the project)."""
    children: dict[int | None, list[int]] = field(default_factory=dict)
    rows: Rows = field(default_factory=Rows)
    row_of: dict[int, int] = field(default_factory=dict)


def layout(ids: Sequence[int], parents: Sequence[int | None]) -> TreeLayout:
    """Lines in display order (depth first, children by id) for the turns ``ids`` with ``parents``.

    Linear in the number of turns whatever the depth, with no object per line: a conversation (one
    child) is followed in a tight loop, and guides are shared linked segments (see :class:`Rows`)."""
    parent: dict[int, int | None] = dict(zip(ids, parents, strict=True))
    children: dict[int | None, list[int]] = {}
    ascending = all(a < b for a, b in itertools.pairwise(ids))
    for tid, p in parent.items():
        if p is not None and p not in parent:
            parent[tid] = p = None
        kids = children.get(p)
        if kids is None:
            children[p] = [tid]
        else:
            kids.append(tid)
    if not ascending:
        for kids in children.values():
            kids.sort()
    rows = Rows(parent, children)
    r_ids, r_conts = rows.ids, rows._conts
    # Iterative DFS; each stack entry: (id, it is the last sibling, guide of the line above, siblings).
    roots = children.get(None, [])
    stack: list[tuple[int, bool, _Cont, int]] = []
    n_roots = len(roots)
    for i in range(n_roots - 1, -1, -1):
        stack.append((roots[i], i == n_roots - 1, None, n_roots))
    get = children.get
    while stack:
        tid, last, cont, count = stack.pop()
        r_ids.append(tid)
        r_conts.append(cont)
        if count > 1:  # the children continue under a vertical rule (more siblings below) or a blank (last)
            cont = ("  " if last else "│ ", cont)
        kids = get(tid)
        while kids is not None and len(kids) == 1:  # a conversation: straight down, same indent
            tid = kids[0]
            r_ids.append(tid)
            r_conts.append(cont)
            kids = get(tid)
        if not kids:
            continue
        n = len(kids)
        for i in range(n - 1, -1, -1):
            stack.append((kids[i], i == n - 1, cont, n))
    return TreeLayout(parent, children, rows, dict(zip(r_ids, range(len(r_ids)), strict=True)))


__all__ = ["Row", "Rows", "TreeLayout", "layout"]
