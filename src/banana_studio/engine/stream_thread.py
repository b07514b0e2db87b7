"""google-genai's streaming call, run on a private event loop in one worker thread.

Sending a turn makes the SDK base64-encode every image and signature of the history and
``json.dumps`` the whole request (~15 ms per MB: a 60 MB branch would freeze the studio for most of
a second), and every streamed chunk is JSON-parsed, base64-decoded and validated into pydantic
objects.  All of that happens inside ``generate_content_stream`` and its iterator, so both run here,
on the worker loop, with their own ``genai.Client`` (an async HTTP client belongs to one loop).  An
optional ``transform`` also runs here, per chunk, in order (the engine turns each chunk into its typed,
checked events there), so the caller's loop only receives finished results through a queue.

The worker thread and its executor (the image checks) run a little nicer than the process (Linux), so
on a busy machine the caller's event loop is scheduled first when both want a core.

Cancel, timeouts and retries stay with the caller: :func:`stream_chunks` is an async iterator on the
caller's loop; leaving it for any reason (cancellation, an ``asyncio.timeout`` around ``__anext__``,
an exception, ``aclose``) cancels the worker task, which closes the HTTP stream, and waits until it
has.  Errors raised by the SDK are re-raised on the caller's loop unchanged.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_CHUNK, _ERROR, _END = 0, 1, 2
CLOSE_WAIT_SECONDS = 10.0
"""Longest wait, when the consumer leaves, for the worker to close the HTTP stream (a safety bound:
closing a socket does not block)."""


NICE_STEP = 5
_BASE_NICE = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else 0


def lower_this_thread() -> None:
    """Make the calling thread :data:`NICE_STEP` nicer than the process (Linux, where ``setpriority``
    is per thread; elsewhere it would lower the whole process, so nothing is done)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, _BASE_NICE + NICE_STEP))


class WorkerLoop:
    """One daemon thread running an event loop forever, started on first use."""

    def __init__(self, name: str = "genai-stream") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    lower_this_thread()
                    loop.set_default_executor(ThreadPoolExecutor(thread_name_prefix=f"{self._name}-check",
                                                                 initializer=lower_this_thread))
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                threading.Thread(target=run, name=self._name, daemon=True).start()
                ready.wait()
                self._loop = loop
                atexit.register(self.shutdown)
            return self._loop

    def shutdown(self, timeout: float = 2.0) -> None:
        """Close the async generators still alive on the worker loop (an HTTP response the SDK left
        open after a mid-stream error), while the loop still runs: at interpreter exit they would
        otherwise be finalised without it and print "Exception ignored in: <async_generator …>"."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running() or self.in_thread():
            return
        fut = asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop)
        with contextlib.suppress(Exception):
            fut.result(timeout)

    def in_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        """Await ``make()`` on the worker loop from any other loop (cancelling this cancels it)."""
        fut = asyncio.run_coroutine_threadsafe(_call(make), self.loop)
        try:
            return await asyncio.wrap_future(fut)
        finally:
            fut.cancel()


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


WORKER = WorkerLoop()


async def stream_chunks(open_stream: Callable[[], Awaitable[AsyncIterator[Any]]],
                        worker: WorkerLoop = WORKER,
                        transform: Callable[[Any], Awaitable[Any]] | None = None) -> AsyncIterator[Any]:
    """Open the stream with ``open_stream()`` on the worker loop and yield its chunks here (each one
    passed through ``await transform(chunk)`` on the worker loop first, when given)."""
    caller = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    closed = asyncio.Event()

    def put(kind: int, value: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's loop is already gone
            caller.call_soon_threadsafe(queue.put_nowait, (kind, value))

    async def pump() -> None:
        stream: Any = None
        try:
            stream = await open_stream()
            async for chunk in stream:
                put(_CHUNK, chunk if transform is None else await transform(chunk))
            put(_END, None)
        except asyncio.CancelledError:
            # Cancelled by the consumer leaving (it is no longer reading); or, should the SDK cancel
            # itself, the consumer must not wait forever.
            put(_ERROR, ConnectionError("the answer stream was cancelled inside the HTTP client"))
            raise
        except BaseException as exc:
            put(_ERROR, exc)
        finally:
            if stream is not None:
                with contextlib.suppress(Exception):
                    await stream.aclose()

    def closed_soon(_task: object) -> None:
        with contextlib.suppress(RuntimeError):
            caller.call_soon_threadsafe(closed.set)

    task: list[asyncio.Task[None]] = []

    def start() -> None:  # on the worker loop
        t = asyncio.get_running_loop().create_task(pump())
        t.add_done_callback(closed_soon)  # also when cancelled before its first step
        task.append(t)

    def stop() -> None:  # on the worker loop, always after start()
        task[0].cancel()

    loop = worker.loop
    loop.call_soon_threadsafe(start)
    try:
        while True:
            kind, value = await queue.get()
            if kind == _CHUNK:
                yield value
            elif kind == _ERROR:
                raise value
            else:
                return
    finally:
        loop.call_soon_threadsafe(stop)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                await closed.wait()


__all__ = ["WORKER", "WorkerLoop", "stream_chunks"]
