"""The project's turn tree, loom style: a virtualised (line API) view that stays fast at 10,000 turns.

Layout: a turn with a single child continues on the next line at the same indent (a conversation
reads as a straight column); only forks indent, drawn with ``├─`` / ``└─`` guides.  Every row shows
a status glyph (● done, ◌ pending/running, ✗ failed, ⊘ cancelled, ⚠ interrupted), ★ when starred,
the turn id, the position among its siblings ("2/3"), the prompt, the label and the cost.

Keys: ↑/↓ visual order, ← parent, → last-visited (else first) child, ``[`` / ``]`` previous / next
sibling, Home/End, PgUp/PgDn, Enter selects.  The branch root → cursor is highlighted.

Messages: :class:`BranchTree.TurnHighlighted` whenever the cursor lands on another turn (also after
:meth:`BranchTree.select_turn` or :meth:`BranchTree.refresh_index` moved it), and
:class:`BranchTree.TurnSelected` on Enter / double click.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip


class TurnNodeLike(Protocol):
    """The store's light row (``banana_studio.store.TurnNode``); only these attributes are read."""

    id: int
    parent_id: int | None
    prompt: str
    status: str
    starred: bool
    label: str
    created_at: float
    n_final: int
    kind: str
    cost: float


STATUS_GLYPHS: dict[str, str] = {
    "done": "●",
    "pending": "◌",
    "running": "◌",
    "failed": "✗",
    "cancelled": "⊘",
    "interrupted": "⚠",
}
KIND_MARKS: dict[str, str] = {"reroll": "↻", "variation": "≈", "batch": "≈"}
"""Marks for turns that are not plain continuations (every child turn is an "edit": no mark)."""


class _Row:
    """One visual line: the node plus the guide text in front of it."""

    __slots__ = ("guide", "id", "sib_count", "sib_index")

    def __init__(self, turn_id: int, guide: str, sib_index: int, sib_count: int) -> None:
        self.id = turn_id
        self.guide = guide
        self.sib_index = sib_index
        self.sib_count = sib_count


