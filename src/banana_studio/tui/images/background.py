"""The threads that decode, scale and encode pictures, at a lower CPU priority than the event loop.

Moving Pillow work off the event loop is not enough on a small, busy machine: the decode thread
and the loop then compete for the same cores, and the loop -- which only needs a few milliseconds
now and then -- waits behind a 100 ms decode for the scheduler.  So picture work runs in a small pool
whose threads are niced (Linux: ``setpriority`` applies per thread; elsewhere nothing is changed,
since there it would lower the whole process).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

NICE_STEP = 5
"""How much nicer than the process a background thread is."""

_BASE_NICE = os.getpriority(os.PRIO_PROCESS, 0) if hasattr(os, "getpriority") else 0


def lower_this_thread() -> None:
    """Make the calling thread :data:`NICE_STEP` nicer than the process (Linux only; best effort)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, _BASE_NICE + NICE_STEP))
    except (OSError, AttributeError):
        pass


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 2)), thread_name_prefix="picture",
                                       initializer=lower_this_thread)
        return _POOL


async def in_background(fn: Callable[..., T], *args: Any) -> T:
    """``await asyncio.to_thread(fn, *args)``, in the niced picture pool."""
    return await asyncio.get_running_loop().run_in_executor(pool(), lambda: fn(*args))


async def prepare_then_repaint(widget: Any, key: Any, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(*args)`` (it fills a cache the widget paints from) in the picture pool, then repaint
    ``widget`` if its ``_bs_pending`` mark is still ``key``.  The mark is cleared even when ``fn``
    fails, so the picture is never left "being prepared" (a blank box) for good; a failed key is
    repainted -- hence tried again -- once, never in a loop (``_bs_failed``)."""
    failed = False
    try:
        await in_background(fn, *args)
    except Exception:
        failed = True
    if widget._bs_pending == key:
        widget._bs_pending = None
        if not failed or widget._bs_failed != key:
            widget._bs_failed = key if failed else None
            widget.refresh()
