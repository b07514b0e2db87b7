"""Tiny shared helpers for the benchmarks: timing (median of N runs) and a plain-text table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any


def time_runs(fn: Callable[[], Any], runs: int = 5, warmup: int = 0) -> list[float]:
    """Call ``fn`` ``warmup`` + ``runs`` times; return the ``runs`` durations in milliseconds."""
    for _ in range(warmup):
        fn()
    out: list[float] = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def median_ms(fn: Callable[[], Any], runs: int = 5, warmup: int = 0) -> float:
    return statistics.median(time_runs(fn, runs, warmup))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns side by side, left-aligned text and right-aligned numbers."""
    def cell(v: Any) -> str:
        return f"{v:.1f}" if isinstance(v, float) else str(v)

    cells = [[cell(v) for v in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [all(isinstance(r[i], (int, float)) for r in rows) for i in range(len(headers))]

    def fmt(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    lines = [fmt(headers), "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines)