class BranchTree(ScrollView, can_focus=True):
    """Keyboard-navigable tree of a project's turns."""

    DEFAULT_CSS = """
    BranchTree {
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
    }
    BranchTree > .branch-tree--guide { color: $text-muted; }
    BranchTree > .branch-tree--id { color: $text-muted; }
    BranchTree > .branch-tree--siblings { color: $accent; }
    BranchTree > .branch-tree--label { color: $text-secondary; text-style: italic; }
    BranchTree > .branch-tree--cost { color: $text-muted; }
    BranchTree > .branch-tree--star { color: $warning; }
    BranchTree > .branch-tree--done { color: $success; }
    BranchTree > .branch-tree--running { color: $warning; }
    BranchTree > .branch-tree--failed { color: $error; }
    BranchTree > .branch-tree--cancelled { color: $text-muted; }
    BranchTree > .branch-tree--interrupted { color: $warning; }
    BranchTree > .branch-tree--branch { background: $primary 25%; }
    BranchTree > .branch-tree--cursor { background: $primary 45%; text-style: bold; }
    BranchTree:focus > .branch-tree--cursor { background: $primary 70%; }
    BranchTree > .branch-tree--empty { color: $text-muted; text-style: italic; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "branch-tree--guide", "branch-tree--id", "branch-tree--siblings", "branch-tree--label",
        "branch-tree--cost", "branch-tree--star", "branch-tree--done", "branch-tree--running",
        "branch-tree--failed", "branch-tree--cancelled", "branch-tree--interrupted", "branch-tree--branch",
        "branch-tree--cursor", "branch-tree--empty",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False, id="tree.up"),
        Binding("down", "cursor_down", "Down", show=False, id="tree.down"),
        Binding("left", "parent", "Parent", id="tree.parent"),
        Binding("right", "child", "Child", id="tree.child"),
        Binding("left_square_bracket", "prev_sibling", "Prev sibling", key_display="[", id="tree.prev_sibling"),
        Binding("right_square_bracket", "next_sibling", "Next sibling", key_display="]", id="tree.next_sibling"),
        Binding("home", "first", "First", show=False, id="tree.first"),
        Binding("end", "last", "Last", show=False, id="tree.last"),
        Binding("pageup", "page_up", "Page up", show=False, id="tree.page_up"),
        Binding("pagedown", "page_down", "Page down", show=False, id="tree.page_down"),
        Binding("enter", "select", "Select", id="tree.select"),
    ]

    class TurnHighlighted(Message):
        """The cursor moved to ``turn_id``."""

        def __init__(self, tree: BranchTree, turn_id: int) -> None:
            super().__init__()
            self.tree = tree
            self.turn_id = turn_id

        @property
        def control(self) -> BranchTree:
            return self.tree

    class TurnSelected(Message):
        """The user chose ``turn_id`` (Enter / double click)."""

        def __init__(self, tree: BranchTree, turn_id: int) -> None:
            super().__init__()
            self.tree = tree
            self.turn_id = turn_id

        @property
        def control(self) -> BranchTree:
            return self.tree

    cursor_row: reactive[int] = reactive(0, init=False, always_update=False)

    def __init__(self, nodes: Sequence[Any] = (), *, empty_text: str = "No turns yet — write a prompt and send.",
                 name: str | None = None, id: str | None = None, classes: str | None = None,
                 disabled: bool = False) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.empty_text = empty_text
        self._bt_nodes: dict[int, Any] = {}
        self._bt_children: dict[int | None, list[int]] = {}
        self._bt_rows: list[_Row] = []
        self._bt_row_of: dict[int, int] = {}
        self._bt_last_child: dict[int | None, int] = {}
        self._bt_path: set[int] = set()
        self._bt_selected_id: int | None = None
        self._bt_announced: int | None = None
        self._bt_styles: dict[str, Style] = {}
        self._build(nodes)

    # -- data ----------------------------------------------------------------------------------

    def _build(self, nodes: Iterable[Any]) -> None:
        by_id: dict[int, Any] = {n.id: n for n in nodes}
        children: dict[int | None, list[int]] = {}
        for tid, node in by_id.items():
            parent = node.parent_id if node.parent_id in by_id else None
            children.setdefault(parent, []).append(tid)
        for kids in children.values():
            kids.sort()
        rows: list[_Row] = []
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
            rows.append(_Row(tid, guide, idx, count))
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
        self._bt_nodes = by_id
        self._bt_children = children
        self._bt_rows = rows
        self._bt_row_of = {row.id: i for i, row in enumerate(rows)}
        self._bt_last_child = {p: c for p, c in self._bt_last_child.items() if c in by_id}
        self.virtual_size = Size(0, max(1, len(rows)))

    def refresh_index(self, nodes: Sequence[Any]) -> None:
        """Replace the data (e.g. after a generation).  Keeps the cursor on the same turn when it still
        exists, else on its closest surviving ancestor."""
        keep = self.cursor_id
        ancestors: list[int] = []
        cur = keep
        while cur is not None and cur in self._bt_nodes:
            ancestors.append(cur)
            cur = self._bt_nodes[cur].parent_id
        self._build(nodes)
        if self._bt_selected_id is not None and self._bt_selected_id not in self._bt_nodes:
            self._bt_selected_id = None
        target = next((a for a in ancestors if a in self._bt_row_of), None)
        row = self._bt_row_of.get(target, 0) if target is not None else 0
        self._set_cursor(min(row, max(0, len(self._bt_rows) - 1)), force=True)
        self.refresh()

    @property
    def node_count(self) -> int:
        return len(self._bt_rows)

    @property
    def cursor_id(self) -> int | None:
        if not self._bt_rows:
            return None
        return self._bt_rows[min(self.cursor_row, len(self._bt_rows) - 1)].id

    @property
    def selected_id(self) -> int | None:
        """The last turn chosen with Enter or :meth:`select_turn`."""
        return self._bt_selected_id

    def node(self, turn_id: int) -> Any | None:
        return self._bt_nodes.get(turn_id)

    def children_of(self, turn_id: int | None) -> list[int]:
        return list(self._bt_children.get(turn_id, []))

    def siblings_of(self, turn_id: int) -> list[int]:
        node = self._bt_nodes.get(turn_id)
        if node is None:
            return []
        parent = node.parent_id if node.parent_id in self._bt_nodes else None
        return list(self._bt_children.get(parent, []))

    def path_to(self, turn_id: int) -> list[int]:
        """Turn ids root → ``turn_id``."""
        path: list[int] = []
        cur: int | None = turn_id
        while cur is not None and cur in self._bt_nodes:
            path.append(cur)
            cur = self._bt_nodes[cur].parent_id
        path.reverse()
        return path

    def visual_order(self) -> list[int]:
        return [row.id for row in self._bt_rows]

    def select_turn(self, turn_id: int) -> bool:
        """Move the cursor to ``turn_id``, scroll it into view and mark it selected.  Posts
        ``TurnHighlighted`` if the cursor moved; never ``TurnSelected``.  False if unknown."""
        row = self._bt_row_of.get(turn_id)
        if row is None:
            return False
        self._bt_selected_id = turn_id
        self._set_cursor(row)
        self.refresh()
        return True

    # -- cursor ------------------------------------------------------------------------------

    def _set_cursor(self, row: int, *, force: bool = False) -> None:
        if not self._bt_rows:
            self._bt_path = set()
            self._bt_announced = None
            return
        row = max(0, min(row, len(self._bt_rows) - 1))
        self.set_reactive(BranchTree.cursor_row, row)
        turn_id = self._bt_rows[row].id
        self._bt_path = set(self.path_to(turn_id))
        node = self._bt_nodes[turn_id]
        parent = node.parent_id if node.parent_id in self._bt_nodes else None
        self._bt_last_child[parent] = turn_id
        self._scroll_to_row(row)
        self.refresh()
        if force or turn_id != self._bt_announced:
            self._bt_announced = turn_id
            if self.is_attached:
                self.post_message(self.TurnHighlighted(self, turn_id))

    def _scroll_to_row(self, row: int) -> None:
        if not self.is_mounted or not self.size.height:
            return
        self.scroll_to_region(Region(0, row, 1, 1), animate=False, force=True)

    def watch_cursor_row(self, row: int) -> None:
        self._set_cursor(row)

    def on_mount(self) -> None:
        if self._bt_rows:
            start = self._bt_row_of.get(self._bt_selected_id, 0) if self._bt_selected_id is not None else 0
            self._set_cursor(start, force=True)

    def on_resize(self) -> None:
        if self._bt_rows:
            self.call_after_refresh(self._scroll_to_row, self.cursor_row)

    def _move_to(self, turn_id: int | None) -> None:
        if turn_id is None:
            self.app.bell()
            return
        self._set_cursor(self._bt_row_of[turn_id])

    def action_cursor_up(self) -> None:
        if self._bt_rows:
            self._set_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        if self._bt_rows:
            self._set_cursor(self.cursor_row + 1)

    def action_first(self) -> None:
        if self._bt_rows:
            self._set_cursor(0)

    def action_last(self) -> None:
        if self._bt_rows:
            self._set_cursor(len(self._bt_rows) - 1)

    def action_page_up(self) -> None:
        if self._bt_rows:
            self._set_cursor(self.cursor_row - max(1, self.scrollable_content_region.height - 1))

    def action_page_down(self) -> None:
        if self._bt_rows:
            self._set_cursor(self.cursor_row + max(1, self.scrollable_content_region.height - 1))

    def action_parent(self) -> None:
        cur = self.cursor_id
        if cur is None:
            return
        parent = self._bt_nodes[cur].parent_id
        self._move_to(parent if parent in self._bt_nodes else None)

    def action_child(self) -> None:
        cur = self.cursor_id
        if cur is None:
            return
        kids = self._bt_children.get(cur, [])
        if not kids:
            self._move_to(None)
            return
        remembered = self._bt_last_child.get(cur)
        self._move_to(remembered if remembered in kids else kids[0])

    def _sibling(self, step: int) -> None:
        cur = self.cursor_id
        if cur is None:
            return
        sibs = self.siblings_of(cur)
        i = sibs.index(cur) + step
        self._move_to(sibs[i] if 0 <= i < len(sibs) else None)

    def action_prev_sibling(self) -> None:
        self._sibling(-1)

    def action_next_sibling(self) -> None:
        self._sibling(+1)

    def action_select(self) -> None:
        cur = self.cursor_id
        if cur is None:
            return
        self._bt_selected_id = cur
        self.refresh()
        self.post_message(self.TurnSelected(self, cur))

    def on_click(self, event: events.Click) -> None:
        row = int(self.scroll_offset.y + event.y)
        if 0 <= row < len(self._bt_rows):
            self._set_cursor(row)
            if event.chain >= 2:
                self.action_select()

    # -- rendering ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        self._bt_styles = {}
        super().notify_style_update()

    def on_focus(self) -> None:
        self._bt_styles = {}
        self.refresh()

    def on_blur(self) -> None:
        self._bt_styles = {}
        self.refresh()

    def _style(self, name: str) -> Style:
        style = self._bt_styles.get(name)
        if style is None:
            # Background styles need alpha blending against the widget (partial=False); the others
            # must stay partial so they only add their own colour / text style.
            partial = name not in ("branch", "cursor")
            style = self.get_component_rich_style(f"branch-tree--{name}", partial=partial)
            self._bt_styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width or self.size.width
        base = self.rich_style
        if not self._bt_rows:
            # The empty text wrapped to the panel's width (a narrow tree must not cut it mid-word).
            lines = Text(self.empty_text).wrap(self.app.console, max(1, width))
            if y < len(lines):
                return Strip([Segment(lines[y].plain, base + self._style("empty"))]).crop_extend(0, width, base)
            return Strip.blank(width, base)
        row_index = int(self.scroll_offset.y) + y
        if row_index >= len(self._bt_rows):
            return Strip.blank(width, base)
        return self._render_row(row_index, width, base)

    def _render_row(self, row_index: int, width: int, base: Style) -> Strip:
        row = self._bt_rows[row_index]
        node = self._bt_nodes[row.id]
        line = base
        if row.id in self._bt_path:
            line = line + self._style("branch")
        if row_index == self.cursor_row:
            line = line + self._style("cursor")
        status = str(getattr(node, "status", "done"))
        status_style = "running" if status == "pending" else status
        segs: list[Segment] = [Segment("▸" if row_index == self.cursor_row else " ", line)]
        guide = row.guide
        max_guide = max(0, width // 2)
        if len(guide) > max_guide:
            guide = "…" + guide[len(guide) - max_guide + 1 :]
        if guide:
            segs.append(Segment(guide, line + self._style("guide")))
        segs.append(Segment(STATUS_GLYPHS.get(status, "?"),
                            line + (self._style(status_style) if status_style in STATUS_GLYPHS else line)))
        if getattr(node, "starred", False):
            segs.append(Segment("★", line + self._style("star")))
        segs.append(Segment(f" #{row.id}", line + self._style("id")))
        if row.sib_count > 1:
            segs.append(Segment(f" {row.sib_index + 1}/{row.sib_count}", line + self._style("siblings")))
        mark = KIND_MARKS.get(str(getattr(node, "kind", "")), "")
        if mark:
            segs.append(Segment(f" {mark}", line + self._style("siblings")))
        n_final = int(getattr(node, "n_final", 0) or 0)
        if n_final > 1:
            segs.append(Segment(f" ×{n_final}", line + self._style("id")))
        label = str(getattr(node, "label", "") or "")
        if label:
            segs.append(Segment(f" [{label}]", line + self._style("label")))
        prompt = " ".join(str(getattr(node, "prompt", "")).split())
        segs.append(Segment(f" {prompt}" if prompt else " (no prompt)", line))
        cost = float(getattr(node, "cost", 0.0) or 0.0)
        strip = Strip(segs)
        if cost > 0 and width >= 40:
            cost_text = f" ${cost:.2f}"
            room = width - len(cost_text)
            if strip.cell_length > room:
                strip = Strip([*strip.crop(0, room - 1), Segment("…", line)])
            else:
                strip = strip.crop_extend(0, room, line)
            return Strip([*strip, Segment(cost_text, line + self._style("cost"))], width)
        if strip.cell_length > width:
            strip = Strip([*strip.crop(0, width - 1), Segment("…", line)])
        return strip.crop_extend(0, width, line)


__all__ = ["KIND_MARKS", "STATUS_GLYPHS", "BranchTree", "TurnNodeLike"]
