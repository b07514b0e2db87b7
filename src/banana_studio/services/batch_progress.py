"""The progress of a batch job, as a display shows it (CLI line, TUI screen)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from banana_studio.domain.batch_job import BatchRecord
from banana_studio.domain.words import plural
from banana_studio.engine.batch import JobView

TRANSIENT_KINDS = {"network": "Google could not be reached", "timeout": "Google did not answer in time",
                   "truncated": "Google's answer was cut off", "malformed": "Google's answer was garbled"}
"""Status-check failures that pass (besides the lane's TRANSIENT_STATUS), and how the progress line says them."""


class TransientPollError(Exception):
    """A status check failed in a way that passes (408/429/5xx, network, timeout, a cut or garbled answer):
    keep waiting."""

    def __init__(self, code: int | None, message: str, kind: str = "network") -> None:
        super().__init__(message)
        self.code = code
        self.kind = kind

    @property
    def what(self) -> str:
        """``Google answered 503`` / ``Google did not answer in time`` …"""
        if self.code:
            return f"Google answered {self.code}"
        return TRANSIENT_KINDS.get(self.kind, "Google could not be reached")


@dataclass(slots=True)
class BatchProgress:
    """What a progress display needs (CLI line, TUI screen)."""

    record: BatchRecord
    state: str
    elapsed: float
    total: int
    succeeded: int | None = None
    failed: int | None = None
    pending: int | None = None
    imported: int = 0
    phase: str = "waiting"
    """waiting | importing | done"""
    note: str = ""
    """A passing problem while waiting, e.g. "Google answered 503 at 14:02; still waiting"."""

    @property
    def finished_requests(self) -> int | None:
        """Requests the API reports as finished (from batchStats), if it says."""
        if self.succeeded is not None or self.failed is not None:
            return (self.succeeded or 0) + (self.failed or 0)
        if self.pending is not None:
            return max(0, self.total - self.pending)
        return None

    @property
    def fraction(self) -> float | None:
        if self.phase in ("importing", "done") and self.imported:
            return self.imported / max(1, self.total)
        done = self.finished_requests
        return None if done is None else done / max(1, self.total)

    def line(self) -> str:
        mins, secs = divmod(int(self.elapsed), 60)
        hours, mins = divmod(mins, 60)
        clock = f"{hours}:{mins:02d}:{secs:02d}" if hours else f"{mins}:{secs:02d}"
        state = self.state.removeprefix("JOB_STATE_").lower()
        bits = [f"{self.record.name}", state, clock]
        done = self.finished_requests
        if self.phase in ("importing", "done") and self.imported:
            bits.append(f"imported {self.imported}/{self.total}")
        elif self.phase == "done":
            bits.append("results ready" if state in ("succeeded", "partially_succeeded") else "no results")
        elif done is not None:
            bits.append(f"{done}/{self.total} requests done" + (f", {self.failed} failed" if self.failed else ""))
        else:
            bits.append(plural(self.total, "request"))
        frac = self.fraction
        if frac is not None:
            filled = round(frac * 20)
            bits.insert(0, "[" + "#" * filled + "-" * (20 - filled) + "]")
        if self.note:
            bits.append(f"— {self.note}")
        return "  ".join(bits)


ProgressCallback = Callable[[BatchProgress], Awaitable[None] | None]


def progress_of(record: BatchRecord, view: JobView | None, start: float, total: int) -> BatchProgress:
    """One consistent progress reading: state and counts from the same answer."""
    v = view or JobView(record.name, record.state)
    return BatchProgress(record, v.state if view else record.state, time.time() - start, total, v.succeeded,
                         v.failed, v.pending, phase="done" if record.done else "waiting")


async def emit_progress(cb: ProgressCallback | None, progress: BatchProgress) -> None:
    if cb is None:
        return
    result = cb(progress)
    if asyncio.iscoroutine(result):
        await result
