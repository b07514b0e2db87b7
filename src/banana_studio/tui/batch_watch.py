"""Batch API jobs are waited for in the background, for the whole app session."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from banana_studio.config import redact
from banana_studio.services.batch import BatchError, BatchLane, BatchProgress, BatchRecord
from banana_studio.tui.messages import BatchImported

if TYPE_CHECKING:
    from textual.app import App

    from banana_studio.services import Studio


class BatchWatcher:
    """Polls a studio's unfinished batch jobs for the whole app session (not just while the batch
    screen is open) and imports results when they are ready.  One per Studio, kept by the app
    (``StudioApp.batch_watcher_for``); it posts :class:`BatchImported` to the app when turns were imported."""

    DEMO_POLL: ClassVar[float] = 2.0
    """Seconds between status checks against the demo server (real jobs: ``POLL``)."""
    POLL: ClassVar[float] = 10.0

    def __init__(self, app: App[Any], studio: Studio) -> None:
        self.app = app
        self.studio = studio
        self.lane = BatchLane(studio)
        self.watching: set[str] = set()
        self.progress: dict[str, BatchProgress] = {}
        self.listeners: list[Any] = []
        """Objects with ``batch_progress(p)`` / ``batch_finished(record, error)`` (the open BatchScreen)."""

    @property
    def interval(self) -> float:
        return self.DEMO_POLL if self.studio.demo else self.POLL

    def watch(self, record: BatchRecord) -> bool:
        """Start polling ``record`` (no-op if already watched or finished).  True if started."""
        if record.name in self.watching or record.finished:
            return False
        self.watching.add(record.name)
        self.app.run_worker(self._wait(record), group=f"batch-{record.job_id}", exit_on_error=False)
        return True

    async def _wait(self, record: BatchRecord) -> None:
        def progress(p: BatchProgress) -> None:
            self.progress[p.record.name] = p
            for listener in list(self.listeners):
                listener.batch_progress(p)

        error = ""
        try:
            record = await self.lane.wait(record, interval=self.interval, progress=progress)
        except BatchError as exc:
            error = str(exc)
        except Exception as exc:  # e.g. the project was closed (switched) while waiting
            if getattr(self.studio.store, "_closed", False) or getattr(self.studio, "_closed", False):
                return  # the job stays recorded; the next time the project opens it is resumed
            error = redact(f"Batch polling stopped: {exc}")
        finally:
            self.watching.discard(record.name)
        for listener in list(self.listeners):
            listener.batch_finished(record, error)
        if error:
            self.app.notify(error, title="Batch", severity="error")
        elif record.imported:
            ok = sum(1 for i in record.items if i.status == "done")
            self.app.notify(f"{record.name}: imported {ok} of {len(record.items)} as turns.", title="Batch done")
            self.app.post_message(BatchImported(self.studio))
        elif record.error:
            self.app.notify(f"{record.name}: {record.error}", title="Batch", severity="warning")

    async def resume(self) -> int:
        """Watch every unfinished job of the project; returns how many."""
        records = await asyncio.to_thread(self.lane.unfinished)
        return sum(1 for r in records if self.watch(r))
