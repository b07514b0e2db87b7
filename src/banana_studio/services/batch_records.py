"""Batch job records (``<project>/batches/<job-id>.json``) and the progress a display shows."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from banana_studio.domain.turn import Reference
from banana_studio.engine.batch import DONE_STATES

BATCH_DIR = "batches"
LOST = "LOST"
"""Local state: the API no longer knows the job (expired, deleted, or a demo server that restarted)."""


# -- records ----------------------------------------------------------------------------------------

@dataclass(slots=True)
class BatchItem:
    key: str
    prompt: str
    settings: dict[str, Any]
    references: list[dict[str, str]] = field(default_factory=list)
    parent_id: int | None = None
    turn_id: int | None = None
    status: str = "submitted"
    """submitted | done | failed (after import)."""
    error: str = ""

    def reference_objs(self) -> list[Reference]:
        return [Reference(**r) for r in self.references]


@dataclass(slots=True)
class BatchRecord:
    """A submitted job, as persisted in ``<project>/batches/<job-id>.json``."""

    name: str
    """The API's job name, ``batches/<id>``."""
    model: str
    display_name: str
    created_at: float
    target: str
    """Where it was submitted (label and base URL, for messages)."""
    input_mode: str
    """inline | file"""
    estimate: float
    items: list[BatchItem]
    state: str = "JOB_STATE_PENDING"
    updated_at: float = 0.0
    imported: bool = False
    """True once every item has a finished turn."""
    error: str = ""
    input_file: str = ""
    mode_reason: str = ""
    """Why inline or file mode was chosen (shown at submit)."""

    @property
    def job_id(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES or self.state == LOST

    @property
    def finished(self) -> bool:
        """Nothing more will happen: imported, or ended without results to import."""
        return self.imported or self.state == LOST or (self.done and self.state != "JOB_STATE_SUCCEEDED"
                                                       and self.state != "JOB_STATE_PARTIALLY_SUCCEEDED")

    @property
    def short_state(self) -> str:
        if self.imported:
            return "imported"
        return self.state.removeprefix("JOB_STATE_").lower()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> BatchRecord:
        items = [BatchItem(**i) for i in obj.get("items", [])]
        known = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__ and k != "items"}
        return cls(items=items, **known)


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
            bits.append(f"{self.total} request(s)")
        frac = self.fraction
        if frac is not None:
            filled = round(frac * 20)
            bits.insert(0, "[" + "#" * filled + "-" * (20 - filled) + "]")
        if self.note:
            bits.append(f"— {self.note}")
        return "  ".join(bits)


ProgressCallback = Callable[[BatchProgress], Awaitable[None] | None]


def load_records(project_dir: Path) -> list[BatchRecord]:
    """Every batch job record of a project, oldest first (unreadable records are skipped)."""
    out: list[BatchRecord] = []
    try:
        files = sorted((Path(project_dir) / BATCH_DIR).glob("*.json"))
    except OSError:
        return out
    for f in files:
        try:
            out.append(BatchRecord.from_json(json.loads(f.read_text(encoding="utf-8"))))
        except (OSError, ValueError, TypeError):
            continue
    out.sort(key=lambda r: r.created_at)
    return out


def pending_batch_cost(project_dir: Path) -> float:
    """Estimated cost of a project's submitted batch jobs that have not been imported yet."""
    return round(sum(r.estimate for r in load_records(project_dir) if not r.finished), 6)
