"""Garbage-collector tuning for the interactive studio.

Measured with ``benchmarks/bench_ui.py``: with CPython's default thresholds, full (generation 2)
collections walked the ~300,000 long-lived objects of Textual, Rich, Pillow and google-genai and
stalled the event loop for 130-300 ms while a 4K image streamed in (Textual's strips alone carry
seven small caches each, so a redraw allocates tens of thousands of tracked objects).

:func:`tune_for_interactive` (called once the first screen is up) moves everything alive at that
point into the permanent generation (``gc.freeze``: never scanned again; those objects live for
the whole session anyway), and makes young collections less frequent and full ones rare, so each
pause stays short.  Reference counting still frees almost everything immediately; only cyclic
garbage waits for a collection.  ``cli/studio.py`` also switches the collector off during start-up
(imports + first screen: ~10% less CPU), so this is where it is switched back on.  Idempotent;
``BANANA_STUDIO_GC=default`` keeps CPython's defaults.
"""

from __future__ import annotations

import gc
import os

THRESHOLDS = (5_000, 10, 10)
"""(young, middle, old) — CPython's defaults are (700, 10, 10).  Only young collections are made rarer:
full collections must still run regularly, because cyclic garbage (closed widgets) can hold megabytes of
native image memory.  With (5_000, 20, 100) RSS grew ~1.7 MB per 4K generation (100 generations: 160 ->
310 MB); with (5_000, 10, 10) it levels off, and full collections stay short because the start-up heap is
frozen (``benchmarks/bench_memory.py --tui``, ``benchmarks/bench_ui.py``)."""

_done = False


def tune_for_interactive() -> bool:
    """Freeze the start-up heap, raise the collection thresholds and (re-)enable the collector (the
    studio command disables it while importing and building the first screen).  Returns False when
    ``BANANA_STUDIO_GC=default`` asked for CPython's defaults (the collector is enabled either way)."""
    global _done
    if os.environ.get("BANANA_STUDIO_GC", "").strip().lower() == "default":
        gc.enable()
        return False
    if not _done:
        gc.set_threshold(*THRESHOLDS)
        _done = True
    gc.freeze()
    gc.enable()
    return True
