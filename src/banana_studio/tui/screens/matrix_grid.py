"""A template run as an X/Y plot: one picture per cell, the slot values as column and row headings.

Two ways in: a run that is starting (the cells fill as their answers stream, like variations; Esc
cancels what is still running) or a run already recorded (from the gallery or the turn: each cell
shows its turn's picture; a batch run's cells fill once the jobs are imported).  Enter goes to the
chosen cell's turn (dismissed with its id), ``v`` shows it full screen.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Click
from textual.screen import Screen
from textual.widgets import Static

from banana_studio.config import redact
from banana_studio.domain.events import DraftImage, Failed, FinalImage, TurnSaved, TurnStarted
from banana_studio.domain.matrix import Layout
from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural
from banana_studio.tui import actions
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.widgets.footer import StudioFooter

if TYPE_CHECKING:
    from pathlib import Path

    from banana_studio.domain.turn import Turn
    from banana_studio.services import Studio
    from banana_studio.services.templates import RunPlan
    from banana_studio.store.template_runs import TemplateRun

def _one(text: str) -> Text:
    return Text(display_text(text, one_line=True), overflow="ellipsis", no_wrap=True)


class MatrixCell(Vertical, can_focus=True):
    DEFAULT_CSS = """
    MatrixCell { width: 1fr; height: 100%; border: round $panel-lighten-2; }
    MatrixCell.-done { border: round $success 50%; }
    MatrixCell.-failed { border: round $error 60%; }
    MatrixCell:focus, MatrixCell:focus-within { border: double $accent; }
    MatrixCell ImagePreview { height: 1fr; }
    MatrixCell .matrix-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, index: int) -> None:
        super().__init__(id=f"matrix-cell-{index + 1}")
        self.index = index
        self.turn_id: int | None = None
        self.image_path: Path | None = None
        self.border_title = f"{index + 1}"

    def compose(self) -> ComposeResult:
        yield ImagePreview("waiting…")
        yield Static("waiting…", classes="matrix-status")

    @property
    def preview(self) -> ImagePreview:
        return self.query_one(ImagePreview)

    def set_status(self, text: str) -> None:
        self.query_one(".matrix-status", Static).update(_one(text))

    def on_click(self, event: Click) -> None:
        self.focus()


