"""BranchTree: loom-style navigation, rendering, refresh, and speed at 10,000 turns."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

from textual.app import App, ComposeResult
from textual.message import Message

from banana_studio.tui.widgets.branch_tree import BranchTree


@dataclass
class Node:
    """Same attributes as the store's TurnNode."""

    id: int
    parent_id: int | None
    prompt: str = "a cat in a hat"
    status: str = "done"
    starred: bool = False
    label: str = ""
    created_at: float = 0.0
    n_final: int = 1
    kind: str = "generate"
    cost: float = 0.134


def small_tree() -> list[Node]:
    #  1 ─ 2 ┬ 3 ─ 4
    #        ├ 5 ┬ 6
    #        │   └ 7
    #        └ 8
    #  9 (second root)
    return [
        Node(1, None, "a red fox"), Node(2, 1, "make it snowy"), Node(3, 2, "wider", kind="reroll"),
        Node(4, 3, "add a moon", status="failed"), Node(5, 2, "closer", starred=True, label="best"),
        Node(6, 5, "night", status="running"), Node(7, 5, "day", status="cancelled"),
        Node(8, 2, "sepia", status="interrupted"), Node(9, None, "a blue whale", status="pending", cost=0.0),
    ]


class TreeApp(App[None]):
    def __init__(self, nodes: list[Node]) -> None:
        super().__init__()
        self.nodes = nodes
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield BranchTree(self.nodes, id="tree")

    def on_branch_tree_turn_highlighted(self, message: BranchTree.TurnHighlighted) -> None:
        self.messages.append(message)

    def on_branch_tree_turn_selected(self, message: BranchTree.TurnSelected) -> None:
        self.messages.append(message)


def line_text(tree: BranchTree, y: int) -> str:
    return "".join(seg.text for seg in tree.render_line(y))


def test_visual_order_and_guides() -> None:
    tree = BranchTree(small_tree())
    assert tree.visual_order() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    guides = [row.guide for row in tree._bt_rows]
    # Two roots → guides at the top level; the single-child chain 1→2 stays in one column.
    assert guides[0] == "├─" and guides[1] == "│ "
    assert guides[2] == "│ ├─" and guides[3] == "│ │ "  # 4 continues under 3 without a new indent
    assert guides[5] == "│ │ ├─" and guides[6] == "│ │ └─"
    assert guides[7] == "│ └─" and guides[8] == "└─"
    assert tree.siblings_of(5) == [3, 5, 8]
    assert tree.path_to(7) == [1, 2, 5, 7]


async def test_rendered_rows_show_status_star_siblings_label_cost() -> None:
    app = TreeApp(small_tree())
    async with app.run_test(size=(80, 20)) as pilot:
        tree = app.query_one(BranchTree)
        await pilot.pause()
        rows = [line_text(tree, y) for y in range(9)]
        assert all(len(r) == tree.scrollable_content_region.width for r in rows)
        assert "● #1" in rows[0] and "a red fox" in rows[0] and rows[0].rstrip().endswith("$0.13")
        assert "● #3 1/3 ↻ wider" in rows[2]
        assert "✗ #4" in rows[3]
        assert "●★ #5 2/3 [best] closer" in rows[4]
        assert "◌ #6 1/2" in rows[5] and "⊘ #7 2/2" in rows[6]
        assert "⚠ #8 3/3" in rows[7]
        assert "◌ #9 2/2" in rows[8] and "$" not in rows[8]
        # Long prompts are cut with an ellipsis, never wrapped.
        tree.refresh_index([Node(1, None, "word " * 100)])
        await pilot.pause()
        assert line_text(tree, 0).rstrip().endswith("$0.13")
        assert "…" in line_text(tree, 0)


async def test_keyboard_navigation_loom_style() -> None:
    app = TreeApp(small_tree())
    async with app.run_test(size=(80, 20)) as pilot:
        tree = app.query_one(BranchTree)
        tree.focus()
        await pilot.pause()
        assert tree.cursor_id == 1
        await pilot.press("down", "down")
        assert tree.cursor_id == 3
        await pilot.press("right_square_bracket")
        assert tree.cursor_id == 5
        await pilot.press("right")  # first child
        assert tree.cursor_id == 6
        await pilot.press("right_square_bracket")
        assert tree.cursor_id == 7
        await pilot.press("left", "left")  # parent, grand-parent
        assert tree.cursor_id == 2
        await pilot.press("right")  # remembers the last visited child (5), not the first (3)
        assert tree.cursor_id == 5
        await pilot.press("right")  # ... and 5's last visited child (7)
        assert tree.cursor_id == 7
        await pilot.press("right_square_bracket")  # no next sibling: stays
        assert tree.cursor_id == 7
        await pilot.press("left_square_bracket")
        assert tree.cursor_id == 6
        await pilot.press("end")
        assert tree.cursor_id == 9
        await pilot.press("left")  # a root has no parent: stays
        assert tree.cursor_id == 9
        await pilot.press("left_square_bracket")  # previous root
        assert tree.cursor_id == 1
        await pilot.press("up")  # top: stays
        assert tree.cursor_id == 1
        await pilot.press("down", "enter")
        await pilot.pause()
        assert tree.selected_id == 2
        highlighted = [m.turn_id for m in app.messages if isinstance(m, BranchTree.TurnHighlighted)]
        selected = [m.turn_id for m in app.messages if isinstance(m, BranchTree.TurnSelected)]
        assert highlighted[0] == 1 and highlighted[-1] == 2
        assert all(a != b for a, b in itertools.pairwise(highlighted))  # no duplicates
        assert selected == [2]
        assert "▸" in line_text(tree, 1)


