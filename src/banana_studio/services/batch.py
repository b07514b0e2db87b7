"""The batch lane: submit many prompts as one Gemini Batch API job (half price) and import the results.

Life of a job::

    prompts.txt / prompts.jsonl ──parse_prompts──▶ [BatchPrompt]
        ──BatchLane.submit──▶ Batch API job (inline requests, or an uploaded JSONL file when large)
        ──record written to <project>/batches/<job-id>.json right after creation (store/batch_jobs.py)──
        ──BatchLane.wait / poll (state, progress)──▶ SUCCEEDED
        ──BatchLane.import_results──▶ one turn per request (kind "batch", cost at the batch price)

The record is the source of truth for resuming: creation is not idempotent (never re-submit), so
the job name is persisted the moment the API returns it.  Importing is idempotent: each request's
turn id is written to the record as soon as the turn exists, and a resumed import completes that
same turn instead of creating another.  Records are one small JSON file per job, written
atomically, so two studio processes never fight over a shared table.

No Textual; google-genai is only reached through the engine's lazily built client.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.config import redact
from banana_studio.domain.batch_job import LOST, BatchItem, BatchRecord
from banana_studio.domain.content import user_content
from banana_studio.domain.events import EngineError, Failed, Finished, Grounding, Usage
from banana_studio.domain.named_refs import annotate
from banana_studio.domain.settings import MAX_REQUEST_BYTES, GenerationSettings
from banana_studio.domain.turn import Turn
from banana_studio.domain.words import plural
from banana_studio.engine import batch as api
from banana_studio.engine import map_error
from banana_studio.engine.batch import JobView
from banana_studio.engine.runner import TurnAssembler
from banana_studio.services.batch_input import MAX_PROMPTS, BatchError, BatchPrompt, parse_prompts
from banana_studio.services.batch_progress import (
    TRANSIENT_KINDS,
    BatchProgress,
    ProgressCallback,
    TransientPollError,
    emit_progress,
    progress_of,
)
from banana_studio.services.batch_requests import batch_requests
from banana_studio.services.batch_results import Results, index_lines, job_failure_text, keep_longer, request_error_text
from banana_studio.services.budget import request_estimate
from banana_studio.services.completion import batch_cost, complete_turn
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store.batch_jobs import (
    BATCH_DIR,
    find_record,
    load_records,
    pending_batch_cost,
    results_path,
    save_record,
)

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.services.studio import Studio

INLINE_LIMIT = int(MAX_REQUEST_BYTES * 0.9)
"""Above this total request size the requests go in an uploaded JSONL file instead of inline."""
RESULT_INLINE_LIMIT = 16 * 1024 * 1024
"""Above this expected size of the *results* (images come back base64 in the job resource) the job
uses file mode: a finished inline job with ~1,000 images can time out on every status check (503),
so its paid images could never be fetched.  Google recommends a JSONL input file for large image
batches."""
TYPICAL_IMAGE_BYTES = {"0.5K": 600_000, "512": 600_000, "1K": 2_000_000, "2K": 7_000_000, "4K": 24_000_000}
"""Typical base64 size of one result image (with its thought signature) per image size."""
JOB_LIFETIME = 48 * 3600.0
"""A job ends (EXPIRED at the latest) within 48 h; polling gives up only well after that."""
POLL_BACKOFF_CAP = 600.0
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
DOWNLOAD_RETRY_BASE = 0.5
"""First pause (seconds) before retrying a failed results download; doubles per attempt."""
VERTEX_BATCH_TEXT = ("Batch jobs need the Gemini API: this lane uses its inline/file batch jobs (half price), "
                     "and Vertex AI batch prediction (Cloud Storage / BigQuery input) is not supported. Unset "
                     "GOOGLE_GENAI_USE_ENTERPRISE / GOOGLE_GENAI_USE_VERTEXAI and use a Gemini API key for batch "
                     "jobs.")


__all__ = ["BATCH_DIR", "LOST", "MAX_PROMPTS", "BatchError", "BatchItem", "BatchLane", "BatchProgress",
           "BatchPrompt", "BatchRecord", "ProgressCallback", "TransientPollError", "batch_cost", "load_records",
           "parse_prompts", "pending_batch_cost"]


def expected_result_bytes(settings: list[GenerationSettings]) -> int:
    """Rough size of what the job will send back: one typical image (base64) per request."""
    return sum(TYPICAL_IMAGE_BYTES.get(st.image_size, 2_000_000) + 4096 for st in settings)


def choose_mode(request_bytes: int, result_bytes: int, n: int) -> tuple[str, str]:
    """(inline | file, why) — by the size of the requests *and* of the expected results."""
    mb = 1024 * 1024
    if request_bytes > INLINE_LIMIT:
        return "file", (f"file mode: the requests are {request_bytes / mb:.0f} MB, over the "
                        f"{INLINE_LIMIT / mb:.0f} MB inline limit")
    if result_bytes > RESULT_INLINE_LIMIT:
        return "file", (f"file mode: about {result_bytes / mb:,.0f} MB of images will come back for {n} "
                        "requests; Google recommends an input file for large image batches (big inline "
                        "results can time out on every status check)")
    return "inline", f"inline: {plural(n, 'request')}, about {result_bytes / mb:.0f} MB of results expected"


# -- the lane ---------------------------------------------------------------------------------------

class BatchLane:
    """Batch jobs of one Studio's project.  All store / file work runs in threads."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store: ProjectStore = studio.store

    # records (kept by the store: banana_studio.store.batch_jobs)
    def save(self, record: BatchRecord) -> None:
        save_record(self.store.path, record)

    def records(self) -> list[BatchRecord]:
        """Every job of the project, oldest first (unreadable records are skipped)."""
        return load_records(self.store.path)

    def unfinished(self) -> list[BatchRecord]:
        return [r for r in self.records() if not r.finished]

    def get(self, name: str) -> BatchRecord:
        found = find_record(self.store.path, name)
        if found is None:
            raise BatchError(f"No batch job {name!r} in project {self.store.name!r}.")
        return found

    # submit
    def estimate(self, prompts: list[BatchPrompt]) -> float:
        return round(sum(request_estimate(p.settings, 1, len(p.references), batch=True) for p in prompts), 6)

    async def _client(self) -> Any:
        target = await self.studio.ready_target()
        return await target.aclient()

    async def submit(self, prompts: list[BatchPrompt], *, display_name: str = "") -> BatchRecord:
        """Validate every prompt, copy references into the project, create the job, persist the record.

        Raises :class:`BatchError` (nothing submitted) for invalid prompts; API failures are mapped to
        clear messages (key redacted)."""
        if not prompts:
            raise BatchError("Nothing to submit.")
        if self.studio.target.vertex:
            raise BatchError(VERTEX_BATCH_TEXT)
        model = prompts[0].settings.model
        if any(p.settings.model != model for p in prompts):
            raise BatchError("A batch job uses one model; these prompts name several.")
        items, requests, total = await batch_requests(self.store, prompts, self.studio.target_kind)
        mode, why = choose_mode(total, expected_result_bytes([p.settings for p in prompts]), len(prompts))
        display = display_name or f"banana-studio {self.store.name} {time.strftime('%Y-%m-%d %H:%M')}"
        client = await self._client()
        secrets = self.studio.target.secrets()
        try:
            name, state, input_file = await api.create_job(client, model, requests, mode=mode, display_name=display)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            err = map_error(exc, model=model, secrets=secrets)
            raise BatchError(f"The batch job could not be created: {redact(err.message, secrets)}", 1) from None
        record = BatchRecord(
            name=name, model=model, display_name=display, created_at=time.time(),
            target=self._target_text(), input_mode=mode, estimate=self.estimate(prompts), items=items,
            state=state, input_file=input_file, mode_reason=why)
        await asyncio.to_thread(self.save, record)
        return record

    def _target_text(self) -> str:
        t = self.studio.target
        return f"{t.label} {t.base_url}".strip() if t.base_url else t.label

    # poll
    async def poll(self, record: BatchRecord) -> tuple[BatchRecord, JobView | None]:
        """One status check (one GET); returns (record updated + saved, the job view or None if lost).

        Raises :class:`BatchError` for a permanent failure; transient ones (408/429/5xx, network)
        propagate as :class:`TransientPollError` so :meth:`wait` can keep waiting."""
        client = await self._client()
        secrets = self.studio.target.secrets()
        try:
            view = await api.get_job(client, record.name)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code == 404:
                record.state = LOST
                record.error = (f"{record.target} no longer knows {record.name} (expired or deleted; jobs of the "
                                "demo server live only as long as that server).")
                await asyncio.to_thread(self.save, record)
                return record, None
            err = map_error(exc, model=record.model, secrets=secrets)
            if err.kind in TRANSIENT_KINDS or (isinstance(code, int) and code in TRANSIENT_STATUS):
                raise TransientPollError(code if isinstance(code, int) else None, err.message, err.kind) from None
            raise BatchError(f"Could not check the status of {record.name}: {err.message}", 1) from None
        record.state = view.state
        if view.state in ("JOB_STATE_FAILED", "JOB_STATE_EXPIRED", "JOB_STATE_CANCELLED"):
            record.error = redact(job_failure_text(view), secrets)
        await asyncio.to_thread(self.save, record)
        return record, view

    async def wait(self, record: BatchRecord, *, interval: float = 10.0, progress: ProgressCallback | None = None,
                   import_results: bool = True) -> BatchRecord:
        """Poll until the job ends, then import its results.  Cancelling the caller leaves the job
        running on the server (resume later with :meth:`wait` on the record).

        Transient errors on a status check (408/429/5xx, network, timeouts, cut or garbled answers) never
        end the wait: the next check backs off (with jitter) up to :data:`POLL_BACKOFF_CAP`, and the
        progress line says what Google answered and when, for as long as the job can live."""
        start = record.created_at or time.time()
        total = len(record.items)
        view: JobView | None = None
        misses = 0
        while True:
            try:
                record, view = await self.poll(record)
            except TransientPollError as exc:
                misses += 1
                if time.time() - start > JOB_LIFETIME + 6 * 3600:
                    raise BatchError(f"Could not check {record.name} for hours ({exc}); the job has outlived "
                                     "Google's 48 h limit. Try `banana-studio batch --resume` later.", 1) from None
                delay = min(POLL_BACKOFF_CAP, max(0.0, interval) * (2 ** min(misses, 10)))
                delay *= random.uniform(0.5, 1.0)
                when = time.strftime("%H:%M", time.localtime())
                note = (f"still waiting; {exc.what} at {when} to a status check"
                        + (f", checking again in {delay:.0f} s" if delay >= 1 else ""))
                await emit_progress(progress, BatchProgress(record, record.state, time.time() - start, total,
                                                            phase="waiting", note=note))
                await asyncio.sleep(delay)
                continue
            misses = 0
            await emit_progress(progress, progress_of(record, view, start, total))
            if record.done:
                break
            await asyncio.sleep(max(0.0, interval))
        if import_results and view is not None and record.state in ("JOB_STATE_SUCCEEDED",
                                                                    "JOB_STATE_PARTIALLY_SUCCEEDED"):
            await self.import_results(record, view, progress=progress, started=start)
        return record

    # import
    def results_path(self, record: BatchRecord) -> Path:
        """Where a file-mode job's results are streamed to (kept for a resumed import)."""
        return results_path(self.store.path, record)

    async def _download(self, client: Any, record: BatchRecord, file_name: str) -> tuple[Path, bool]:
        """Stream the results file to disk; (path, complete).  A failed download leaves the part file (the
        longest any attempt brought): its complete lines are imported now, the rest on a resumed import."""
        done = self.results_path(record)
        if done.exists():
            return done, True
        part = done.with_name(done.name + ".part")
        trying = done.with_name(done.name + ".try")
        secrets = self.studio.target.secrets()
        last = ""
        for attempt in range(5):
            try:
                await api.download_results(client, file_name, trying)
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                await asyncio.to_thread(keep_longer, trying, part)
                err = map_error(exc, model=record.model, secrets=secrets)
                code = getattr(exc, "code", None)
                last = err.message
                if code == 404 or code == 403:
                    raise BatchError(f"The results file {file_name} of {record.name} is gone ({err.message}); "
                                     "Google keeps results for a limited time.", 1) from None
                if not (err.retryable or err.kind in ("network", "truncated")):
                    break
                await asyncio.sleep(min(30.0, DOWNLOAD_RETRY_BASE * (2 ** attempt)) * random.uniform(0.5, 1.0))
                continue
            await asyncio.to_thread(trying.replace, done)
            part.unlink(missing_ok=True)
            return done, True
        record.error = redact(f"The results download did not finish ({last})", secrets)
        return part, False

    async def _results(self, client: Any, view: JobView, record: BatchRecord) -> tuple[Results, bool]:
        """key → result, and whether every result was received."""
        if view.inlined is not None:
            out = Results()
            for i, r in enumerate(view.inlined):
                fallback = record.items[i].key if i < len(record.items) else f"#{i}"
                key = str((r.get("metadata") or {}).get("key") or fallback)
                out.inline.setdefault(key, (r.get("response"), r.get("error")))
            return out, True
        if view.result_file:
            path, complete = await self._download(client, record, view.result_file)
            index = await asyncio.to_thread(index_lines, path)
            return index, complete
        return Results(), True

    async def import_results(self, record: BatchRecord, view: JobView | None = None, *,
                             progress: ProgressCallback | None = None, started: float | None = None) -> list[Turn]:
        """Create (or complete) one turn per request.  Idempotent and resumable; returns the turns
        touched now.  With a partly downloaded results file the received results are imported and a
        :class:`BatchError` says to import again for the rest."""
        client = await self._client()
        if view is None:
            record, view = await self.poll(record)
            if view is None or not record.done:
                raise BatchError(f"{record.name} is {record.short_state}; nothing to import yet.", 1)
        results, complete = await self._results(client, view, record)
        touched: list[Turn] = []
        total = len(record.items)
        start = started or record.created_at
        missing = 0
        for n, item in enumerate(record.items, 1):
            if item.status in ("done", "failed") and item.turn_id is not None:
                continue
            found = await asyncio.to_thread(results.get, item.key)
            if found is None and not complete:
                missing += 1
                continue
            resp, error = found or (None, None)
            turn = await self._import_item(record, item, resp, error)
            touched.append(turn)
            await emit_progress(progress, BatchProgress(record, record.state, time.time() - start, total,
                                                        imported=n, phase="importing"))
        record.imported = all(i.status in ("done", "failed") for i in record.items)
        await asyncio.to_thread(self.save, record)
        await emit_progress(progress, BatchProgress(record, record.state, time.time() - start, total,
                                                    imported=total - missing, phase="done"))
        if missing:
            raise BatchError(f"{record.error or 'The results download did not finish'}. Imported what arrived; "
                             f"{plural(missing, 'result')} still to fetch: run `banana-studio batch --resume` "
                             "again.", 1)
        return touched

    async def _import_item(self, record: BatchRecord, item: BatchItem, resp: Any, error: Any) -> Turn:
        store = self.store
        settings = GenerationSettings.from_json(item.settings)
        refs = item.reference_objs()
        if item.turn_id is None:
            images: list[tuple[bytes, str]] = []
            for r in refs:
                with contextlib.suppress(ProjectError):
                    images.append((await asyncio.to_thread(store.reference_bytes, r), r.mime_type))
            user = user_content(annotate(item.prompt, [r.named for r in refs]), images)  # as it was sent
            parent = item.parent_id
            if parent is not None:
                try:
                    await asyncio.to_thread(store.get_turn, parent)
                except ProjectError:
                    parent = None  # the parent branch was deleted meanwhile: import as a new root
            turn = await asyncio.to_thread(store.create_turn, parent, item.prompt, settings, refs, user, "batch",
                                           self.studio.target_kind.value)
            item.turn_id = turn.id
            await asyncio.to_thread(self.save, record)  # the id is durable before any further work
        assert item.turn_id is not None
        secrets = self.studio.target.secrets()
        if resp is None:
            msg = (request_error_text(error) if error is not None
                   else "The batch job returned no result for this prompt.")
            events: list[Any] = [Failed(EngineError("batch", msg))]
        else:
            asm = TurnAssembler(secrets)
            try:  # parsed by the streaming path's converter (keeps finishMessage); images verified
                events = await asyncio.to_thread(lambda: asm.feed_checked(api.parse_response(resp)) + asm.finish())
            except Exception as exc:  # a result the SDK cannot read: a failed turn, not a crash
                events = [Failed(map_error(exc, model=settings.model, secrets=secrets))]
        usage = next((e for e in events if isinstance(e, Usage)), None)
        grounding = next((e for e in events if isinstance(e, Grounding)), None)
        last = events[-1] if events else None
        if not isinstance(last, (Finished, Failed)):
            last = Failed(EngineError("no_image", "Empty batch result."))
        saved, outcome = await complete_turn(store, item.turn_id, last, settings, usage, grounding,
                                             secrets=secrets, batch=True)
        item.status = outcome.status
        item.error = outcome.error
        await asyncio.to_thread(self.save, record)
        return saved

    async def cancel(self, record: BatchRecord) -> BatchRecord:
        client = await self._client()
        try:
            await api.cancel_job(client, record.name)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            err = map_error(exc, model=record.model, secrets=self.studio.target.secrets())
            raise BatchError(f"Could not cancel {record.name}: {err.message}", 1) from None
        with contextlib.suppress(TransientPollError):
            record, _ = await self.poll(record)
        return record
