"""Where the longest event-loop ticks of a 4K generation go (issue 13, row 1: what bounds the stall).

The studio is driven as in ``bench_ui.py`` §1 (Pilot 160x50, a 16:9 4K generation sent from the prompt,
the local server in its own process).  Every callback the event loop runs on its own thread during the
generation is timed with the thread's CPU clock; for each one over ``--slow`` ms the report splits it:

* **layout + paint**: Textual's ``Screen._refresh_layout`` (the screen's update timer), of which
  ``reflow`` (arranging widgets) and ``render_update`` (compositing the changed regions), of which the
  widgets' own ``render_lines``;
* **handlers**: the rest (the studio's message handlers, mounts, CSS).

The floor, in the same run: a bare Textual app of the same size painting a picture of the same cell
size once (precomputed half-cell segments in one Static) -- what Textual alone costs for one frame
that shows a new picture.

    .venv/bin/python benchmarks/bench_frames.py [--gen-runs 3] [--protocols halfcell,sixel,kitty] [--textual-cuts]

``--textual-cuts`` paints every generation a second time (order alternating) with Textual's own
``_render_chops`` instead of the studio's (``tui/compositor_cuts.py``): the gain, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
import threading
import time
from asyncio import events
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_ui
from _common import table
from _perf import ServerProcess, med

SLOW_MS = 25.0


class FrameRecorder:
    """Times the loop thread's callbacks and, inside them, Textual's layout and paint steps."""

    def __init__(self, slow_ms: float) -> None:
        self.slow = slow_ms / 1000
        self.active = False
        self.frames: list[dict[str, Any]] = []
        self._parts: collections.Counter[str] = collections.Counter()
        self._widgets: collections.Counter[str] = collections.Counter()
        self._saved: list[tuple[Any, str, Any]] = []

    def _timed(self, owner: Any, name: str, key: str, per_widget: bool = False) -> None:
        original = getattr(owner, name)
        parts, widgets = self._parts, self._widgets

        def wrapper(obj: Any, *args: Any, **kwargs: Any) -> Any:
            c0 = time.thread_time()
            try:
                return original(obj, *args, **kwargs)
            finally:
                spent = time.thread_time() - c0
                parts[key] += spent
                if per_widget:
                    widgets[type(obj).__name__] += spent

        self._saved.append((owner, name, original))
        setattr(owner, name, wrapper)

    def install(self) -> None:
        from textual._compositor import Compositor
        from textual.screen import Screen
        from textual.widget import Widget

        self._timed(Screen, "_refresh_layout", "layout_paint")
        self._timed(Compositor, "reflow", "reflow")
        self._timed(Compositor, "render_update", "render_update")
        self._timed(Widget, "render_lines", "widgets", per_widget=True)
        original_run = events.Handle._run
        recorder = self
        main = threading.main_thread()

        def run(handle: Any) -> Any:
            if threading.current_thread() is not main:
                return original_run(handle)
            recorder._parts.clear()
            recorder._widgets.clear()
            c0 = time.thread_time()
            try:
                return original_run(handle)
            finally:
                spent = time.thread_time() - c0
                if recorder.active and spent > recorder.slow:
                    p = recorder._parts
                    recorder.frames.append({
                        "cpu": spent * 1000, "layout_paint": p["layout_paint"] * 1000, "reflow": p["reflow"] * 1000,
                        "render_update": p["render_update"] * 1000, "widgets": p["widgets"] * 1000,
                        "top": ", ".join(f"{k} {v * 1000:.0f}" for k, v in recorder._widgets.most_common(3))})

        self._saved.append((events.Handle, "_run", original_run))
        events.Handle._run = run  # type: ignore[method-assign]

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved.clear()


async def studio_frames(rec: FrameRecorder, tmp: Path, base_url: str, protocol: str, tag: str) -> list[dict[str, Any]]:
    """One generation; the slow ticks inside it (the StallMonitor's window: send → preview final)."""
    rec.frames = []
    start, stop = bench_ui.StallMonitor.start, bench_ui.StallMonitor.stop

    def started(mon: Any) -> None:
        rec.active = True
        start(mon)

    async def stopped(mon: Any) -> None:
        rec.active = False
        await stop(mon)

    bench_ui.StallMonitor.start, bench_ui.StallMonitor.stop = started, stopped  # type: ignore[method-assign]
    try:
        await bench_ui.generation_stalls(tmp, base_url, protocol, tag)
    finally:
        bench_ui.StallMonitor.start, bench_ui.StallMonitor.stop = start, stop  # type: ignore[method-assign]
    return list(rec.frames)


def picture_segments(cols: int, rows: int) -> list[list[Any]]:
    """Half-cell lines of a photo-like 4K picture scaled to ``cols`` x ``rows`` cells."""
    from io import BytesIO

    from PIL import Image
    from rich.color import Color
    from rich.segment import Segment
    from rich.style import Style

    img = Image.open(BytesIO(bench_ui.photo_like_4k())).convert("RGB").resize((cols, rows * 2))
    px = img.load()
    lines = []
    for y in range(rows):
        lines.append([Segment("▀", Style(color=Color.from_rgb(*px[x, 2 * y]),
                                         bgcolor=Color.from_rgb(*px[x, 2 * y + 1]))) for x in range(cols)])
    return lines


async def floor_frame(rec: FrameRecorder, lines: list[list[Any]]) -> float:
    """A bare Textual app (160x50) shows ``lines`` in one Static: the loop CPU of that tick."""
    from rich.segment import Segment
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Picture:
        def __rich_console__(self, console: Any, options: Any) -> Any:
            for line in lines:
                yield from line
                yield Segment.line()

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("bare Textual", id="pic")

    async with Bare().run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.2)
        rec.frames, rec.slow, saved = [], 0.0, rec.slow
        rec.active = True
        pilot.app.query_one("#pic", Static).update(Picture())
        await asyncio.sleep(0.3)
        rec.active, rec.slow = False, saved
    return max((f["cpu"] for f in rec.frames), default=0.0)


