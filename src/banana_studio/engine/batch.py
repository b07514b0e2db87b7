"""Gemini Batch API and Files API calls — the only place the batch lane meets google-genai.

The SDK is imported lazily.  A poll is **one** GET of the raw job resource, read by :func:`job_view`:
state, ``batchStats``, the job's ``error`` (which the SDK's Gemini-API converter drops) and the inline
results all come from the same answer, so a progress line can never mix two moments.  Result lines
(inline or from the results file) go through :func:`parse_response`, the same converter the streaming
path uses, so ``finishMessage`` survives in both.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banana_studio.domain.batch_job import DONE_STATES
from banana_studio.domain.content import Content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine.request import build_request, rest_request

DOWNLOAD_CHUNK = 64 * 1024


def state_name(value: Any) -> str:
    """``BATCH_STATE_RUNNING`` / ``JOB_STATE_RUNNING`` / an SDK enum → ``JOB_STATE_RUNNING``."""
    if value is None:
        return "JOB_STATE_UNSPECIFIED"
    text = str(getattr(value, "value", value) or "")
    return text if text.startswith("JOB_STATE_") else f"JOB_STATE_{text.removeprefix('BATCH_STATE_')}"


@dataclass(slots=True)
class JobView:
    """One consistent reading of a batch job (from a single GET)."""

    name: str
    state: str
    error_code: int | None = None
    error_message: str = ""
    succeeded: int | None = None
    failed: int | None = None
    pending: int | None = None
    total: int | None = None
    inlined: list[dict[str, Any]] | None = None
    """Raw inline results ``{"response"|"error", "metadata": {"key"}}`` in request order."""
    result_file: str = ""
    """``files/…`` holding JSONL results (file-input jobs)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def job_view(body: dict[str, Any]) -> JobView:
    """Read a raw ``batches/<id>`` resource (an operation with ``metadata``)."""
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else body
    assert isinstance(meta, dict)
    stats = meta.get("batchStats") if isinstance(meta.get("batchStats"), dict) else {}
    err = body.get("error") if isinstance(body.get("error"), dict) else meta.get("error")
    output = meta.get("output") if isinstance(meta.get("output"), dict) else None
    if output is None and isinstance(body.get("response"), dict):
        output = body["response"]
    inlined: list[dict[str, Any]] | None = None
    result_file = ""
    if isinstance(output, dict):
        block = output.get("inlinedResponses")
        if isinstance(block, dict):
            block = block.get("inlinedResponses")
        if isinstance(block, list):
            inlined = [r for r in block if isinstance(r, dict)]
        if isinstance(output.get("responsesFile"), str):
            result_file = output["responsesFile"]
    view = JobView(name=str(body.get("name") or meta.get("name") or ""), state=state_name(meta.get("state")),
                   succeeded=_int(stats.get("successfulRequestCount")), failed=_int(stats.get("failedRequestCount")),
                   pending=_int(stats.get("pendingRequestCount")), total=_int(stats.get("requestCount")),
                   inlined=inlined, result_file=result_file)
    if isinstance(err, dict):
        view.error_code = _int(err.get("code"))
        view.error_message = " ".join(str(err.get("message") or "").split())
    return view


# -- requests -------------------------------------------------------------------------------------

def inline_requests(requests: list[tuple[str, list[Content], GenerationSettings]]) -> list[Any]:
    """SDK ``InlinedRequest`` objects (built by the engine's own request builder)."""
    from google.genai import types

    out: list[Any] = []
    for key, contents, settings in requests:
        sdk_contents, config = build_request(contents[:-1], contents[-1], settings)
        out.append(types.InlinedRequest(contents=sdk_contents, config=config, metadata={"key": key}))
    return out


def jsonl_lines(requests: list[tuple[str, list[Content], GenerationSettings]]) -> Iterator[bytes]:
    """One JSONL line per request, ``{"key", "request"}``: the REST body of the same request an inline
    job carries (contents and config from the engine's one field table, :func:`rest_request`)."""
    for key, contents, settings in requests:
        body = rest_request(contents[:-1], contents[-1], settings)
        yield (json.dumps({"key": key, "request": body}, ensure_ascii=False) + "\n").encode("utf-8")


async def create_job(client: Any, model: str, requests: list[tuple[str, list[Content], GenerationSettings]],
                     *, mode: str, display_name: str) -> tuple[str, str, str]:
    """Create the job; returns (job name, state, uploaded input file name or "")."""
    input_file = ""
    if mode == "inline":
        src: Any = await asyncio.to_thread(inline_requests, requests)
    else:
        data = await asyncio.to_thread(lambda: b"".join(jsonl_lines(requests)))
        uploaded = await client.aio.files.upload(
            file=io.BytesIO(data), config={"mime_type": "jsonl", "display_name": display_name[:120]})
        input_file = str(uploaded.name)
        src = input_file
    job = await client.aio.batches.create(model=model, src=src, config={"display_name": display_name[:120]})
    return str(job.name), state_name(job.state), input_file


def _transport(client: Any) -> Any:
    """The SDK's HTTP layer (key, base URL, retries, error mapping).  Two calls have no public form and
    use it, here only: one raw GET of a job (the SDK's converter drops the job's ``error``, and state,
    stats and results must come from one answer) and a results download in small chunks."""
    return client.aio._api_client


async def get_job(client: Any, name: str) -> JobView:
    """One GET of the raw job resource (raises the SDK's API / transport errors)."""
    resp = await _transport(client).async_request("get", name, {})
    body = json.loads(resp.body or "{}")
    view = job_view(body if isinstance(body, dict) else {})
    view.name = view.name or name
    return view


async def cancel_job(client: Any, name: str) -> None:
    await client.aio.batches.cancel(name=name)


async def download_results(client: Any, file_name: str, dest: Path) -> None:
    """Stream the results file to ``dest`` (chunk by chunk, never whole in memory)."""
    name = file_name.removeprefix("files/")
    with open(dest, "wb") as fh:
        # files.download streams too, but in 1 MiB pieces: a dropped connection would lose the last
        # whole lines that arrived.  Same request, smaller pieces.
        await _transport(client).async_download_file(f"files/{name}:download?alt=media", destination=fh,
                                                     chunk_size=DOWNLOAD_CHUNK)
        fh.flush()


def parse_response(raw: Any) -> Any:
    """A raw REST ``GenerateContentResponse`` dict → the SDK type, through the same converter as the
    streaming path (which keeps ``finishMessage``)."""
    from google.genai import models, types

    from banana_studio.engine.runner import _keep_finish_message

    _keep_finish_message()
    converted = models._GenerateContentResponse_from_mldev(raw if isinstance(raw, dict) else {})
    return types.GenerateContentResponse._from_response(response=converted, kwargs={})