class MatrixGridScreen(Screen[int | None]):
    """Dismisses with the turn id to go to (Enter), or None."""

    BINDINGS = actions.bindings("matrix")
    DEFAULT_CSS = """
    MatrixGridScreen #matrix-body { height: 1fr; padding: 0 1; }
    MatrixGridScreen .matrix-row { height: auto; }
    MatrixGridScreen .matrix-head { height: 1; }
    MatrixGridScreen .matrix-rowhead { width: 18; padding: 1 1 0 0; color: $text-muted; }
    MatrixGridScreen .matrix-colhead { width: 1fr; text-style: bold; padding: 0 1; }
    MatrixGridScreen .matrix-corner { width: 18; padding: 0 1 0 0; color: $text-muted; text-style: italic; }
    """

    def __init__(self, studio: Studio, *, run_id: int | None = None, plan: RunPlan | None = None) -> None:
        super().__init__()
        self.studio = studio
        self.run_id = run_id
        self.plan = plan
        self.running = False
        self.layout_: Layout | None = plan.layout if plan is not None else None
        self.saved: list[Any] = []
        """Turns this screen's run saved (billed, picked or not): the session totals count them."""
        self.title_text = ""

    def compose(self) -> ComposeResult:
        yield Static("", id="matrix-title", classes="screen-title")
        yield VerticalScroll(id="matrix-body")
        yield Static("←↑↓→ choose · Enter goes to the turn · v full screen · r refresh · Esc back",
                     id="matrix-hint", classes="screen-hint")
        yield StudioFooter()

    async def on_mount(self) -> None:
        if self.plan is not None:
            p = self.plan
            self.title_text = f"Template {p.template.name} · {p.summary(batch=not self.studio.target.vertex)}"
            await self._build(p.layout, [c.title() for c in p.matrix.cells])
            self._run()
        else:
            await self.reload()

    @property
    def cells(self) -> list[MatrixCell]:
        return list(self.query(MatrixCell))

    def _cell_height(self, rows: int) -> int:
        return max(8, min(24, (self.app.size.height - 5) // max(1, rows)))

    async def _build(self, lay: Layout, titles: list[str]) -> None:
        self.layout_ = lay
        body = self.query_one("#matrix-body", VerticalScroll)
        await body.remove_children()
        self.query_one("#matrix-title", Static).update(_one(self.title_text))
        corner = " · ".join(a.name for a in lay.y)
        if lay.x is not None:
            corner = f"{corner} ╲ {lay.x.name}" if corner else lay.x.name
        head = Horizontal(Static(_one(corner), classes="matrix-corner"),
                          *[Static(_one(c), classes="matrix-colhead") for c in lay.columns],
                          classes="matrix-head")
        height = self._cell_height(len(lay.rows))
        rows = []
        for label, indexes in zip(lay.rows, lay.grid, strict=True):
            cells = [MatrixCell(i) for i in indexes]
            row = Horizontal(Static(_one(label), classes="matrix-rowhead"), *cells, classes="matrix-row")
            row.styles.height = height
            rows.append(row)
        await body.mount(head, *rows)
        for cell in self.cells:
            cell.tooltip = display_text(titles[cell.index]) if cell.index < len(titles) else None
        if self.cells:
            self.cells[0].focus()

    # -- a recorded run ----------------------------------------------------------------------------
    async def reload(self) -> None:
        from banana_studio.services.templates import grid_of_run

        assert self.run_id is not None
        g = await asyncio.to_thread(grid_of_run, self.studio.store, self.run_id)
        run = g.run
        self.title_text = (f"Template {run.name} · run {run.id} · {plural(len(run.cells), 'cell')} · {run.lane} · "
                           f"est. ${run.estimate:.3f}")
        titles = [" · ".join(f"{k}={v}" for k, v in c.axes.items()) or c.prompt for c in run.cells]
        if not self.cells or self.layout_ != g.layout:
            await self._build(g.layout, titles)
        by_index = {c.index: c for c in self.cells}
        for rc in run.cells:
            cell = by_index.get(rc.index)
            if cell is None:
                continue
            if rc.index not in g.turns:
                cell.set_status("not imported yet" if rc.batch_key else "not sent")
                cell.preview.set_placeholder("…")
                continue
            turn = g.turns[rc.index]
            if turn is None:
                cell.set_status(f"#{rc.turn_id} deleted")
                cell.preview.set_placeholder("deleted")
                continue
            await self._show_turn(cell, turn)

    async def _show_turn(self, cell: MatrixCell, turn: Turn) -> None:
        cell.turn_id = int(turn.id)
        cell.border_title = f"{cell.index + 1} · #{turn.id}"
        if turn.status == "done":
            cell.set_status(f"✓ #{turn.id} · ${turn.cost:.3f}")
            cell.add_class("-done")
            finals = turn.final_images
            if finals:
                cell.image_path = self.studio.store.abs_path(finals[-1].path)
                await cell.preview.show_path(cell.image_path)
        else:
            cell.set_status(f"✗ {redact(turn.error or turn.status)}")
            cell.add_class("-failed")
            cell.preview.set_placeholder(turn.status)

    # -- a run starting now ------------------------------------------------------------------------
    @work(group="matrix-run", exclusive=True, exit_on_error=False)
    async def _run(self) -> None:
        from banana_studio.services.templates import TemplateError, run_interactive

        assert self.plan is not None
        self.running = True
        by_index = {c.index: c for c in self.cells}
        done = 0

        def recorded(run: TemplateRun) -> None:
            self.run_id = run.id

        try:
            async for v in run_interactive(self.studio, self.plan, on_run=recorded):
                cell = by_index[v.index]
                ev = v.event
                if isinstance(ev, TurnStarted):
                    cell.turn_id = int(ev.turn.id)
                    cell.border_title = f"{cell.index + 1} · #{cell.turn_id}"
                    cell.set_status("sent…")
                    cell.preview.set_placeholder("thinking…")
                elif isinstance(ev, DraftImage):
                    cell.set_status(f"draft {ev.index + 1}…")
                    await cell.preview.show_bytes(ev.data, name=f"draft {ev.index + 1}")
                elif isinstance(ev, FinalImage):
                    await cell.preview.show_bytes(ev.data, name="final")
                elif isinstance(ev, TurnSaved):
                    done += ev.turn.status == "done"
                    self.saved.append(ev.turn)
                    await self._show_turn(cell, ev.turn)
                elif isinstance(ev, Failed) and cell.turn_id is None:
                    cell.set_status(f"✗ not sent: {redact(ev.error.message)}")
                    cell.add_class("-failed")
                    cell.preview.set_placeholder("not sent")
        except TemplateError as exc:
            self.notify(display_text(str(exc)), title="Template run", severity="error")
            return
        except asyncio.CancelledError:
            for c in self.cells:
                if c.turn_id is None or not (c.has_class("-done") or c.has_class("-failed")):
                    c.set_status("cancelled")
            raise
        finally:
            self.running = False
        self.notify(f"{done} of {len(by_index)} cells done (run {self.run_id}).", title="Template run")

    # -- keys --------------------------------------------------------------------------------------
    def _focused_cell(self) -> MatrixCell | None:
        node = self.focused
        while node is not None and not isinstance(node, MatrixCell):
            node = node.parent  # type: ignore[assignment]
        return node if isinstance(node, MatrixCell) else None

    def action_move(self, dx: int, dy: int) -> None:
        lay = self.layout_
        cell = self._focused_cell()
        if lay is None or cell is None or not lay.grid:
            return
        for r, row in enumerate(lay.grid):
            if cell.index in row:
                c = row.index(cell.index)
                r2 = max(0, min(len(lay.grid) - 1, r + dy))
                c2 = max(0, min(len(row) - 1, c + dx))
                target = self.query_one(f"#matrix-cell-{lay.grid[r2][c2] + 1}", MatrixCell)
                target.focus()
                target.scroll_visible()
                return

    def action_pick(self) -> None:
        cell = self._focused_cell()
        if cell is None or cell.turn_id is None:
            self.notify("That cell has no turn (yet).", severity="warning")
            return
        if self.running:
            self.workers.cancel_group(self, "matrix-run")
        self.dismiss(cell.turn_id)

    async def action_view(self) -> None:
        from banana_studio.tui.screens.viewer import ViewerScreen

        shown = [c for c in self.cells if c.image_path is not None]
        cell = self._focused_cell()
        if cell not in shown:
            self.notify("That cell has no picture (yet).", severity="warning")
            return
        titles = [f"#{c.turn_id} {c.tooltip or ''}" for c in shown]
        await self.app.push_screen(ViewerScreen([c.image_path for c in shown], shown.index(cell),  # type: ignore[arg-type]
                                                titles=titles))

    async def action_refresh(self) -> None:
        if self.running or self.run_id is None:
            return
        await self.reload()

    def action_close(self) -> None:
        if self.running:
            self.workers.cancel_group(self, "matrix-run")
            self.notify("Cancelled the cells still running.", title="Template run")
            return
        self.dismiss(None)


async def open_run_grid(screen: Screen[Any], studio: Studio, turn_id: int) -> int | None:
    """Show the template run that made ``turn_id`` as a grid (from the main screen or the gallery);
    the turn id of the cell picked there, or None (also when no run made that turn: said)."""
    from banana_studio.services.templates import run_for_turn

    found = await asyncio.to_thread(run_for_turn, studio.store, turn_id)
    if found is None:
        screen.notify(f"Turn #{turn_id} was not made by a template run.", severity="warning")
        return None
    return await screen.app.push_screen_wait(MatrixGridScreen(studio, run_id=found[0]))
