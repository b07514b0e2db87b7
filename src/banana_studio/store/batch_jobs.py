"""Batch job records: one small JSON file per job, ``<project>/batches/<job-id>.json``.

The record is the source of truth for resuming a job: it is written (atomically) the moment the API
names the job, and again as each request's turn is created and completed.  One file per job, so two
studio processes never fight over a shared table.  Sync: async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from banana_studio.domain.batch_job import BatchRecord
from banana_studio.domain.target import DEMO_TARGET_TEXT
from banana_studio.store.files import atomic_write

BATCH_DIR = "batches"


def record_path(project_dir: Path, record: BatchRecord) -> Path:
    return Path(project_dir) / BATCH_DIR / f"{record.job_id}.json"


def results_path(project_dir: Path, record: BatchRecord) -> Path:
    """Where a file-mode job's results are streamed to (kept for a resumed import)."""
    return Path(project_dir) / BATCH_DIR / f"{record.job_id}.results.jsonl"


def save_record(project_dir: Path, record: BatchRecord) -> None:
    """Write ``record`` atomically (its ``updated_at`` set to now)."""
    record.updated_at = time.time()
    data = json.dumps(record.to_json(), indent=1, ensure_ascii=False).encode("utf-8")
    atomic_write(record_path(project_dir, record), data, tmp_dir=Path(project_dir) / ".tmp")


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
    """Estimated cost of a project's submitted batch jobs that have not been imported yet (real money:
    a job the local demo server runs costs nothing)."""
    return round(sum(r.estimate for r in load_records(project_dir)
                     if not r.finished and not r.target.startswith(DEMO_TARGET_TEXT)), 6)


def find_record(project_dir: Path, name: str) -> BatchRecord | None:
    """The record of job ``name`` (``batches/<id>`` or ``<id>``), or None."""
    want = name.rsplit("/", 1)[-1]
    return next((r for r in load_records(project_dir) if r.job_id == want), None)
