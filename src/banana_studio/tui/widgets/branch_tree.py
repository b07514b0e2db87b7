"""The project's turn tree, loom style: a virtualised (line API) view that stays fast at 10,000 turns.

Layout: a turn with a single child continues on the next line at the same indent (a conversation
reads as a straight column); only forks indent, drawn with ``├─`` / ``└─`` guides.  Every row shows
a status glyph (● done, ◌ pending/running, ✗ failed, ⊘ cancelled, ⚠ interrupted), ★ when starred,
the turn id, a DEMO badge for turns made by the local demo server, the position among its siblings
("2/3"), the prompt, the label and the cost (real money only: a demo turn's simulated cost is not shown).

Keys: ↑/↓ visual order, ← parent, → last-visited (else first) child, ``[`` / ``]`` previous / next
sibling, Home/End, PgUp/PgDn, Enter selects.  The branch root → cursor is highlighted.

Loading: :meth:`BranchTree.refresh_index` takes every node at once (small projects, tests);
:meth:`BranchTree.load` takes only ids and parent ids, lays the lines out in a worker thread and
fetches the display rows of the lines on screen (and of the cursor's ancestors) through a loader,
more as the view scrolls — a 100,000-turn project never becomes 100,000 row objects.

Messages: :class:`BranchTree.TurnHighlighted` whenever the cursor lands on another turn (also after
:meth:`BranchTree.select_turn` or :meth:`BranchTree.refresh_index` moved it), and
:class:`BranchTree.TurnSelected` on Enter / double click.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from banana_studio.tui import actions
from banana_studio.tui.widgets.tree_keys import TreeKeys
from banana_studio.tui.widgets.tree_layout import Rows, TreeLayout, layout
from banana_studio.tui.widgets.tree_row import KIND_MARKS, STATUS_GLYPHS, TurnNodeLike, row_strip

NodeLoader = Callable[[list[int]], Awaitable[Sequence[Any]]]
"""Fetch the display rows (``TurnNodeLike``) of the given turn ids (off the event loop)."""



class BranchTree(TreeKeys, ScrollView, can_focus=True):
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
    BranchTree > .branch-tree--demo { color: $text-warning; background: $warning-muted; text-style: bold; }
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
        "branch-tree--cursor", "branch-tree--empty", "branch-tree--demo",
    }

    BINDINGS = actions.bindings("tree")

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
        """Display rows known so far (all of them after :meth:`refresh_index`; loaded lazily after :meth:`load`)."""
        self._bt_parent: dict[int, int | None] = {}
        self._bt_children: dict[int | None, list[int]] = {}
        self._bt_rows: Rows = Rows()
        self._bt_loader: NodeLoader | None = None
        self._bt_generation = 0
        self._bt_fetch_due = False
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
        self._apply_layout(layout(list(by_id), [n.parent_id for n in by_id.values()]), by_id)

    def _apply_layout(self, lay: TreeLayout, nodes: dict[int, Any]) -> None:
        self._bt_nodes = nodes
        self._bt_parent = lay.parent
        self._bt_children = lay.children
        self._bt_rows = lay.rows
        self._bt_row_of = lay.row_of
        self._bt_last_child = {p: c for p, c in self._bt_last_child.items() if c in lay.parent}
        self.virtual_size = Size(0, max(1, len(lay.rows)))

    def _ancestors(self, turn_id: int | None) -> list[int]:
        out: list[int] = []
        while turn_id is not None and turn_id in self._bt_parent:
            out.append(turn_id)
            turn_id = self._bt_parent[turn_id]
        return out

    def refresh_index(self, nodes: Sequence[Any]) -> None:
        """Replace the data (e.g. after a generation).  Keeps the cursor on the same turn when it still
        exists, else on its closest surviving ancestor."""
        ancestors = self._ancestors(self.cursor_id)
        self._bt_generation += 1
        self._bt_loader = None
        self._build(nodes)
        if self._bt_selected_id is not None and self._bt_selected_id not in self._bt_parent:
            self._bt_selected_id = None
        target = next((a for a in ancestors if a in self._bt_row_of), None)
        row = self._bt_row_of.get(target, 0) if target is not None else 0
        self._set_cursor(min(row, max(0, len(self._bt_rows) - 1)), force=True)
        self.refresh()

    async def load(self, ids: Sequence[int], parents: Sequence[int | None], loader: NodeLoader, *,
                   select: int | None = None) -> None:
        """Replace the data with the turns ``ids`` (ascending) whose parents are ``parents``: the lines are
        laid out in a worker thread, and only the display rows around the cursor (``select`` when given
        and present, else the current cursor turn or its closest surviving ancestor) and of its
        ancestors are fetched before the view switches over; the rest arrive through ``loader`` as they
        scroll into view.  A newer :meth:`load` or :meth:`refresh_index` supersedes a running one."""
        self._bt_generation += 1
        generation = self._bt_generation
        ancestors = self._ancestors(self.cursor_id)
        lay = await asyncio.to_thread(layout, ids, parents)
        if generation != self._bt_generation:
            return
        target = select if select in lay.row_of else next((a for a in ancestors if a in lay.row_of), None)
        row = lay.row_of.get(target, 0) if target is not None else 0
        if not lay.rows:
            fetched: Sequence[Any] = []
        else:
            # The screens around the cursor, and the cursor's parent (a send continues from it).  The
            # ancestors' structure is in the skeleton; their display rows load when they scroll in.
            want = {lay.rows.ids[i] for i in self._window(row - self._page(), len(lay.rows))}
            parent = lay.parent.get(lay.rows[row].id)
            if parent is not None:
                want.add(parent)
            fetched = await loader(sorted(want))
        if generation != self._bt_generation:
            return
        self._bt_loader = loader
        self._apply_layout(lay, {n.id: n for n in fetched})
        if self._bt_selected_id is not None and self._bt_selected_id not in self._bt_parent:
            self._bt_selected_id = None
        if select is not None and select in lay.row_of:
            self._bt_selected_id = select
        self._set_cursor(row, force=True)
        self.refresh()

    def _page(self) -> int:
        return max(self.scrollable_content_region.height, self.size.height, 20)

    def _window(self, top: int, n_rows: int) -> range:
        """Row indexes worth having when line ``top`` is the first on screen: that screen and one either side."""
        page = self._page()
        return range(max(0, top - page), min(n_rows, top + 2 * page))

    def _need_rows(self) -> None:
        """A line without its display row was drawn: fetch the ones around the view (one fetch at a time)."""
        if self._bt_loader is None or self._bt_fetch_due or not self.is_attached:
            return
        self._bt_fetch_due = True
        self.run_worker(self._fetch_visible(), group="branch-tree-rows", exit_on_error=False)

    async def _fetch_visible(self) -> None:
        generation, loader = self._bt_generation, self._bt_loader
        try:
            top = int(self.scroll_offset.y)
            rows = self._bt_rows
            missing = [rows.ids[i] for i in self._window(top, len(rows)) if rows.ids[i] not in self._bt_nodes]
            if not missing or loader is None:
                return
            fetched = await loader(missing)
            if generation == self._bt_generation:
                self._bt_nodes.update((n.id, n) for n in fetched)
                self.refresh()
        finally:
            self._bt_fetch_due = False

    @property
    def loaded_nodes(self) -> dict[int, Any]:
        """The display rows fetched so far, by turn id (the cursor's branch is always among them)."""
        return self._bt_nodes

    @property
    def turn_count(self) -> int:
        return len(self._bt_parent)

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
        if turn_id not in self._bt_parent:
            return []
        return list(self._bt_children.get(self._bt_parent[turn_id], []))

    def path_to(self, turn_id: int) -> list[int]:
        """Turn ids root → ``turn_id``."""
        path = self._ancestors(turn_id)
        path.reverse()
        return path

    def visual_order(self) -> list[int]:
        return list(self._bt_rows.ids)

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
        self._bt_last_child[self._bt_parent[turn_id]] = turn_id
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
        node = self._bt_nodes.get(row.id)
        line = base
        if row.id in self._bt_path:
            line = line + self._style("branch")
        if row_index == self.cursor_row:
            line = line + self._style("cursor")
        if node is None:  # display row not fetched yet: the guides and the id, the rest in a moment
            self._need_rows()
        return row_strip(row, node, width=width, line=line, style=self._style, cursor=row_index == self.cursor_row)

__all__ = ["KIND_MARKS", "STATUS_GLYPHS", "BranchTree", "NodeLoader", "TurnNodeLike"]
