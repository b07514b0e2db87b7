"""Run one generation turn against the Gemini API (or the local fake server) as a stream of events.

The google-genai SDK is imported lazily (and the client is built in a worker thread the first time),
so importing this module is cheap.  The SDK's own retries are disabled: retries happen here, where
they are visible (``Retrying`` events) and cancellable.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import re
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.content import Content, Part, b64decode_any
from banana_studio.domain.events import (
    AnswerText,
    DraftImage,
    EngineError,
    Event,
    Failed,
    FinalImage,
    Finished,
    Grounding,
    GroundingSource,
    Retrying,
    ThoughtText,
    Usage,
)
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine.errors import (
    RETRYABLE_STATUS,
    blocked_error,
    finish_error,
    map_error,
    retry_delay_of,
)
from banana_studio.engine.request import (
    API_VERSION,
    build_stream_request,
    request_size,
    sniff_image_mime,
    validate_request,
)

_CLIENT_LOCK = threading.Lock()
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_\-=\s]+")
BASE64_TEXT_MIN = 256
"""A non-thought text part at least this long made only of base64 characters is checked for an image."""
INLINE_PREPARE_BYTES = 256 * 1024
"""Requests up to this size are validated and converted on the event loop (well under a millisecond:
two thread hops cost more than the work); bigger ones, carrying images, go to a worker thread."""
_PART_CORE_FIELDS = frozenset({"text", "thought", "thought_signature", "inline_data"})


@dataclass(slots=True)
class ApiTarget:
    """Where and how to send requests.  One cached ``genai.Client`` per target."""

    api_key: str = field(default="", repr=False)
    base_url: str | None = None
    """``None`` = the SDK default (which honours ``GOOGLE_GEMINI_BASE_URL``)."""
    vertex: bool = False
    demo: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)
    retry_attempts: int = 5
    """Attempts including the first (1 = no retry)."""
    timeout_seconds: float = 360.0
    """Overall limit for one attempt (request + whole stream)."""
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    idle_timeout: float = 120.0
    """Longest silence allowed between two stream chunks once the stream has started."""
    vertex_project: str = ""
    vertex_location: str = ""
    """From the config's [vertex] table (the environment wins); see :mod:`banana_studio.engine.vertex`."""
    key_source: str = ""
    vertex_setup: Any = field(default=None, repr=False, compare=False)
    """The :class:`~banana_studio.engine.vertex.VertexSetup` once checked (``check_vertex``)."""
    _client: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def label(self) -> str:
        if self.demo:
            return "Demo (local server)"
        if self.vertex:
            setup = self.vertex_setup
            if setup is not None and setup.express:
                return "Vertex AI (express)"
            if setup is not None and setup.project:
                return f"Vertex AI · {setup.project} · {setup.location}"
            return "Vertex AI"
        return "Gemini API"

    def secrets(self) -> list[str]:
        return [self.api_key] if self.api_key else []

    def check_vertex(self) -> Any:
        """Run (once) and return the Vertex AI setup check.  Blocking; ``None`` when not Vertex."""
        if not self.vertex:
            return None
        if self.vertex_setup is None:
            from banana_studio.engine.vertex import check_setup

            self.vertex_setup = check_setup(api_key=self.api_key, key_source=self.key_source,
                                            project=self.vertex_project, location=self.vertex_location)
        return self.vertex_setup

    def make_client(self) -> Any:
        """Build (or return the cached) ``genai.Client``.  Blocking: imports google-genai."""
        with _CLIENT_LOCK:
            if self._client is None:
                self._client = self._new_client()
            return self._client

    def _new_client(self) -> Any:
        from google import genai
        from google.genai import types

        _keep_finish_message()

        opts: dict[str, Any] = {
            "timeout": max(1, int(self.timeout_seconds * 1000)),  # milliseconds
            "retry_options": types.HttpRetryOptions(attempts=1),
        }
        if not self.vertex:
            opts["api_version"] = API_VERSION
        if self.base_url:
            opts["base_url"] = self.base_url
        if self.extra_headers:
            opts["headers"] = dict(self.extra_headers)
        kwargs: dict[str, Any] = {"http_options": types.HttpOptions(**opts)}
        if self.vertex:
            from banana_studio.engine.vertex import client_kwargs

            setup = self.check_vertex()
            if setup.error is not None:
                raise setup.error
            kwargs.update(client_kwargs(setup))
        else:
            kwargs["vertexai"] = False
            kwargs["api_key"] = self.api_key
        return genai.Client(**kwargs)

    async def aclient(self) -> Any:
        if self._client is not None:
            return self._client
        return await asyncio.to_thread(self.make_client)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.aio.aclose()
            with contextlib.suppress(Exception):
                client.close()


