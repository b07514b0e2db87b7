"""Batch jobs screen: the project's Batch API jobs, live progress, submit a prompts file, cancel.

Polling is done by the app's :class:`~banana_studio.tui.batch_watch.BatchWatcher` (for the whole
session, not only while this screen is open); the screen listens to it, and finished jobs are
imported as turns automatically.  All network and
file work runs in workers; the screen never blocks.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, RichLog, Static

from banana_studio.config import redact
from banana_studio.domain.words import plural
from banana_studio.services.batch import (
    VERTEX_BATCH_TEXT,
    BatchError,
    BatchLane,
    BatchProgress,
    BatchRecord,
    parse_prompts,
)
from banana_studio.services.batch_input import search_price_note
from banana_studio.services.batch_results import CANCEL_CONFIRM_TEXT, cancel_outcome_text
from banana_studio.tui import actions
from banana_studio.tui.batch_watch import BatchWatcher
from banana_studio.tui.budget_guard import budget_allows
from banana_studio.tui.screens.confirm import ConfirmScreen, TextPromptScreen

if TYPE_CHECKING:
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import Studio
    from banana_studio.tui.app import StudioApp

__all__ = ["BatchScreen", "BatchWatcher"]

COLUMNS = ("Job", "State", "Progress", "Prompts", "Submitted", "Estimate", "Imported")
WIDTHS = (24, 10, 8, 7, 11, 9, 18)
_STATE_STYLE = {"imported": "green", "succeeded": "green", "failed": "red", "cancelled": "yellow",
                "expired": "red", "lost": "red", "running": "cyan", "pending": "cyan"}


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%m-%d %H:%M") if ts else "-"


class BatchScreen(Screen[bool]):
    """Dismisses with True when turns were imported (the caller reloads its tree)."""

    BINDINGS = actions.bindings("batch")

    def __init__(self, studio: Studio, settings: GenerationSettings | None = None) -> None:
        super().__init__()
        self.studio = studio
        self.lane = BatchLane(studio)
        self.settings = settings if settings is not None else studio.config.defaults
        self.records: dict[str, BatchRecord] = {}
        self.imported_any = False
        self._last_state: dict[str, str] = {}
        self._last_note: dict[str, str] = {}

    @property
    def vertex(self) -> bool:
        return bool(getattr(self.studio.target, "vertex", False))

    @property
    def watcher(self) -> BatchWatcher:
        return cast("StudioApp", self.app).batch_watcher_for(self.studio)

    @property
    def progress(self) -> dict[str, BatchProgress]:
        return self.watcher.progress

    def compose(self) -> ComposeResult:
        tail = ("not available on Vertex AI: batch jobs need the Gemini API" if self.vertex
                else "half price, results usually within hours")
        yield Static(Text.assemble(("Batch jobs", "bold"), f" · project {self.studio.store.name} · {tail}"),
                     id="batch-title", classes="screen-title")
        table: DataTable[Any] = DataTable(id="batch-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield ProgressBar(id="batch-progress", show_eta=False)
        yield RichLog(id="batch-log", wrap=True, markup=False)
        yield Static("n: submit a prompts file (.txt one per line, .jsonl) · c: cancel · r: refresh · Esc: back",
                     id="batch-hint", classes="screen-hint")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col, width in zip(COLUMNS, WIDTHS, strict=True):
            table.add_column(col, key=col, width=width)
        self.query_one(ProgressBar).display = False
        self.watcher.listeners.append(self)
        self._load()

    def on_unmount(self) -> None:
        with contextlib.suppress(ValueError):
            self.watcher.listeners.remove(self)

    # -- data ---------------------------------------------------------------------------------------
    def log_line(self, text: str) -> None:
        self.query_one(RichLog).write(Text(f"{time.strftime('%H:%M:%S')}  {redact(text)}"))

    @work(group="batch-load", exclusive=True, exit_on_error=False)
    async def _load(self) -> None:
        records = await asyncio.to_thread(self.lane.records)
        for r in records:
            self._put(r)
        if self.vertex:
            self.log_line(VERTEX_BATCH_TEXT)
        elif not records:
            self.log_line("No batch jobs in this project yet. Press n to submit a prompts file.")
        for r in records:
            if not r.finished:
                self._watch(r)

    def _cells(self, r: BatchRecord) -> tuple[Any, ...]:
        p = self.progress.get(r.name)
        state = "lost" if r.state == "LOST" else r.short_state
        frac = p.fraction if p is not None else None
        if r.imported:
            prog = "100%"
        elif frac is not None:
            prog = f"{frac * 100:.0f}%"
        elif p is not None:
            secs = int(p.elapsed)
            prog = f"{secs // 60}:{secs % 60:02d}"
        else:
            prog = "-"
        ok = sum(1 for i in r.items if i.status == "done")
        bad = sum(1 for i in r.items if i.status == "failed")
        return (r.name, Text(state, style=_STATE_STYLE.get(state, "")), prog, str(len(r.items)),
                _when(r.created_at), f"${r.estimate:.3f}", f"{ok} ok / {bad} failed" if (ok or bad) else "-")

    def _put(self, r: BatchRecord) -> None:
        self.records[r.name] = r
        table = self.query_one(DataTable)
        cells = self._cells(r)
        if r.name in table.rows:
            for col, value in zip(COLUMNS, cells, strict=True):
                table.update_cell(r.name, col, value)
        else:
            table.add_row(*cells, key=r.name)

    def _selected(self) -> BatchRecord | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.records.get(str(key)) if key is not None else None

    def _show_bar(self, p: BatchProgress) -> None:
        sel = self._selected()
        bar = self.query_one(ProgressBar)
        if sel is None or sel.name != p.record.name:
            return
        frac = p.fraction
        bar.display = True
        if frac is None:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=frac * 100)

    # -- polling (done by the app-wide watcher; this screen listens) --------------------------------
    def _watch(self, record: BatchRecord) -> None:
        if self.watcher.watch(record):
            self.log_line(f"Watching {record.name} ({plural(len(record.items), 'prompt')}, {record.short_state}).")

    def batch_progress(self, p: BatchProgress) -> None:
        if not self.is_mounted:
            return
        self._put(p.record)
        self._show_bar(p)
        if self._last_state.get(p.record.name) != p.state:
            self.log_line(f"{p.record.name}: {p.state.removeprefix('JOB_STATE_').lower()}")
        self._last_state[p.record.name] = p.state
        if p.note and self._last_note.get(p.record.name) != p.note.split(",")[0]:
            self.log_line(f"{p.record.name}: {p.note}")  # e.g. still waiting; Google answered 503 at 14:02
        self._last_note[p.record.name] = p.note.split(",")[0] if p.note else ""

    def batch_finished(self, record: BatchRecord, error: str) -> None:
        if not self.is_mounted:
            return
        self._put(record)
        if error:
            self.log_line(error)
        elif record.imported:
            self.imported_any = True
            ok = sum(1 for i in record.items if i.status == "done")
            self.log_line(f"{record.name}: imported {ok} of {len(record.items)} as turns.")
        elif record.error:
            self.log_line(f"{record.name}: {record.error}")

    @on(DataTable.RowHighlighted)
    def _row(self, event: DataTable.RowHighlighted) -> None:
        r = self._selected()
        if r is not None and r.name in self.progress:
            self._show_bar(self.progress[r.name])
        elif r is not None and r.imported:
            self.query_one(ProgressBar).display = True
            self.query_one(ProgressBar).update(total=100, progress=100)

    # -- actions ------------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self._load()

    def action_new(self) -> None:
        if self.vertex:  # say it before asking for a file, not after
            self.notify(VERTEX_BATCH_TEXT, title="Batch needs the Gemini API", severity="warning")
            return

        def done(path: str | None) -> None:
            if path:
                self._submit(Path(path).expanduser())

        self.app.push_screen(TextPromptScreen(
            "New batch job", "Prompts file (.txt: one prompt per line; .jsonl: {\"prompt\": …} per line). "
            "Uses the current settings; billed at half price:", placeholder="~/prompts.txt"), done)

    @work(group="batch-submit", exclusive=True, exit_on_error=False)
    async def _submit(self, path: Path) -> None:
        try:
            prompts = await asyncio.to_thread(parse_prompts, path, self.settings)
        except BatchError as exc:
            self.notify(str(exc), title="Cannot read the prompts", severity="error")
            return
        est = self.lane.estimate(prompts)
        if not await budget_allows(self.app, self.studio, self.settings, len(prompts), batch=True, estimate=est):
            return
        self.log_line(f"Submitting {plural(len(prompts), 'prompt')} from {path.name} (~${est:.3f})…")
        if note := search_price_note(prompts):
            self.log_line(note)
        try:
            record = await self.lane.submit(prompts)
        except BatchError as exc:
            self.log_line(str(exc))
            self.notify(str(exc), title="Batch not submitted", severity="error")
            return
        self._put(record)
        self.log_line(f"Submitted {record.name} ({record.mode_reason or record.input_mode}); its id is saved in "
                      "the project.")
        self._watch(record)

    def action_cancel_job(self) -> None:
        r = self._selected()
        if r is None or r.finished or r.done:
            self.notify("Select a pending or running job to cancel.", severity="warning")
            return

        async def done(yes: bool | None) -> None:
            if not yes:
                return
            try:
                record = await self.lane.cancel(r)
            except BatchError as exc:
                self.notify(str(exc), title="Cancel failed", severity="error")
                return
            self._put(record)
            self.log_line(cancel_outcome_text(record.name, record.short_state, record.done))

        self.app.push_screen(ConfirmScreen("Cancel batch job", f"Cancel {r.name}? {CANCEL_CONFIRM_TEXT}",
                                           yes="Cancel job", no="Keep", danger=True), done)

    def action_close(self) -> None:
        if self.watcher.watching:
            self.notify("Waiting continues in the background; results are imported when ready.", title="Batch")
        self.dismiss(self.imported_any)
