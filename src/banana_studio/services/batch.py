"""The batch lane: submit many prompts as one Gemini Batch API job (half price) and import the results.

Life of a job::

    prompts.txt / prompts.jsonl ──parse_prompts──▶ [BatchPrompt]
        ──BatchLane.submit──▶ Batch API job (inline requests, or an uploaded JSONL file when large)
        ──record written to <project>/batches/<job-id>.json right after creation──
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
import io
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.config import redact
from banana_studio.domain.catalogue import get_model
from banana_studio.domain.content import Content, b64encode, user_content
from banana_studio.domain.events import EngineError, Failed, Finished, Grounding, Usage
from banana_studio.domain.settings import MAX_REQUEST_BYTES, GenerationSettings
from banana_studio.domain.turn import Reference, Turn
from banana_studio.engine import actual_cost, build_request, map_error, request_size, validate_request
from banana_studio.engine.runner import TurnAssembler
from banana_studio.services.budget import request_estimate
from banana_studio.services.studio import _content_for_failure, _grounding_json
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store.files import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.services.studio import Studio

BATCH_DIR = "batches"
INLINE_LIMIT = int(MAX_REQUEST_BYTES * 0.9)
"""Above this total size the requests go in an uploaded JSONL file instead of inline."""
MAX_PROMPTS = 10_000
DONE_STATES = ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
               "JOB_STATE_PARTIALLY_SUCCEEDED")
LOST = "LOST"
"""Local state: the API no longer knows the job (expired, deleted, or a demo server that restarted)."""


class BatchError(Exception):
    """A batch problem with a message meant for the user.  ``exit_code``: 2 bad input, 1 API/job failure."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# -- input ------------------------------------------------------------------------------------------

@dataclass(slots=True)
class BatchPrompt:
    prompt: str
    settings: GenerationSettings
    references: list[Path] = field(default_factory=list)
    key: str = ""
    parent_id: int | None = None


_LINE_SETTING_KEYS = {"aspect": "aspect_ratio", "aspect_ratio": "aspect_ratio", "size": "image_size",
                      "image_size": "image_size", "seed": "seed", "temperature": "temperature",
                      "search": "google_search", "google_search": "google_search",
                      "system": "system_instruction", "system_instruction": "system_instruction"}