def _keep_finish_message() -> None:
    """google-genai 3.6.1 drops ``candidates[].finishMessage`` when converting Gemini API responses
    (``models._Candidate_from_mldev`` maps known keys only), yet that message is what explains an
    IMAGE_SAFETY / IMAGE_PROHIBITED_CONTENT block.  Wrap the converter once to carry it over."""
    from google.genai import models

    original = getattr(models, "_Candidate_from_mldev", None)
    if original is None or getattr(original, "_keeps_finish_message", False):
        return

    def converter(from_object: Any, parent_object: Any = None, root_object: Any = None) -> dict[str, Any]:
        out = original(from_object, parent_object, root_object)
        if isinstance(from_object, dict) and isinstance(out, dict) and "finish_message" not in out:
            message = from_object.get("finishMessage", from_object.get("finish_message"))
            if isinstance(message, str):
                out["finish_message"] = message
        return out

    converter._keeps_finish_message = True  # type: ignore[attr-defined]
    models._Candidate_from_mldev = converter


def _enum_name(value: Any) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value) or "")


def _sdk_part_to_part(sp: Any) -> Part:
    part = Part(text=sp.text, thought=bool(sp.thought), thought_signature=sp.thought_signature)
    if sp.inline_data is not None:
        part.mime_type = sp.inline_data.mime_type or None
        part.data = sp.inline_data.data if sp.inline_data.data is not None else b""
        if part.mime_type is None:
            part.mime_type = sniff_image_mime(part.data) or "application/octet-stream"
    if sp.model_fields_set - _PART_CORE_FIELDS:  # skip the (slow) dump for plain text/image parts
        extra = sp.model_dump(mode="json", exclude_none=True, exclude=set(_PART_CORE_FIELDS))
        if extra:
            part.extra = extra
    return part


def _usage_from(md: Any) -> Usage:
    def modality_tokens(details: Any, modality: str) -> int:
        total = 0
        for d in details or []:
            if _enum_name(getattr(d, "modality", None)).upper() == modality:
                total += getattr(d, "token_count", 0) or 0
        return total

    return Usage(
        prompt_tokens=md.prompt_token_count or 0,
        candidates_tokens=md.candidates_token_count or 0,
        thoughts_tokens=md.thoughts_token_count or 0,
        total_tokens=md.total_token_count or 0,
        image_tokens=modality_tokens(md.candidates_tokens_details, "IMAGE"),
        prompt_image_tokens=modality_tokens(md.prompt_tokens_details, "IMAGE"),
        tool_use_prompt_tokens=md.tool_use_prompt_token_count or 0,
        raw=md.model_dump(mode="json", exclude_none=True),
    )


def _grounding_from(gm: Any) -> Grounding:
    sources: list[GroundingSource] = []
    for chunk in gm.grounding_chunks or []:
        web = getattr(chunk, "web", None)
        if web is not None and (web.uri or web.title):
            sources.append(GroundingSource(title=web.title or web.domain or "", uri=web.uri or ""))
    rendered = ""
    if gm.search_entry_point is not None:
        rendered = gm.search_entry_point.rendered_content or ""
    return Grounding(queries=list(gm.web_search_queries or []), sources=sources, rendered_content=rendered)


