"""Garbage-collector tuning for the interactive studio.

Measured with ``benchmarks/bench_ui.py``: with CPython's default thresholds, full (generation 2)
collections walked the ~300,000 long-lived objects of Textual, Rich, Pillow and google-genai and
stalled the event loop for 130-300 ms while a 4K image streamed in (Textual's strips alone carry
seven small caches each, so a redraw allocates tens of thousands of tracked objects).

:func:`tune_for_interactive` (called once the first screen is up) moves everything alive at that
point into the permanent generation (``gc.freeze``: never scanned again; those objects live for
the whole session anyway), and makes young collections less frequent and full ones rare, so each
pause stays short, and inside the studio each collection runs in a loop tick of its own.
Reference counting still frees almost everything immediately; only cyclic garbage waits for a
collection.  ``cli/studio.py`` also switches the collector off during start-up (imports + first
screen: ~10% less CPU), so this is where collections start again.  Idempotent;
``BANANA_STUDIO_GC=default`` keeps CPython's defaults (automatic collection, default thresholds);
``BANANA_STUDIO_GC=automatic`` keeps the tuning but lets CPython collect when it likes (no pacing).
"""

from __future__ import annotations

import asyncio
import gc
import os
from typing import Any

THRESHOLDS = (5_000, 10, 10)
"""(young, middle, old) — CPython's defaults are (700, 10, 10).  Only young collections are made rarer:
full collections must still run regularly, because cyclic garbage (closed widgets) can hold megabytes of
native image memory.  With (5_000, 20, 100) RSS grew ~1.7 MB per 4K generation (100 generations: 160 ->
310 MB); with (5_000, 10, 10) it levels off, and full collections stay short because the start-up heap is
frozen (``benchmarks/bench_memory.py --tui``, ``benchmarks/bench_ui.py``)."""

PACE_SECONDS = 0.02
"""How often the studio's loop checks whether a collection is due (:func:`collect_due`): often enough that
each young collection stays small (at 0.1 s, ~100k objects piled up between checks during a stream and
the paced middle collections took 60-70 ms on their own).  The check itself is one ``gc.get_count()``."""

_done = False


def _young_due() -> bool:
    """The young generation's count has passed its threshold: CPython would collect now."""
    return gc.get_count()[0] >= gc.get_threshold()[0]


def collect_due() -> int | None:
    """Make the one collection CPython would have made by now, if any: the oldest generation whose
    count passed its threshold once the young one has (``gc.collect(n)`` moves the counts exactly as
    an automatic collection does).  Returns the generation collected, or ``None``."""
    if not _young_due():
        return None
    _, middle, old = gc.get_count()
    _, t_middle, t_old = gc.get_threshold()
    generation = (2 if old >= t_old else 1) if middle >= t_middle else 0
    gc.collect(generation)
    return generation


def tune_for_interactive(app: Any = None) -> bool:
    """Freeze the start-up heap and raise the collection thresholds; the studio command disables the
    collector while importing and building the first screen.

    With ``app`` (a running Textual app), collections are paced by the app's own loop: automatic
    collection stays off and an interval timer makes each due collection in a loop tick of its own
    (:func:`collect_due`), never in the middle of a frame.  A young collection landing inside a frame
    that composites half the screen (the end of a turn) added 20-45 ms to an already ~50 ms tick
    (``benchmarks/bench_frames.py``).  :func:`resume_automatic` turns automatic collection back on
    when the app stops.  Without ``app``, automatic collection is (re-)enabled.  Returns False when
    ``BANANA_STUDIO_GC=default`` asked for CPython's defaults (collection is automatic then)."""
    global _done
    choice = os.environ.get("BANANA_STUDIO_GC", "").strip().lower()
    if choice == "default":
        gc.enable()
        return False
    if not _done:
        gc.set_threshold(*THRESHOLDS)
        _done = True
    gc.freeze()
    if app is None or choice == "automatic":
        gc.enable()
        return True
    gc.disable()
    app.set_interval(PACE_SECONDS, _pace, name="gc-pacer")
    return True


_queued = False


def _pace() -> None:
    """The pacing timer: when a collection is due, make it in the loop's next pass, after the other
    callbacks due now (a frame, another timer), so that no tick holds both a frame and a collection."""
    global _queued
    if _queued or not _young_due():
        return
    _queued = True

    def collect() -> None:
        global _queued
        _queued = False
        collect_due()

    asyncio.get_running_loop().call_soon(collect)


def resume_automatic() -> None:
    """Automatic collection again (the app that paced it is stopping)."""
    gc.enable()
