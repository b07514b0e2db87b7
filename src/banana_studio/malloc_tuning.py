"""C allocator tuning: big answer buffers go back to the system when they are freed.

Every real-sized generation passes tens of megabytes through short-lived buffers (a 4K answer event is
~13 MB of JSON, its JPEG ~8 MB, two drafts, 0.5-2.5 MB signatures, Pillow's decoded pixels).  glibc
serves allocations above ``M_MMAP_THRESHOLD`` with their own ``mmap`` and unmaps them on free -- but it
raises that threshold to the size of every big block freed (up to 32 MB), so after the first answer
these buffers come from the heap arenas (one per thread) instead, and the small long-lived objects
allocated between them pin the memory: the process never gives it back.  Measured
(``benchmarks/bench_memory.py``, 4K answers through the service): RSS 105 MB → 283 MB after 100
generations with Python's own objects flat (same block and object counts), 78-90 MB with the threshold
held at 1 MiB.

:func:`tune_malloc` sets ``M_MMAP_THRESHOLD`` to :data:`MMAP_THRESHOLD` (which also stops glibc's dynamic
adjustment).  Called first thing by every entry point (``cli/main.py``).  Linux/glibc only (elsewhere,
or with musl, a no-op); ``BANANA_STUDIO_MALLOC=default`` keeps glibc's behaviour, and so does a
``mmap_threshold`` the user set through ``GLIBC_TUNABLES`` or ``MALLOC_MMAP_THRESHOLD_``.
"""

from __future__ import annotations

import ctypes
import os
import sys

MMAP_THRESHOLD = 1024 * 1024
"""Blocks of at least this many bytes get their own mapping (returned to the system on free)."""
M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter number (malloc.h)."""

_done = False


def user_chose() -> bool:
    """True when the environment already decides the threshold (or asks for glibc's defaults)."""
    if os.environ.get("BANANA_STUDIO_MALLOC", "").strip().lower() == "default":
        return True
    return "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in os.environ.get("GLIBC_TUNABLES", "")


def tune_malloc() -> bool:
    """Hold glibc's mmap threshold at :data:`MMAP_THRESHOLD`.  True if it was set (now or before)."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or user_chose():
        return False
    try:
        # The process's own symbols (dlopen(NULL)) include the C library's: no ``ctypes.util``, whose
        # import and ``find_library`` (it runs ``ldconfig -p``) cost ~40 ms of every CLI start.
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return _done
