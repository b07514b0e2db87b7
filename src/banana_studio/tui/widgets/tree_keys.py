"""The branch tree's cursor keys (mixed into :class:`~banana_studio.tui.widgets.branch_tree.BranchTree`).

↑/↓ follow the visual order, Home/End and PgUp/PgDn jump, ← goes to the parent, → to the child last
visited (else the first), ``[`` / ``]`` to the previous / next sibling; a move that has nowhere to go
rings the bell.  The tree provides the rows, the cursor and the family maps named below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.geometry import Region

    from banana_studio.tui.widgets.tree_layout import Rows


class TreeKeys:
    """Key actions over the tree's lines; every move goes through ``_set_cursor`` / ``_move_to``."""

    if TYPE_CHECKING:
        _bt_rows: Rows
        _bt_parent: dict[int, int | None]
        _bt_children: dict[int | None, list[int]]
        _bt_last_child: dict[int | None, int]
        cursor_row: int
        cursor_id: int | None
        scrollable_content_region: Region

        def _set_cursor(self, row: int, *, force: bool = False) -> None: ...
        def _move_to(self, turn_id: int | None) -> None: ...
        def siblings_of(self, turn_id: int) -> list[int]: ...

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
        self._move_to(self._bt_parent.get(cur))

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