class TurnAssembler:
    """Collects the streamed chunks of ONE model turn into one Content and the events to emit."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.n_drafts = 0
        self.n_finals = 0
        self.n_chunks = 0
        self.saw_candidates = False
        self.finish_reason = ""
        self.finish_message = ""
        self.block_reason = ""
        self.block_message = ""
        self.model_version = ""
        self.response_id = ""
        self.usage: Usage | None = None
        self.grounding: Grounding | None = None
        self.warnings: list[str] = []
        self.base64_text_failed = False

    @property
    def saw_data(self) -> bool:
        return self.n_chunks > 0

    def content(self) -> Content:
        return Content("model", list(self.parts))

    def feed(self, chunk: Any) -> list[Event]:
        self.n_chunks += 1
        events: list[Event] = []
        if chunk.model_version:
            self.model_version = chunk.model_version
        if chunk.response_id:
            self.response_id = chunk.response_id
        if chunk.usage_metadata is not None:
            self.usage = _usage_from(chunk.usage_metadata)
        pf = chunk.prompt_feedback
        if pf is not None and pf.block_reason:
            self.block_reason = _enum_name(pf.block_reason)
            self.block_message = pf.block_reason_message or ""
        if not chunk.candidates:
            return events
        self.saw_candidates = True
        cand = chunk.candidates[0]
        if cand.finish_reason:
            self.finish_reason = _enum_name(cand.finish_reason)
        if cand.finish_message:
            self.finish_message = cand.finish_message
        if cand.grounding_metadata is not None:
            self.grounding = _grounding_from(cand.grounding_metadata)
        sdk_parts = cand.content.parts if cand.content is not None else None
        for sp in sdk_parts or []:
            part = _sdk_part_to_part(sp)
            events.extend(self._add(part))
        return events

    def _maybe_base64_image(self, part: Part) -> Part:
        text = part.text or ""
        if part.thought or len(text) < BASE64_TEXT_MIN or not _BASE64_TEXT.fullmatch(text):
            return part
        try:
            data = b64decode_any("".join(text.split()))
        except ValueError:
            self.base64_text_failed = True
            return part
        mime = sniff_image_mime(data)
        if mime is None:
            self.base64_text_failed = True
            return part
        self.warnings.append("The image arrived as base64 text instead of image data; it was decoded and kept.")
        return Part(thought_signature=part.thought_signature, mime_type=mime, data=data, extra=dict(part.extra))

    def _add(self, part: Part) -> list[Event]:
        if part.text is not None and not part.is_image:
            part = self._maybe_base64_image(part)
        if part.thought_signature is not None and len(part.thought_signature) == 0:
            self.warnings.append(f"The API sent an empty thought signature (part {len(self.parts)}); it was kept as "
                                 "received, but editing from this turn may be rejected.")
        events: list[Event] = []
        if part.is_image:
            if part.thought:
                events.append(DraftImage(part.data or b"", part.mime_type or "", self.n_drafts))
                self.n_drafts += 1
            else:
                events.append(FinalImage(part.data or b"", part.mime_type or "", self.n_finals))
                self.n_finals += 1
            self.parts.append(part)
            return events
        if part.text:
            events.append(ThoughtText(part.text) if part.thought else AnswerText(part.text))
        prev = self.parts[-1] if self.parts else None
        mergeable = (part.text is not None and part.thought_signature is None and not part.extra
                     and part.mime_type is None)
        if (mergeable and prev is not None and prev.text is not None and prev.thought_signature is None
                and not prev.extra and not prev.is_image and prev.mime_type is None
                and prev.thought == part.thought):
            prev.text = (prev.text or "") + (part.text or "")
        else:
            self.parts.append(part)
        return events

    def finish(self) -> list[Event]:
        """Events that close a stream which ended normally (no exception)."""
        content = self.content()
        events: list[Event] = []
        if self.grounding is not None:
            events.append(self.grounding)
        if self.usage is not None:
            events.append(self.usage)
        common: dict[str, Any] = {"model_version": self.model_version, "response_id": self.response_id}
        if not self.saw_candidates:
            if self.block_reason:
                err = blocked_error(self.block_reason, self.block_message)
                events.append(Finished(content, self.block_reason, self.block_message, ok=False, error=err,
                                       warnings=self.warnings, **common))
            elif self.n_chunks == 0:
                events.append(Failed(EngineError("truncated", "The API closed the stream without sending anything. "
                                                 "Retry.", retryable=True)))
            else:
                err = EngineError("no_image", "The API returned an empty answer (no candidates, no reason given). "
                                  "Try again.", retryable=True)
                events.append(Finished(content, "", "", ok=False, error=err, warnings=self.warnings, **common))
            return events
        if not self.finish_reason:
            err = EngineError("truncated", "The answer stream ended before the model finished (no finish reason): "
                              "the image may be missing or incomplete. Retry to generate it again.", retryable=True)
            events.append(Failed(err, partial=content if content.parts else None))
            return events
        finals = content.final_images()
        bad = self.finish_reason not in ("STOP", "FINISH_REASON_UNSPECIFIED", "MAX_TOKENS", "OTHER")
        if finals and not bad:
            if self.n_finals == 0:
                p = finals[-1]
                self.warnings.append("The model flagged its only image as a thought; it is used as the final image.")
                events.append(FinalImage(p.data or b"", p.mime_type or "", 0))
            events.append(Finished(content, self.finish_reason, self.finish_message, ok=True,
                                   warnings=self.warnings, **common))
            return events
        if not content.parts and self.finish_reason == "STOP":
            err = EngineError("no_image", "The model finished (STOP) but returned no content at all (parts: null). "
                              "Try again.", retryable=True)
        elif self.base64_text_failed and self.finish_reason == "STOP":
            err = EngineError("no_image", "The model returned base64-looking text that does not decode to an image. "
                              "Try again.", retryable=True)
        else:
            err = finish_error(self.finish_reason, self.finish_message, answer_text=content.answer_text())
        events.append(Finished(content, self.finish_reason, self.finish_message, ok=False, error=err,
                               warnings=self.warnings, **common))
        return events


async def _stream_once(client: Any, target: ApiTarget, model: str, contents: Any, config: Any,
                       asm: TurnAssembler) -> AsyncIterator[Event]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + target.timeout_seconds
    stream: Any = None
    try:
        stream = await client.aio.models.generate_content_stream(model=model, contents=contents, config=config)
        iterator = stream.__aiter__()
        while True:
            remaining = deadline - loop.time()
            wait = remaining if asm.n_chunks == 0 else min(target.idle_timeout, remaining)
            if wait <= 0:
                raise TimeoutError("overall timeout")
            try:
                async with asyncio.timeout(wait):
                    chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
            for ev in asm.feed(chunk):
                yield ev
    finally:
        if stream is not None:
            with contextlib.suppress(Exception):
                await stream.aclose()


def _backoff(target: ApiTarget, attempt: int, exc: BaseException) -> float:
    server_delay = retry_delay_of(exc)
    if server_delay is not None:
        return min(server_delay, target.max_backoff)
    ceiling = min(target.max_backoff, target.initial_backoff * (2 ** (attempt - 1)))
    return random.uniform(0, ceiling)  # full jitter


async def run_turn(target: ApiTarget, history: list[Content], user: Content,
                   settings: GenerationSettings) -> AsyncIterator[Event]:
    """Stream the events of one turn; exactly one terminal ``Finished`` or ``Failed`` at the end.

    Never raises for API problems.  ``asyncio.CancelledError`` propagates (the HTTP stream is closed).
    """
    # Small requests (no big images) are prepared inline once google-genai is loaded; the thread hops
    # would cost more than the work.  Otherwise (first import, images) off the event loop.
    inline = "google.genai.types" in sys.modules and request_size(history, user, settings) <= INLINE_PREPARE_BYTES
    if inline:
        problems = validate_request(history, user, settings)
    else:
        problems = await asyncio.to_thread(validate_request, history, user, settings)
    if problems:
        yield Failed(EngineError("validation", "\n".join(problems)))
        return
    try:
        if inline:
            contents, config = build_stream_request(history, user, settings)
        else:
            contents, config = await asyncio.to_thread(build_stream_request, history, user, settings)
        client = await target.aclient()
    except Exception as exc:
        yield Failed(map_error(exc, model=settings.model, secrets=target.secrets(), vertex=target.vertex))
        return
    max_attempts = max(1, target.retry_attempts)
    attempt = 1
    while True:
        asm = TurnAssembler()
        err: EngineError | None = None
        delay: float | None = None
        try:
            async with contextlib.aclosing(_stream_once(client, target, settings.model, contents, config, asm)) as s:
                async for ev in s:
                    yield ev
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            mid = asm.saw_data
            err = map_error(exc, model=settings.model, secrets=target.secrets(), vertex=target.vertex, mid_stream=mid,
                            timeout_seconds=(target.idle_timeout if mid else target.timeout_seconds))
            retry = err.retryable and (err.status in RETRYABLE_STATUS or err.kind in ("network", "timeout"))
            if not mid and retry and attempt < max_attempts:
                delay = _backoff(target, attempt, exc)
        if err is not None:
            if asm.saw_data:
                # The SDK's stream generators were abandoned mid-iteration by its exception; they sit in
                # reference cycles with it.  Collect them now, while the loop runs, so the HTTP response
                # is closed in order (otherwise asyncio finalises them together at shutdown and logs
                # "aclose(): asynchronous generator is already running").
                gc.collect()
                content = asm.content()
                yield Failed(err, partial=content if content.parts else None)
                return
            if delay is not None:
                attempt += 1
                yield Retrying(attempt=attempt, max_attempts=max_attempts, delay=delay, reason=err.message)
                await asyncio.sleep(delay)
                continue
            if attempt > 1:
                err.message = f"{err.message} (gave up after {attempt} attempts)"
                err.args = (err.message,)
            yield Failed(err)
            return
        for ev in asm.finish():
            yield ev
        return
