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
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.content import Content
from banana_studio.domain.events import (
    DraftImage,
    EngineError,
    Event,
    Failed,
    FinalImage,
    Retrying,
)
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import DEMO_TARGET_TEXT
from banana_studio.engine.assembler import TurnAssembler
from banana_studio.engine.errors import (
    RETRYABLE_STATUS,
    map_error,
    retry_delay_of,
)
from banana_studio.engine.request import (
    API_VERSION,
    build_stream_request,
    request_size,
    validate_request,
)
from banana_studio.engine.server_text import silence_sdk_value_warnings
from banana_studio.engine.spliced_answer import activate as activate_answer
from banana_studio.engine.spliced_answer import restore, splice_answer_hook
from banana_studio.engine.spliced_body import activate, hook_in_use, splice_hook, with_placeholders
from banana_studio.engine.stream_cap import cap_stream_response, too_large_in
from banana_studio.engine.stream_thread import WORKER, stream_chunks
from banana_studio.engine.tls_ahead import client_args as tls_client_args
from banana_studio.engine.tls_ahead import start as start_tls_ahead

_CLIENT_LOCK = threading.Lock()
INLINE_PREPARE_BYTES = 256 * 1024
"""Requests up to this size are validated and converted on the event loop (well under a millisecond:
two thread hops cost more than the work); bigger ones, carrying images, go to a worker thread."""


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
    _stream_client: Any = field(default=None, init=False, repr=False, compare=False)
    """The client of the streaming calls, used on the stream worker loop only (see ``stream_thread``)."""

    @property
    def label(self) -> str:
        if self.demo:
            return DEMO_TARGET_TEXT
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

    def _new_client(self, *, stream: bool = False) -> Any:
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
        # httpx hooks: the answer stream is bounded while it arrives (stream_cap); on the stream client,
        # big request bytes are base64-encoded while the body streams out (spliced_body).
        hooks: dict[str, list[Any]] = {"response": [cap_stream_response]}
        if stream:  # ... and big answer bytes are base64-decoded in slices before the SDK parses (spliced_answer)
            hooks["request"] = [splice_hook]
            hooks["response"].append(splice_answer_hook)
        opts["async_client_args"] = {"event_hooks": hooks}
        if not self.vertex:  # TLS contexts made ahead on another core (tls_ahead), when they are the SDK's
            ahead = tls_client_args(types.HttpOptions(**opts), opts["async_client_args"])
            if ahead is not None:
                opts["client_args"], opts["async_client_args"] = ahead
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
        silence_sdk_value_warnings()
        return genai.Client(**kwargs)

    def stream_client(self) -> Any:
        """Build (or return) the client the stream worker loop uses.  Blocking; call it there."""
        with _CLIENT_LOCK:
            if self._stream_client is None:
                self._stream_client = self._new_client(stream=True)
            return self._stream_client

    async def astream_client(self) -> Any:
        """The stream worker's client, built off the loop the first time.  A turn needs only this one:
        building the other too (its own TLS context, certificate store and HTTP pools) cost every
        ``gen`` process ~0.1-0.3 s of CPU for a client it never used."""
        if self._stream_client is not None:
            return self._stream_client
        return await asyncio.to_thread(self.stream_client)

    async def aclient(self) -> Any:
        """The client for calls other than the answer stream (batch jobs, files), built off the loop
        the first time (with the stream worker's one)."""
        if self._client is not None and self._stream_client is not None:
            return self._client

        def both() -> Any:
            self.stream_client()
            return self.make_client()

        return await asyncio.to_thread(both)

    async def aclose(self) -> None:
        streamer, self._stream_client = self._stream_client, None
        if streamer is not None:
            with contextlib.suppress(Exception):
                await WORKER.run(streamer.aio.aclose)
            with contextlib.suppress(Exception):
                streamer.close()
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


async def _stream_once(target: ApiTarget, model: str, contents: Any, config: Any,
                       asm: TurnAssembler) -> AsyncIterator[Event]:
    # The SDK encodes the request and decodes the chunks on the stream worker loop (stream_thread), and
    # each chunk becomes its typed, checked events there too (``to_events``): the caller's loop receives
    # finished events, nothing big is decoded on it.  Deadlines, idle timeout and cancellation are
    # applied here, on the caller's loop.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + target.timeout_seconds
    received: dict[bytes, bytes] = {}

    async def open_stream() -> Any:  # on the worker loop, in a task of its own
        streamer = target.stream_client()
        sdk_contents = contents
        if hook_in_use(streamer):  # else (aiohttp, an auth session) the SDK encodes everything itself
            sdk_contents, placeholders = with_placeholders(contents)
            activate(placeholders)
            activate_answer(received)
        return await streamer.aio.models.generate_content_stream(model=model, contents=sdk_contents, config=config)

    async def to_events(chunk: Any) -> list[Event]:  # on the worker loop, chunk after chunk
        events = []
        for ev in asm.feed(restore(chunk, received)):
            # Every image is checked (in a thread: Pillow) before anyone sees or saves it.
            if isinstance(ev, (DraftImage, FinalImage)) and not await asyncio.to_thread(asm.check_image, ev):
                continue
            events.append(ev)
        return events

    stream: Any = None
    try:
        stream = stream_chunks(open_stream, transform=to_events)
        iterator = stream.__aiter__()
        while True:
            remaining = deadline - loop.time()
            wait = remaining if asm.n_chunks == 0 else min(target.idle_timeout, remaining)
            if wait <= 0:
                raise TimeoutError("overall timeout")
            try:
                async with asyncio.timeout(wait):
                    events = await iterator.__anext__()
            except StopAsyncIteration:
                break
            for ev in events:
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
    if target._stream_client is None and not target.vertex:
        start_tls_ahead()  # the client's TLS contexts, on another core while the SDK loads (tls_ahead)
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
        await target.astream_client()
    except Exception as exc:
        yield Failed(map_error(exc, model=settings.model, secrets=target.secrets(), vertex=target.vertex))
        return
    max_attempts = max(1, target.retry_attempts)
    attempt = 1
    while True:
        asm = TurnAssembler(target.secrets())
        err: EngineError | None = None
        delay: float | None = None
        try:
            async with contextlib.aclosing(_stream_once(target, settings.model, contents, config, asm)) as s:
                async for ev in s:
                    yield ev
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            mid = asm.saw_data
            big = too_large_in(exc)
            if big is not None:
                err = EngineError("bad_image", f"The server sent an answer event over {big.limit / 1e6:.0f} MB "
                                  "(no valid image is that big); it was refused without being read whole. Retry "
                                  "to generate it again.", retryable=False)
            else:
                err = map_error(exc, model=settings.model, secrets=target.secrets(), vertex=target.vertex,
                                mid_stream=mid,
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
                yield Failed(err, partial=content if content.parts else None, rejected=asm.rejected)
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
