"""Variations grid: N generations of one prompt side by side, streaming; pick the one to keep going from.

The screen takes a built request (the main screen's composer makes it and checks the budget) and
hands back a :class:`VariationsResult` with ``dismiss``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.events import Click
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Static

from banana_studio.config import redact
from banana_studio.domain.events import (
    DraftImage,
    Failed,
    FinalImage,
    Retrying,
    ThoughtText,
    TurnSaved,
    TurnStarted,
)
from banana_studio.services.variations import DEFAULT_VARIATIONS, VariationSet, generate_variations
from banana_studio.tui import actions
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.widgets.footer import StudioFooter

if TYPE_CHECKING:
    from banana_studio.domain.events import StudioEvent
    from banana_studio.domain.turn import Turn
    from banana_studio.services import GenerateRequest, Studio

_HEADING = re.compile(r"\*\*(.+?)\*\*")


@dataclass(frozen=True, slots=True)
class VariationsResult:
    """What the grid hands back when it closes."""

    picked: int | None
    """The turn the user kept (None: closed without a pick)."""
    turns: list[Turn] = field(default_factory=list)
    """Every variation that was saved (they are billed, picked or not)."""


class VariationCell(Vertical, can_focus=True):
    """One variation: its live preview (drafts, then the final image) and a one-line status."""

    status: reactive[str] = reactive("waiting…")

    def __init__(self, index: int) -> None:
        super().__init__(classes="variation-cell", id=f"variation-{index + 1}")
        self.index = index
        self.turn_id: int | None = None
        self.ok = False
        self.finished = False
        self.border_title = f"{index + 1}"

    def compose(self) -> ComposeResult:
        yield ImagePreview("waiting…", classes="variation-preview")
        yield Static("waiting…", classes="variation-status")

    def watch_status(self, value: str) -> None:
        if self.is_mounted:
            self.query_one(".variation-status", Static).update(Text(value, overflow="ellipsis", no_wrap=True))

    @property
    def preview(self) -> ImagePreview:
        return self.query_one(ImagePreview)

    def on_click(self, event: Click) -> None:
        self.focus()


class VariationsScreen(Screen[VariationsResult]):
    """Runs the variations as soon as it is shown.  Dismisses with a :class:`VariationsResult`."""

    BINDINGS = actions.bindings("variations")

    def __init__(self, studio: Studio, request: GenerateRequest, n: int = DEFAULT_VARIATIONS) -> None:
        super().__init__()
        self.studio = studio
        self.request = request
        self.n = n
        self.columns = 2 if n <= 4 else 4
        self.result = VariationSet(n)
        self.running = False

    def compose(self) -> ComposeResult:
        prompt = self.request.prompt.replace("\n", " ")
        s = self.request.settings
        est = self.studio.estimate_cost(s, len(self.request.references)) * self.n
        parent = f"from #{self.request.parent_id}" if self.request.parent_id is not None else "new thread"
        yield Static(Text.assemble((f"Variations ×{self.n}", "bold"), f"  {parent} · {s.aspect_ratio} "
                                   f"{s.image_size} · est. ${est:.3f}  ", (prompt, "italic")),
                     id="variations-title", classes="screen-title")
        grid = Grid(*[VariationCell(i) for i in range(self.n)], id="variations-grid")
        grid.styles.grid_size_columns = self.columns
        yield grid
        yield Static("←↑↓→ choose · Enter keeps the chosen one and continues from it · Esc cancels / goes back",
                     id="variations-hint", classes="screen-hint")
        yield StudioFooter()  # at 80 columns the least important keys give way

    def on_mount(self) -> None:
        self.cells[0].focus()
        self._run()

    @property
    def cells(self) -> list[VariationCell]:
        return list(self.query(VariationCell))

    @work(group="variations", exclusive=True, exit_on_error=False)
    async def _run(self) -> None:
        self.running = True
        cells = self.cells
        try:
            async for v in generate_variations(self.studio, self.request, self.n):
                self.result.feed(v)
                await self._apply(cells[v.index], v.event)
        except asyncio.CancelledError:
            for c in cells:
                if not c.finished:
                    c.status = "cancelled"
                    c.preview.set_placeholder("cancelled")
            raise
        finally:
            self.running = False
            self.refresh_bindings()
        done = len(self.result.done)
        self.notify(f"{done} of {self.n} variations done — pick one with Enter.", title="Variations")

    async def _apply(self, cell: VariationCell, ev: StudioEvent) -> None:
        if isinstance(ev, TurnStarted):
            cell.turn_id = int(ev.turn.id)
            cell.border_title = f"{cell.index + 1} · #{cell.turn_id}"
            self._order_cells()
            cell.status = "sent…"
            cell.preview.set_placeholder("thinking…")
        elif isinstance(ev, ThoughtText):
            heads = _HEADING.findall(ev.text)
            if heads:
                cell.status = heads[-1]
        elif isinstance(ev, Retrying):
            cell.status = f"retrying in {ev.delay:.0f} s…"
        elif isinstance(ev, DraftImage):
            cell.status = f"draft {ev.index + 1}…"
            await cell.preview.show_bytes(ev.data, name=f"draft {ev.index + 1}")
        elif isinstance(ev, FinalImage):
            await cell.preview.show_bytes(ev.data, name="final")
        elif isinstance(ev, TurnSaved):
            cell.finished = True
            turn = ev.turn
            cell.ok = turn.status == "done"
            if cell.ok:
                cell.status = f"✓ #{turn.id} · ${turn.cost:.3f}"
                cell.add_class("-done")
                finals = turn.final_images
                if finals:
                    await cell.preview.show_path(self.studio.store.abs_path(finals[-1].path))
            else:
                cell.status = f"✗ {redact(turn.error or turn.status)}"
                cell.add_class("-failed")
                cell.preview.set_placeholder(turn.status)
        elif isinstance(ev, Failed) and not cell.finished:
            cell.status = f"✗ {redact(ev.error.message)}"
            if cell.turn_id is None:  # never started (invalid request): nothing more will come
                cell.finished = True
                cell.add_class("-failed")
                cell.preview.set_placeholder("not sent")

    def _focused_cell(self) -> VariationCell | None:
        focused = self.focused
        while focused is not None and not isinstance(focused, VariationCell):
            focused = focused.parent if isinstance(focused.parent, VariationCell) else None
        return focused if isinstance(focused, VariationCell) else None

    def _order_cells(self) -> None:
        """Once every variation has its turn: the grid in turn order and numbered by position
        (1 · #6, 2 · #7, 3 · #8), whatever order the concurrent requests were recorded in."""
        cells = self.cells
        if any(c.turn_id is None for c in cells):
            return
        ordered = sorted(cells, key=lambda c: int(c.turn_id or 0))
        grid = self.query_one("#variations-grid")
        if ordered != cells:
            focused = self._focused_cell()
            at = cells.index(focused) if focused in cells else None
            for cell in ordered:
                if cell is not grid.children[-1]:
                    grid.move_child(cell, after=grid.children[-1])
            if at is not None:  # the focus stays where it was on the grid, not with the moved cell
                ordered[at].focus()
        for pos, cell in enumerate(ordered):
            cell.border_title = f"{pos + 1} · #{cell.turn_id}"

    def action_move(self, dx: int, dy: int) -> None:
        cells = self.cells
        cell = self._focused_cell()
        i = cells.index(cell) if cell is not None else 0
        j = i + dx + dy * self.columns
        if 0 <= j < len(cells):
            cells[j].focus()

    def action_pick(self) -> None:
        cell = self._focused_cell()
        if cell is None:
            return
        if not cell.ok or cell.turn_id is None:
            self.notify("That variation has no image (yet). Pick a finished one.", severity="warning")
            return
        if self.running:
            self.workers.cancel_group(self, "variations")
        self.dismiss(self._result(cell.turn_id))

    def action_close(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "variations")
            self.notify("Cancelled the variations still running.", title="Variations")
            return
        self.dismiss(self._result(None))

    def _result(self, picked: int | None) -> VariationsResult:
        return VariationsResult(picked, [t for t in self.result.turns if t is not None])