async def test_current_branch_is_highlighted() -> None:
    app = TreeApp(small_tree())
    async with app.run_test(size=(80, 20)) as pilot:
        tree = app.query_one(BranchTree)
        tree.select_turn(7)
        await pilot.pause()

        def bg(y: int) -> object:
            return next(iter(tree.render_line(y))).style.bgcolor  # type: ignore[union-attr]

        # Rows 1, 2, 5 are on the path root → 7; row 7 is the cursor; 3, 4, 6, 8, 9 are not.
        on_path, cursor, off_path = bg(0), bg(6), bg(2)
        assert len({str(on_path), str(cursor), str(off_path)}) == 3
        assert bg(1) == bg(4) == on_path
        assert bg(3) == bg(5) == bg(7) == bg(8) == off_path
        await pilot.press("left")  # cursor to 5: 7 leaves the branch
        assert bg(6) == off_path and bg(4) == cursor and bg(1) == on_path


async def test_refresh_index_keeps_cursor_or_falls_back_to_ancestor() -> None:
    nodes = small_tree()
    app = TreeApp(nodes)
    async with app.run_test(size=(80, 20)) as pilot:
        tree = app.query_one(BranchTree)
        tree.select_turn(6)
        await pilot.pause()
        tree.refresh_index([*nodes, Node(10, 6, "new child")])
        await pilot.pause()
        assert tree.cursor_id == 6 and tree.node_count == 10
        # Delete the branch under 5: the cursor falls back to 2.
        tree.refresh_index([n for n in nodes if n.id not in (5, 6, 7)])
        await pilot.pause()
        assert tree.cursor_id == 2
        assert tree.selected_id is None
        tree.refresh_index([])
        await pilot.pause()
        assert tree.cursor_id is None
        assert "No turns yet" in line_text(tree, 0)
        assert not tree.select_turn(3)


async def test_click_and_double_click() -> None:
    app = TreeApp(small_tree())
    async with app.run_test(size=(80, 20)) as pilot:
        tree = app.query_one(BranchTree)
        await pilot.click("#tree", offset=(5, 4))
        assert tree.cursor_id == 5
        await pilot.double_click("#tree", offset=(5, 3))
        await pilot.pause()
        assert tree.cursor_id == 4 and tree.selected_id == 4


def big_project(n: int, seed: int = 7) -> list[Node]:
    rnd = random.Random(seed)
    nodes: list[Node] = []
    for i in range(1, n + 1):
        if i == 1 or rnd.random() < 0.01:
            parent = None
        elif rnd.random() < 0.85:
            parent = i - 1
        else:
            parent = rnd.randint(max(1, i - 50), i - 1)
        nodes.append(Node(i, parent, f"prompt {i} " + "x" * (i % 90),
                          status=rnd.choice(["done"] * 9 + ["failed"]), starred=rnd.random() < 0.05))
    return nodes


async def test_ten_thousand_turns_build_and_first_render() -> None:
    """10,000 turns: the tree builds, renders its first lines and jumps to the far end correctly.
    (How fast: benchmarks/bench_history_ui.py -- timings are measured there, not asserted here.)"""
    nodes = big_project(10_000)
    tree = BranchTree(nodes)
    assert tree.node_count == 10_000

    app = TreeApp([])
    async with app.run_test(size=(120, 45)) as pilot:
        tree = app.query_one(BranchTree)
        await pilot.pause()
        height = tree.scrollable_content_region.height
        tree.refresh_index([])
        tree.refresh_index(nodes)
        lines = [line_text(tree, y) for y in range(height)]
        assert tree.node_count == 10_000
        assert "#1 " in lines[0]
        await pilot.pause()
        # Jumping to the far end scrolls it into view.
        tree.select_turn(10_000)
        lines = [line_text(tree, y) for y in range(height)]
        await pilot.pause()
        row = tree._bt_row_of[10_000]
        assert tree.scroll_offset.y <= row < tree.scroll_offset.y + tree.scrollable_content_region.height
        visible = [line_text(tree, y) for y in range(tree.scrollable_content_region.height)]
        assert any("#10000 " in line for line in visible)


def test_snapshot_branch_tree(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        tree = pilot.app.query_one(BranchTree)
        tree.focus()
        tree.select_turn(7)
        await pilot.pause()

    assert snap_compare(TreeApp(small_tree()), terminal_size=(72, 12), run_before=run_before)