async def amain(args: argparse.Namespace) -> int:
    from textual._compositor import Compositor

    from banana_studio.tui import compositor_cuts

    rec = FrameRecorder(args.slow)
    rec.install()
    rows: list[tuple[Any, ...]] = []
    worst_rows: list[tuple[Any, ...]] = []
    floors: list[float] = []
    lines = picture_segments(100, 38)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-frames-") as tmp_s:
            tmp = Path(tmp_s)
            bench_ui._env(tmp)
            with ServerProcess(latency=0.3) as srv:
                bench_ui._nice_server(srv)
                variants = [("", compositor_cuts.render_chops)]
                if args.textual_cuts:  # the same generations painted by Textual's own line division
                    variants.append((" (Textual's cuts)", compositor_cuts.ORIGINAL))
                for proto in args.protocols.split(","):
                    worst: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in variants}
                    counts: dict[str, list[int]] = {label: [] for label, _ in variants}
                    for i in range(args.gen_runs):
                        for label, chops in variants[i % len(variants):] + variants[:i % len(variants)]:
                            Compositor._render_chops = chops  # type: ignore[method-assign]
                            frames = await studio_frames(rec, tmp, srv.base_url, proto, f"{proto}-{i}{label}")
                            counts[label].append(len(frames))
                            if frames:
                                worst[label].append(max(frames, key=lambda f: f["cpu"]))
                        Compositor._render_chops = compositor_cuts.render_chops  # type: ignore[method-assign]
                        floors.append(await floor_frame(rec, lines))
                    for label, _ in variants:
                        add_rows(proto + label, worst[label], counts[label], rows, worst_rows)
    finally:
        rec.uninstall()
    print(f"Longest loop-thread tick per 4K generation (CPU ms; {args.gen_runs} generations per protocol, "
          f"Pilot 160x50, ticks over {args.slow:.0f} ms counted)")
    print(table(["protocol", "worst tick (median)", "worst tick (max)", "layout+paint", "reflow", "compositing",
                 "widgets' render_lines", "handlers", f"ticks > {args.slow:.0f} ms"], rows))
    print(f"floor: a bare Textual app painting a 100x38-cell picture once: {med(floors):.1f} ms loop CPU "
          f"(max {max(floors):.1f}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(table(["protocol", "widgets that painted longest in the worst tick (ms)"], worst_rows))
    return 0


def add_rows(proto: str, worst: list[dict[str, Any]], counts: list[int], rows: list[tuple[Any, ...]],
             worst_rows: list[tuple[Any, ...]]) -> None:
    if not worst:
        return
    w = max(worst, key=lambda f: f["cpu"])
    paint = [f["layout_paint"] for f in worst]
    rows.append((proto, med([f["cpu"] for f in worst]), w["cpu"], med(paint),
                                 med([f["reflow"] for f in worst]), med([f["render_update"] for f in worst]),
                                 med([f["widgets"] for f in worst]),
                 med([f["cpu"] - f["layout_paint"] for f in worst]), med([float(c) for c in counts])))
    worst_rows.append((proto, w["top"]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gen-runs", type=int, default=3)
    ap.add_argument("--protocols", default="halfcell,sixel,kitty")
    ap.add_argument("--slow", type=float, default=SLOW_MS, help="count ticks with more loop CPU than this (ms)")
    ap.add_argument("--textual-cuts", action="store_true",
                    help="also paint each generation with Textual's own _render_chops (tui/compositor_cuts.py)")
    return asyncio.run(amain(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