def parse_prompts(path: Path, defaults: GenerationSettings) -> list[BatchPrompt]:
    """Read a prompts file.

    ``.txt`` (or anything not ``.jsonl``/``.json``): one prompt per line; blank lines and lines starting
    with ``#`` are skipped.  ``.jsonl``: one JSON object per line, ``{"prompt": ..., "key": ...,
    "aspect": "16:9", "size": "2K", "seed": 1, "refs": ["a.png"], "parent": 12}`` (every field but
    ``prompt`` optional; a bare JSON string is a prompt too).  Relative ref paths are relative to the
    prompts file.  One model per job: a per-line ``model`` is refused.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchError(f"Prompts file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"Cannot read prompts file {path}: {exc}.") from None
    out: list[BatchPrompt] = []
    is_jsonl = path.suffix.lower() in (".jsonl", ".json", ".ndjson")
    keys: set[str] = set()
    rows: list[tuple[int, Any]] = []
    if is_jsonl and text.lstrip().startswith("["):  # a .json file holding one array of prompts
        try:
            array = json.loads(text)
        except ValueError as exc:
            raise BatchError(f"{path.name}: not valid JSON ({exc.msg}, line {exc.lineno}).") from None
        rows = [(i, obj) for i, obj in enumerate(array, 1)] if isinstance(array, list) else []
        where = "item"
    else:
        rows = [(n, raw) for n, raw in enumerate(text.splitlines(), 1)]
        where = "line"
    for n, raw in rows:
        if isinstance(raw, str):
            line = raw.strip()
            if not line or (not is_jsonl and line.startswith("#")):
                continue
        if not is_jsonl:
            item = BatchPrompt(prompt=line, settings=defaults.copy())
        else:
            if isinstance(raw, str) and where == "line":
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise BatchError(f"{path.name} line {n}: not valid JSON ({exc.msg}).") from None
            else:
                obj = raw
            item = _prompt_from_json(obj, defaults, path.parent, f"{path.name} {where} {n}")
        item.key = item.key or f"p{len(out) + 1:04d}"
        if item.key in keys:
            raise BatchError(f"{path.name} {where} {n}: duplicate key {item.key!r}.")
        keys.add(item.key)
        out.append(item)
        if len(out) > MAX_PROMPTS:
            raise BatchError(f"{path.name}: more than {MAX_PROMPTS} prompts; split it into several jobs.")
    if not out:
        raise BatchError(f"{path.name} has no prompts (one per line; # starts a comment).")
    return out


def _prompt_from_json(obj: Any, defaults: GenerationSettings, base: Path, where: str) -> BatchPrompt:
    if isinstance(obj, str):
        obj = {"prompt": obj}
    if not isinstance(obj, dict):
        raise BatchError(f"{where}: expected an object with a \"prompt\" or a string.")
    prompt = obj.get("prompt", obj.get("text"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise BatchError(f"{where}: \"prompt\" is missing or empty.")
    if "model" in obj and obj["model"] != defaults.model:
        raise BatchError(f"{where}: a batch job uses one model ({defaults.model}); use --model for the whole "
                         "file instead of a per-line \"model\".")
    changes: dict[str, Any] = {}
    for k, v in obj.items():
        if k in _LINE_SETTING_KEYS:
            changes[_LINE_SETTING_KEYS[k]] = v
    refs_raw = obj.get("refs", obj.get("references", []))
    if isinstance(refs_raw, str):
        refs_raw = [refs_raw]
    if not isinstance(refs_raw, list) or not all(isinstance(r, str) for r in refs_raw):
        raise BatchError(f"{where}: \"refs\" must be a list of image paths.")
    refs = [(base / Path(r).expanduser()) if not Path(r).expanduser().is_absolute() else Path(r).expanduser()
            for r in refs_raw]
    parent = obj.get("parent")
    if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int)):
        raise BatchError(f"{where}: \"parent\" must be a turn id (a number).")
    key = obj.get("key", "")
    if not isinstance(key, str):
        key = str(key)
    return BatchPrompt(prompt=prompt, settings=defaults.copy(**changes), references=refs, key=key,
                       parent_id=parent)


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
        return "  ".join(bits)


ProgressCallback = Callable[[BatchProgress], Awaitable[None] | None]


def _state_name(state: Any) -> str:
    if state is None:
        return "JOB_STATE_UNSPECIFIED"
    value = str(getattr(state, "value", state) or "")
    return value if value.startswith("JOB_STATE_") else f"JOB_STATE_{value.removeprefix('BATCH_STATE_')}"


# -- REST form of a request (for JSONL file input) --------------------------------------------------

def rest_request(contents: list[Content], settings: GenerationSettings) -> dict[str, Any]:
    """A GenerateContentRequest in the REST/JSON form (camelCase, base64), as JSONL batch files want it.

    Mirrors :func:`banana_studio.engine.request.build_config` field for field.
    """
    from banana_studio.engine.request import replay_history

    spec = get_model(settings.model)
    contents = [*replay_history(contents[:-1], settings), *contents[-1:]]  # as build_request replays them

    def part(p: Any) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if p.text is not None:
            d["text"] = p.text
        if p.thought:
            d["thought"] = True
        if p.thought_signature is not None:
            d["thoughtSignature"] = b64encode(p.thought_signature)
        if p.data is not None:
            d["inlineData"] = {"mimeType": p.mime_type or "image/png", "data": b64encode(p.data)}
        return d

    gen: dict[str, Any] = {"responseModalities": ["IMAGE"] if settings.image_only else ["TEXT", "IMAGE"]}
    image_cfg: dict[str, Any] = {"aspectRatio": settings.aspect_ratio}
    if not spec.id.startswith("gemini-2.5-flash-image"):
        image_cfg["imageSize"] = settings.image_size
    gen["imageConfig"] = image_cfg
    if spec.thinks or settings.thinking_level:
        thinking: dict[str, Any] = {"includeThoughts": bool(settings.include_thoughts)}
        if settings.thinking_level:
            thinking["thinkingLevel"] = settings.thinking_level.upper()
        gen["thinkingConfig"] = thinking
    if settings.temperature is not None:
        gen["temperature"] = settings.temperature
    if settings.seed is not None:
        gen["seed"] = settings.seed
    req: dict[str, Any] = {"contents": [{"role": c.role, "parts": [part(p) for p in c.parts]} for c in contents],
                           "generationConfig": gen}
    if settings.google_search:
        image = settings.image_search and spec.image_search
        req["tools"] = [{"googleSearch": {"searchTypes": {"webSearch": {}, "imageSearch": {}}} if image else {}}]
    if settings.system_instruction.strip():
        req["systemInstruction"] = {"parts": [{"text": settings.system_instruction}]}
    return req


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


# -- the lane ---------------------------------------------------------------------------------------

class BatchLane:
    """Batch jobs of one Studio's project.  All store / file work runs in threads."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store: ProjectStore = studio.store
        self.dir = self.store.path / BATCH_DIR

    # records
    def _record_path(self, record: BatchRecord) -> Path:
        return self.dir / f"{record.job_id}.json"

    def save(self, record: BatchRecord) -> None:
        record.updated_at = time.time()
        data = json.dumps(record.to_json(), indent=1, ensure_ascii=False).encode("utf-8")
        atomic_write(self._record_path(record), data, tmp_dir=self.store.path / ".tmp")

    def records(self) -> list[BatchRecord]:
        """Every job of the project, oldest first (unreadable records are skipped)."""
        return load_records(self.store.path)

    def unfinished(self) -> list[BatchRecord]:
        return [r for r in self.records() if not r.finished]

    def get(self, name: str) -> BatchRecord:
        want = name.rsplit("/", 1)[-1]
        for r in self.records():
            if r.job_id == want:
                return r
        raise BatchError(f"No batch job {name!r} in project {self.store.name!r}.")

    def pending_cost(self) -> float:
        """Estimated cost of submitted jobs not imported yet (for the budget guard)."""
        return pending_batch_cost(self.store.path)

    # submit
    def estimate(self, prompts: list[BatchPrompt]) -> float:
        return round(sum(request_estimate(p.settings, 1, len(p.references), batch=True) for p in prompts), 6)

    async def _client(self) -> Any:
        target = await self.studio._ready_target()
        return await target.aclient()

    async def submit(self, prompts: list[BatchPrompt], *, display_name: str = "") -> BatchRecord:
        """Validate every prompt, copy references into the project, create the job, persist the record.

        Raises :class:`BatchError` (nothing submitted) for invalid prompts; API failures are mapped to
        clear messages (key redacted)."""
        if not prompts:
            raise BatchError("Nothing to submit.")
        if self.studio.target.vertex:
            raise BatchError("The batch lane uses the Gemini API's inline/file batch jobs; Vertex AI batch "
                             "prediction (Cloud Storage / BigQuery input) is not supported. Unset "
                             "GOOGLE_GENAI_USE_VERTEXAI and use an API key for batch jobs.")
        model = prompts[0].settings.model
        if any(p.settings.model != model for p in prompts):
            raise BatchError("A batch job uses one model; these prompts name several.")
        items: list[BatchItem] = []
        requests: list[tuple[str, list[Content], GenerationSettings]] = []
        total = 0
        problems: list[str] = []
        for p in prompts:
            try:
                refs = [await asyncio.to_thread(self.store.add_reference, r) for r in p.references]
                history = (await asyncio.to_thread(self.store.replay_contents, p.parent_id)
                           if p.parent_id is not None else [])
                images = [(await asyncio.to_thread(self.store.reference_bytes, r), r.mime_type) for r in refs]
            except ProjectError as exc:
                problems.append(f"{p.key}: {exc}")
                continue
            user = user_content(p.prompt, images)
            for msg in await asyncio.to_thread(validate_request, history, user, p.settings):
                problems.append(f"{p.key}: {msg}")
            total += request_size(history, user, p.settings)
            items.append(BatchItem(key=p.key, prompt=p.prompt, settings=p.settings.to_json(),
                                   references=[asdict(r) for r in refs], parent_id=p.parent_id))
            requests.append((p.key, [*history, user], p.settings))
        if problems:
            shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
            raise BatchError("Nothing was submitted; fix these prompts first:\n" + "\n".join(shown))
        mode = "inline" if total <= INLINE_LIMIT else "file"
        display = display_name or f"banana-studio {self.store.name} {time.strftime('%Y-%m-%d %H:%M')}"
        client = await self._client()
        secrets = self.studio.target.secrets()
        input_file = ""
        try:
            if mode == "inline":
                from google.genai import types

                src: Any = []
                for key, contents, settings in requests:
                    sdk_contents, config = build_request(contents[:-1], contents[-1], settings)
                    src.append(types.InlinedRequest(contents=sdk_contents, config=config, metadata={"key": key}))
            else:
                lines = [json.dumps({"key": key, "request": rest_request(contents, settings)})
                         for key, contents, settings in requests]
                data = ("\n".join(lines) + "\n").encode("utf-8")
                uploaded = await client.aio.files.upload(
                    file=io.BytesIO(data), config={"mime_type": "jsonl", "display_name": display[:120]})
                input_file = str(uploaded.name)
                src = input_file
            job = await client.aio.batches.create(model=model, src=src, config={"display_name": display[:120]})
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            err = map_error(exc, model=model, secrets=secrets)
            raise BatchError(f"The batch job could not be created: {redact(err.message, secrets)}", 1) from None
        record = BatchRecord(
            name=str(job.name), model=model, display_name=display, created_at=time.time(),
            target=self._target_text(), input_mode=mode, estimate=self.estimate(prompts), items=items,
            state=_state_name(job.state), input_file=input_file)
        await asyncio.to_thread(self.save, record)
        return record

    def _target_text(self) -> str:
        t = self.studio.target
        return f"{t.label} {t.base_url}".strip() if t.base_url else t.label

    # poll
    async def poll(self, record: BatchRecord) -> tuple[BatchRecord, Any, dict[str, int]]:
        """One status check; returns (record updated + saved, the SDK job or None, stats)."""
        client = await self._client()
        try:
            job = await client.aio.batches.get(name=record.name)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code == 404:
                record.state = LOST
                record.error = (f"{record.target} no longer knows {record.name} (expired or deleted; jobs of the "
                                "demo server live only as long as that server).")
                await asyncio.to_thread(self.save, record)
                return record, None, {}
            err = map_error(exc, model=record.model, secrets=self.studio.target.secrets())
            raise BatchError(f"Could not check {record.name}: {err.message}", 1) from None
        record.state = _state_name(job.state)
        if getattr(job, "error", None) is not None and record.state in ("JOB_STATE_FAILED",):
            record.error = redact(str(job.error.message or job.error), self.studio.target.secrets())
        stats = {} if record.done else await self._stats(client, record)
        await asyncio.to_thread(self.save, record)
        return record, job, stats

    async def _stats(self, client: Any, record: BatchRecord) -> dict[str, int]:
        """batchStats of the Gemini API job (the SDK drops them); {} when unavailable."""
        if self.studio.target.vertex:
            return {}
        with contextlib.suppress(Exception):
            resp = await client.aio._api_client.async_request("get", record.name, {})
            body = json.loads(resp.body or "{}")
            raw = (body.get("metadata") or body).get("batchStats") or {}
            return {k: int(v) for k, v in raw.items() if str(v).isdigit()}
        return {}

    async def wait(self, record: BatchRecord, *, interval: float = 10.0, progress: ProgressCallback | None = None,
                   import_results: bool = True) -> BatchRecord:
        """Poll until the job ends, then import its results.  Cancelling the caller leaves the job
        running on the server (resume later with :meth:`wait` on the record)."""
        start = record.created_at or time.time()
        total = len(record.items)
        job: Any = None
        while True:
            record, job, stats = await self.poll(record)
            await _emit(progress, BatchProgress(
                record, record.state, time.time() - start, total, stats.get("successfulRequestCount"),
                stats.get("failedRequestCount"), stats.get("pendingRequestCount"),
                phase="done" if record.done else "waiting"))
            if record.done:
                break
            await asyncio.sleep(max(0.0, interval))
        if import_results and job is not None and record.state in ("JOB_STATE_SUCCEEDED",
                                                                   "JOB_STATE_PARTIALLY_SUCCEEDED"):
            await self.import_results(record, job, progress=progress, started=start)
        return record

    # import
    async def _results(self, client: Any, job: Any, record: BatchRecord) -> dict[str, tuple[Any, Any]]:
        """key → (GenerateContentResponse | None, error | None) from inline responses or the result file.

        Inline responses come back in request order; one without its metadata key is matched by
        position."""
        from google.genai import types

        dest = job.dest
        out: dict[str, tuple[Any, Any]] = {}
        if dest is None:
            return out
        if dest.inlined_responses:
            for i, r in enumerate(dest.inlined_responses):
                fallback = record.items[i].key if i < len(record.items) else f"#{i}"
                key = str((r.metadata or {}).get("key") or fallback)
                out[key] = (r.response, r.error)
            return out
        if dest.file_name:
            data = await client.aio.files.download(file=dest.file_name)
            for line in bytes(data).decode("utf-8", "replace").splitlines():
                if not line.strip():
                    continue
                obj = json.loads(line)
                key = str(obj.get("key", ""))
                resp = obj.get("response")
                parsed = (types.GenerateContentResponse.model_validate_json(json.dumps(resp))
                          if isinstance(resp, dict) else None)
                out.setdefault(key, (parsed, obj.get("error")))  # duplicate keys: first wins, never billed twice
        return out

    async def import_results(self, record: BatchRecord, job: Any | None = None, *,
                             progress: ProgressCallback | None = None, started: float | None = None) -> list[Turn]:
        """Create (or complete) one turn per request.  Idempotent; returns the turns touched now."""
        client = await self._client()
        if job is None:
            record, job, _ = await self.poll(record)
            if job is None or not record.done:
                raise BatchError(f"{record.name} is {record.short_state}; nothing to import yet.", 1)
        results = await self._results(client, job, record)
        touched: list[Turn] = []
        total = len(record.items)
        start = started or record.created_at
        for n, item in enumerate(record.items, 1):
            if item.status in ("done", "failed") and item.turn_id is not None:
                continue
            resp, error = results.get(item.key, (None, None))
            turn = await self._import_item(record, item, resp, error)
            touched.append(turn)
            await _emit(progress, BatchProgress(record, record.state, time.time() - start, total,
                                                imported=n, phase="importing"))
        record.imported = all(i.status in ("done", "failed") for i in record.items)
        await asyncio.to_thread(self.save, record)
        await _emit(progress, BatchProgress(record, record.state, time.time() - start, total, imported=total,
                                            phase="done"))
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
            user = user_content(item.prompt, images)
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
        discount = get_model(settings.model).prices.batch_discount
        kwargs: dict[str, Any] = {}
        if resp is None:
            msg = _job_error_text(error) if error is not None else "The batch job returned no result for this prompt."
            status, content, usage, grounding, err_kind = "failed", None, None, None, "batch"
            err_text = redact(msg, secrets)
        else:
            asm = TurnAssembler(secrets)
            events = await asyncio.to_thread(lambda: asm.feed_checked(resp) + asm.finish())  # images verified
            usage = next((e for e in events if isinstance(e, Usage)), None)
            grounding = next((e for e in events if isinstance(e, Grounding)), None)
            last = events[-1] if events else Failed(EngineError("no_image", "Empty batch result."))
            if isinstance(last, (Finished, Failed)) and last.rejected:  # kept outside images/, said where
                await self.studio.keep_rejected(item.turn_id, last)
            if isinstance(last, Finished):
                ok = last.ok
                content = last.content if ok else _content_for_failure(last.content)
                kwargs = {"finish_reason": last.finish_reason, "finish_message": last.finish_message,
                          "model_version": last.model_version, "response_id": last.response_id}
                err = last.error
            else:
                assert isinstance(last, Failed)
                ok, content, err = False, _content_for_failure(last.partial), last.error
            status = "done" if ok else "failed"
            err_text = redact(err.message, secrets) if (err and not ok) else ""
            err_kind = err.kind if (err and not ok) else ""
        cost = 0.0
        if usage is not None:
            cost = round(actual_cost(settings, usage, grounding.queries if grounding else 0) * discount, 6)
        saved = await asyncio.to_thread(
            store.complete_turn, item.turn_id, model_content=content, status=status,
            usage=asdict(usage) if usage is not None else {},
            grounding=_grounding_json(grounding), cost=cost, error=err_text, error_kind=err_kind, **kwargs)
        item.status = status
        item.error = err_text
        await asyncio.to_thread(self.save, record)
        return saved

    async def cancel(self, record: BatchRecord) -> BatchRecord:
        client = await self._client()
        try:
            await client.aio.batches.cancel(name=record.name)
        except Exception as exc:
            err = map_error(exc, model=record.model, secrets=self.studio.target.secrets())
            raise BatchError(f"Could not cancel {record.name}: {err.message}", 1) from None
        record, _, _ = await self.poll(record)
        return record


def _job_error_text(error: Any) -> str:
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
    else:
        code, message = getattr(error, "code", None), getattr(error, "message", None)
    message = message or "unknown error"
    return f"The batch request failed ({code}): {message}" if code else f"The batch request failed: {message}"


async def _emit(cb: ProgressCallback | None, progress: BatchProgress) -> None:
    if cb is None:
        return
    result = cb(progress)
    if asyncio.iscoroutine(result):
        await result
