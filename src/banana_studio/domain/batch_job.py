"""A Batch API job as the project remembers it: its requests, their turns, and the job's state.

Pure data (JSON in and out); :mod:`banana_studio.store.batch_jobs` keeps the records on disk and the
engine reads the job states of the API (:data:`DONE_STATES`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from banana_studio.domain.turn import Reference

DONE_STATES = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
               "JOB_STATE_PARTIALLY_SUCCEEDED")
"""API job states after which nothing more happens to a job."""
LOST = "LOST"
"""Local state: the API no longer knows the job (expired, deleted, or a demo server that restarted)."""


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
