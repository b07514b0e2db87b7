"""The branch tree's line layout, computed from turn ids and parent ids alone.

Pure Python over integers (no Textual, no store), so a 100k-turn project is laid out in a worker
thread while the event loop keeps running; the display rows (prompt, status, cost) of the lines on
screen are fetched separately and lazily (see ``BranchTree.load``).

Layout: a turn with a single child continues on the next line at the same indent (a conversation
reads as a straight column); only forks indent, drawn with ``├─`` / ``└─`` guides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class Row:
    """One visual line: the turn id plus the guide text in front of it."""

    __slots__ = ("guide", "id", "sib_count", "sib_index")

    def __init__(self, turn_id: int, guide: str, sib_index: int, sib_count: int) -> None:
        self.id = turn_id
        self.guide = guide
        self.sib_index = sib_index
        self.sib_count = sib_count


@dataclass(slots=True)
class TreeLayout:
    parent: dict[int, int | None] = field(default_factory=dict)
    """Every turn's parent (``None`` for roots and for turns whose parent is not in the project)."""
    children: dict[int | None, list[int]] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    row_of: dict[int, int] = field(default_factory=dict)


def layout(ids: Sequence[int], parents: Sequence[int | None]) -> TreeLayout:
    """Lines in display order (depth first, children by id) for the turns ``ids`` with ``parents``."""
    known = set(ids)
    parent: dict[int, int | None] = {}
    children: dict[int | None, list[int]] = {}
    for tid, p in zip(ids, parents, strict=True):
        p = p if p in known else None
        parent[tid] = p
        children.setdefault(p, []).append(tid)
    for kids in children.values():
        kids.sort()
    rows: list[Row] = []
    # Iterative DFS; each stack entry: (id, guide for this row, continuation for its children, idx, count)
    roots = children.get(None, [])
    stack: list[tuple[int, str, str, int, int]] = []
    multi_root = len(roots) > 1
    for i in range(len(roots) - 1, -1, -1):
        if multi_root:
            last = i == len(roots) - 1
            stack.append((roots[i], "└─" if last else "├─", "  " if last else "│ ", i, len(roots)))
        else:
            stack.append((roots[i], "", "", i, len(roots)))
    while stack:
        tid, guide, cont, idx, count = stack.pop()
        rows.append(Row(tid, guide, idx, count))
        kids = children.get(tid)
        if not kids:
            continue
        if len(kids) == 1:
            stack.append((kids[0], cont, cont, 0, 1))
            continue
        n = len(kids)
        for i in range(n - 1, -1, -1):
            last = i == n - 1
            stack.append((kids[i], cont + ("└─" if last else "├─"), cont + ("  " if last else "│ "), i, n))
    return TreeLayout(parent, children, rows, {row.id: i for i, row in enumerate(rows)})


__all__ = ["Row", "TreeLayout", "layout"]
