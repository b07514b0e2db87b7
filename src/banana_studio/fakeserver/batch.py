"""Batch API and Files API emulation for the fake Gemini server (in memory).

Wire shapes follow what google-genai 3.6.1 parses (``batches._BatchJob_from_mldev``): a batch is an
operation ``{"name": "batches/<id>", "metadata": {"@type": ..., "state": "BATCH_STATE_*", "output":
{...}}, "done": ..., "response": {...}}``; inline results are
``output.inlinedResponses.inlinedResponses[] = {"response"|"error", "metadata"}``; file results are
``output.responsesFile = "files/<id>"``, downloadable as JSONL ``{"key", "response"|"error"}`` lines.

A job moves PENDING → RUNNING → SUCCEEDED over ``FakeGemini.batch_seconds`` (state is derived from
the clock when polled); results are computed once, the first time the job is seen finished.  Result
files are named ``files/batch-<job id>`` as Google names them.

The rude parts of the real service, scripted on :class:`BatchStore` (deterministic: counted, not timed):
``outcome`` (the next job ends ``FAILED`` with ``outcome_error``, or ``EXPIRED`` with no results),
``status_errors`` (HTTP codes answered, in order, to the next status checks), ``download_errors`` (same
for result downloads), ``download_cut`` (while set, every download closes after that many bytes), and
``cancel_polls`` (after a cancel the job still reports RUNNING for that many status checks).  Per-line
failures come from ``[fault:…]`` tags in a request's prompt.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from banana_studio.fakeserver import answers, hostile, protocol
from banana_studio.fakeserver.faults import ApiError, error_for_fault, find_tag, invalid

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.fakeserver.server import FakeGemini

BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"
_ALNUM = string.ascii_lowercase + string.digits
FILE_TTL = 48 * 3600


def _new_id(n: int = 12) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def _stamp(t: float) -> str:
    return _dt.datetime.fromtimestamp(t, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(slots=True)
class StoredFile:
    id: str
    mime_type: str
    display_name: str
    created: float
    data: bytes = b""
    size_expected: int = 0
    complete: bool = False
    source: str = "UPLOADED"

    def resource(self, base_url: str, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": f"files/{self.id}",
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": _stamp(self.created),
            "updateTime": _stamp(self.created),
            "expirationTime": _stamp(self.created + FILE_TTL),
            "sha256Hash": hashlib.sha256(self.data).hexdigest(),
            "uri": f"{base_url}/{version}/files/{self.id}",
            "state": "ACTIVE" if self.complete else "PROCESSING",
            "source": self.source,
        }
        if self.display_name:
            out["displayName"] = self.display_name
        if self.source == "GENERATED":
            out["downloadUri"] = f"{base_url}/download/{version}/files/{self.id}:download?alt=media"
        return out


@dataclass(slots=True)
class BatchJob:
    id: str
    model: str
    display_name: str
    created: float
    requests: list[tuple[str, Any]]
    """(key, GenerateContentRequest body) in input order."""
    input_config: dict[str, Any]
    file_input: bool
    version: str
    cancelled_at: float | None = None
    results: list[dict[str, Any]] | None = None
    """Per request ``{"key", "response"|"error"}`` once finished."""
    result_file: str = ""
    outcome: str = "SUCCEEDED"
    """SUCCEEDED | FAILED | EXPIRED — how the job ends."""
    outcome_error: dict[str, Any] | None = None
    cancel_polls_left: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class BatchStore:
    def __init__(self, fake: FakeGemini) -> None:
        self.fake = fake
        self._lock = threading.Lock()
        self._jobs: dict[str, BatchJob] = {}
        self._files: dict[str, StoredFile] = {}
        self._uploads: dict[str, str] = {}  # upload_id -> file id
        self.outcome = "SUCCEEDED"
        self.outcome_error: dict[str, Any] | None = None
        self.status_errors: list[int] = []
        self.download_errors: list[int] = []
        self.download_cut: int | None = None
        self.cancel_polls = 0

    def fail_next(self, message: str = "The batch job failed: internal error while processing the input file.",
                  code: int = 13) -> None:
        """The next created job ends FAILED with this google.rpc.Status error."""
        self.outcome, self.outcome_error = "FAILED", {"code": code, "message": message}

    def expire_next(self) -> None:
        """The next created job ends EXPIRED (no results), as after 48 h in the queue."""
        self.outcome, self.outcome_error = "EXPIRED", None

    def _take(self, queue: list[int]) -> ApiError | None:
        with self._lock:
            if not queue:
                return None
            code = queue.pop(0)
        text = {429: "Resource has been exhausted (e.g. check quota).", 500: "Internal error encountered.",
                502: "Bad Gateway", 503: "The service is currently unavailable.",
                504: "Deadline expired before operation could complete.", 408: "Request timed out."}
        return ApiError(code, text.get(code, "Server error."))

    # -- batches ---------------------------------------------------------------------------------
    def create(self, model: str, body: Any, version: str = "v1beta") -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received. Expected an object.")
        b = protocol.camelize(body)
        batch = b.get("batch") if isinstance(b.get("batch"), dict) else b
        input_cfg = batch.get("inputConfig") or {}
        display = str(batch.get("displayName") or "")
        requests: list[tuple[str, Any]] = []
        file_input = False
        if isinstance(input_cfg.get("requests"), dict):
            items = input_cfg["requests"].get("requests") or []
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise invalid(f"batch.input_config.requests.requests[{i}] must be an object.")
                key = str((item.get("metadata") or {}).get("key") or f"request-{i + 1}")
                requests.append((key, item.get("request") or {}))
        elif input_cfg.get("fileName"):
            file_input = True
            name = str(input_cfg["fileName"]).removeprefix("files/")
            with self._lock:
                stored = self._files.get(name)
            if stored is None or not stored.complete:
                raise ApiError(404, f"File files/{name} not found or not uploaded.", "NOT_FOUND")
            for n, line in enumerate(stored.data.decode("utf-8", "replace").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    obj = protocol.camelize(json.loads(line))
                except ValueError:
                    raise invalid(f"Invalid JSON on line {n} of files/{name}.") from None
                if not isinstance(obj, dict):
                    raise invalid(f"Line {n} of files/{name} is not an object.")
                requests.append((str(obj.get("key") or f"request-{n}"), obj.get("request") or {}))
        else:
            raise invalid("* BatchGenerateContentRequest.batch.input_config: input_config is not specified\n")
        if not requests:
            raise invalid("The batch has no requests.")
        kept_cfg = {"fileName": input_cfg["fileName"]} if file_input else {"requests": {"count": len(requests)}}
        job = BatchJob(id=_new_id(), model=model, display_name=display, created=time.time(), requests=requests,
                       input_config=kept_cfg, file_input=file_input, version=version)
        with self._lock:
            job.outcome, job.outcome_error = self.outcome, self.outcome_error
            self.outcome, self.outcome_error = "SUCCEEDED", None
        with self._lock:
            self._jobs[job.id] = job
        return self.resource(job)

    def _state(self, job: BatchJob, now: float) -> str:
        if job.cancelled_at is not None and job.cancel_polls_left <= 0:
            return "BATCH_STATE_CANCELLED"
        total = self.fake.batch_seconds
        elapsed = now - job.created
        if job.cancelled_at is not None:
            return "BATCH_STATE_RUNNING"  # a cancel takes a while on the real service
        if elapsed >= total:
            return f"BATCH_STATE_{job.outcome}"
        return "BATCH_STATE_PENDING" if elapsed < total / 3 else "BATCH_STATE_RUNNING"

    def resource(self, job: BatchJob, *, polled: bool = False) -> dict[str, Any]:
        now = time.time()
        state = self._state(job, now) if polled else (
            "BATCH_STATE_CANCELLED" if job.cancelled_at is not None else "BATCH_STATE_PENDING")
        if polled and job.cancelled_at is not None and job.cancel_polls_left > 0:
            with job.lock:
                job.cancel_polls_left -= 1
        meta: dict[str, Any] = {
            "@type": BATCH_TYPE,
            "model": f"models/{job.model}",
            "displayName": job.display_name,
            "inputConfig": job.input_config,
            "createTime": _stamp(job.created),
            "updateTime": _stamp(now),
            "state": state,
            "name": f"batches/{job.id}",
        }
        n = len(job.requests)
        stats = {"requestCount": str(n), "pendingRequestCount": str(n)}
        out: dict[str, Any] = {"name": f"batches/{job.id}", "metadata": meta}
        if state == "BATCH_STATE_SUCCEEDED":
            results = self._finish(job)
            failed = sum(1 for r in results if "error" in r)
            stats = {"requestCount": str(n), "successfulRequestCount": str(n - failed),
                     "failedRequestCount": str(failed)} if failed else \
                    {"requestCount": str(n), "successfulRequestCount": str(n)}
            if job.file_input:
                output: dict[str, Any] = {"responsesFile": job.result_file}
            else:
                inlined = []
                for r in results:
                    item = {k: v for k, v in r.items() if k != "key"}
                    item["metadata"] = {"key": r["key"]}
                    inlined.append(item)
                output = {"inlinedResponses": {"inlinedResponses": inlined}}
            meta["output"] = output
            meta["endTime"] = _stamp(job.created + max(0.0, self.fake.batch_seconds))
            out["done"] = True
            out["response"] = {"@type": OUTPUT_TYPE, **output}
        elif state == "BATCH_STATE_CANCELLED":
            meta["endTime"] = _stamp(job.cancelled_at or now)
            out["done"] = True
        elif state in ("BATCH_STATE_FAILED", "BATCH_STATE_EXPIRED"):
            meta["endTime"] = _stamp(job.created + max(0.0, self.fake.batch_seconds))
            out["done"] = True
            if job.outcome_error is not None:
                out["error"] = dict(job.outcome_error)
        meta["batchStats"] = stats
        return out

    def _finish(self, job: BatchJob) -> list[dict[str, Any]]:
        with job.lock:
            if job.results is not None:
                return job.results
            results = [self._run_one(job, key, request) for key, request in job.requests]
            if job.file_input:
                lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results).encode("utf-8")
                fid = f"batch-{job.id}"
                f = StoredFile(fid, "application/jsonl", f"batch-{job.id}-results", time.time(), lines,
                               len(lines), True, "GENERATED")
                with self._lock:
                    self._files[fid] = f
                job.result_file = f"files/{fid}"
            job.results = results
            return results

    def _run_one(self, job: BatchJob, key: str, request: Any) -> dict[str, Any]:
        fault = None
        if isinstance(request, dict):
            for content in request.get("contents") or []:
                for part in (content or {}).get("parts") or [] if isinstance(content, dict) else []:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        fault = fault or find_tag(part["text"])[0]
        try:
            if fault is not None:
                err = error_for_fault(fault, job.model, job.version)
                if err is not None:
                    raise err
            steps = hostile.reshape(self.fake.generate_steps(job.model, job.version, request, fault), fault)
            return {"key": key, "response": answers.merge_steps(steps)}
        except ApiError as err:
            body = err.body()["error"]
            body.pop("details", None)
            return {"key": key, "error": body}

    def _job(self, job_id: str) -> BatchJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"Batch batches/{job_id} not found.", "NOT_FOUND")
        return job

    def route(self, handler: Any, method: str, version: str, rest: str, query: dict[str, str], body: Any) -> None:
        base_url = self.fake.base_url
        if rest.startswith("files"):
            self._files_route(handler, method, version, rest, query, base_url)
            return
        tail = rest.removeprefix("batches").lstrip("/")
        if not tail:
            if method != "GET":
                raise ApiError(405, "Method not allowed.", "INVALID_ARGUMENT")
            with self._lock:
                jobs = sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)
            size = max(1, min(1000, int(query.get("pageSize") or 50)))
            start = int(query.get("pageToken") or 0)
            page = jobs[start:start + size]
            out: dict[str, Any] = {"operations": [self.resource(j, polled=True) for j in page]}
            if start + size < len(jobs):
                out["nextPageToken"] = str(start + size)
            handler.send_json(200, out)
            return
        job_id, _, verb = tail.partition(":")
        job = self._job(job_id)
        if method == "GET" and not verb:
            err = self._take(self.status_errors)
            if err is not None:
                raise err
            handler.send_json(200, self.resource(job, polled=True))
        elif method == "POST" and verb == "cancel":
            if job.cancelled_at is None and self._state(job, time.time()) in ("BATCH_STATE_PENDING",
                                                                              "BATCH_STATE_RUNNING"):
                job.cancel_polls_left = self.cancel_polls
                job.cancelled_at = time.time()
            handler.send_json(200, {})
        elif method == "DELETE" and not verb:
            with self._lock:
                self._jobs.pop(job.id, None)
            handler.send_json(200, {})
        else:
            raise ApiError(404, f"Method not found: {verb or method}", "NOT_FOUND")

    # -- files -------------------------------------------------------------------------------------
    def _files_route(self, handler: Any, method: str, version: str, rest: str, query: dict[str, str],
                     base_url: str) -> None:
        tail = rest.removeprefix("files").lstrip("/")
        if not tail:
            with self._lock:
                files = [f for f in self._files.values() if f.complete]
            handler.send_json(200, {"files": [f.resource(base_url, version) for f in files]})
            return
        file_id, _, verb = tail.partition(":")
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(403, f"You do not have permission to access the File {file_id} or it may not exist.",
                           "PERMISSION_DENIED")
        if verb == "download" and method == "GET":
            self.download(handler, version, rest, query)
        elif method == "GET" and not verb:
            handler.send_json(200, stored.resource(base_url, version))
        elif method == "DELETE" and not verb:
            with self._lock:
                self._files.pop(file_id, None)
            handler.send_json(200, {})
        else:
            raise ApiError(404, f"Method not found: {verb or method}", "NOT_FOUND")

    def upload(self, handler: Any, method: str, version: str, rest: str, body: Any, raw: bytes, prefix: str) -> None:
        if method != "POST" or not rest.startswith("files"):
            raise ApiError(404, "Unknown upload route.", "NOT_FOUND")
        command = (handler.headers.get("X-Goog-Upload-Command") or "").lower()
        url_query = handler.path.partition("?")[2]
        upload_id = dict(p.partition("=")[::2] for p in url_query.split("&") if p).get("upload_id", "")
        if "start" in command:
            meta = protocol.camelize(body) if isinstance(body, dict) else {}
            fmeta = meta.get("file") or {}
            fid = str(fmeta.get("name") or "").removeprefix("files/") or _new_id()
            if any(c not in _ALNUM + "-" for c in fid):
                raise invalid(f"Invalid file name: files/{fid}")
            mime = str(fmeta.get("mimeType") or handler.headers.get("X-Goog-Upload-Header-Content-Type")
                       or "application/octet-stream")
            size = int(handler.headers.get("X-Goog-Upload-Header-Content-Length") or fmeta.get("sizeBytes") or 0)
            f = StoredFile(fid, mime, str(fmeta.get("displayName") or ""), time.time(), b"", size)
            uid = _new_id(24)
            with self._lock:
                self._files[fid] = f
                self._uploads[uid] = fid
            url = f"{self.fake.base_url}{prefix}/upload/{version}/files?upload_id={uid}&upload_protocol=resumable"
            handler.send_bytes(200, b"", "text/plain; charset=utf-8",
                               {"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active",
                                "X-Goog-Upload-Chunk-Granularity": "8388608"})
            return
        with self._lock:
            fid = self._uploads.get(upload_id, "")
            stored = self._files.get(fid)
        if stored is None:
            raise ApiError(404, "Upload session not found.", "NOT_FOUND")
        offset = int(handler.headers.get("X-Goog-Upload-Offset") or len(stored.data))
        if offset != len(stored.data):
            raise invalid(f"Invalid upload offset {offset}; expected {len(stored.data)}.")
        stored.data += raw
        if "finalize" in command:
            stored.complete = True
            with self._lock:
                self._uploads.pop(upload_id, None)
            handler.send_json(200, {"file": stored.resource(self.fake.base_url, version)},
                              {"X-Goog-Upload-Status": "final"})
        else:
            handler.send_bytes(200, b"", "text/plain; charset=utf-8", {"X-Goog-Upload-Status": "active"})

    def download(self, handler: Any, version: str, rest: str, query: dict[str, str]) -> None:
        tail = rest.removeprefix("files").lstrip("/")
        file_id = tail.partition(":")[0]
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None or not stored.complete:
            raise ApiError(404, f"File files/{file_id} not found.", "NOT_FOUND")
        if stored.source != "GENERATED":
            raise invalid("Only generated files can be downloaded.")
        err = self._take(self.download_errors)
        if err is not None:
            raise err
        cut = self.download_cut
        if cut is not None:  # announce the whole file, send part of it, drop the connection
            handler.send_response(200)
            handler.send_header("Content-Type", stored.mime_type)
            handler.send_header("Content-Length", str(len(stored.data)))
            handler.end_headers()
            handler.wfile.write(stored.data[:cut])
            handler.wfile.flush()
            handler.close_connection = True
            return
        handler.send_bytes(200, stored.data, stored.mime_type)
