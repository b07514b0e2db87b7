"""The branch tree's layout (pure: ids and parent ids in, lines out), including deep forks."""

from __future__ import annotations

from banana_studio.tui.widgets.tree_layout import layout


def _lines(ids: list[int], parents: list[int | None]) -> list[tuple[int, str, int, int]]:
    lay = layout(ids, parents)
    return [(r.id, r.guide, r.sib_index, r.sib_count) for r in (lay.rows[i] for i in range(len(lay.rows)))]


def test_forks_indent_conversations_do_not_and_positions_follow_ids() -> None:
    # 1 ─ 2 ─┬ 3 ─ 4
    #        └ 5 ┬ 6
    #            └ 7
    # 8 (second root); 9's parent is not in the project: a root too.
    lines = _lines([1, 2, 3, 4, 5, 6, 7, 8, 9], [None, 1, 2, 3, 2, 5, 5, None, 42])
    assert lines == [
        (1, "├─", 0, 3), (2, "│ ", 0, 1), (3, "│ ├─", 0, 2), (4, "│ │ ", 0, 1), (5, "│ └─", 1, 2),
        (6, "│   ├─", 0, 2), (7, "│   └─", 1, 2), (8, "├─", 1, 3), (9, "└─", 2, 3),
    ]
    lay = layout([1, 2, 3, 4, 5, 6, 7, 8, 9], [None, 1, 2, 3, 2, 5, 5, None, 42])
    assert lay.parent[9] is None and lay.children[5] == [6, 7] and lay.row_of[5] == 4
    assert lay.rows.ids == [1, 2, 3, 4, 5, 6, 7, 8, 9] and [r.id for r in lay.rows[2:4]] == [3, 4]


def test_unsorted_input_and_a_single_root() -> None:
    assert _lines([3, 1, 2], [1, None, 1]) == [(1, "", 0, 1), (2, "├─", 0, 2), (3, "└─", 1, 2)]
    assert _lines([], []) == []


def test_a_deep_fork_ladder_shares_its_guides() -> None:
    # Every turn forks twice; the first child continues the ladder: 400 levels of guides.
    ids, parents = [1], [None]
    for depth in range(400):
        ids += [2 * depth + 2, 2 * depth + 3]
        parents += [ids[-4] if depth else 1, ids[-4] if depth else 1]
    lay = layout(ids, parents)
    assert len(lay.rows) == len(ids)
    deepest = lay.rows[lay.row_of[ids[-2]]]
    assert deepest.guide == "│ " * 399 + "├─"  # joined only when asked for
    assert lay.rows._conts[lay.row_of[ids[-2]]] is lay.rows._conts[lay.row_of[ids[-1]]]  # one link, shared
