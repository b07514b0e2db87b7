"""Event-loop stall while a preview shows a huge picture (moved here from tests/tui/test_images.py:
timings belong in benchmarks, the test keeps the deterministic part -- the work runs in a thread).

A 5504x3072 PNG is shown from a cold cache in an ImagePreview (half-cell, 120x40).  A 2 ms timer in
the app's event loop records, per tick, the wall-clock gap and the CPU time the loop's thread itself
used in it: work done on the loop (decode, resize, paint preparation) shows in both; being
descheduled on a busy machine shows only in the wall clock.  Target: loop CPU per tick < 50 ms.

    .venv/bin/python benchmarks/bench_image_stall.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from textual.app import App, ComposeResult

from banana_studio.tui import images as im


class _PreviewApp(App[None]):
    def compose(self) -> ComposeResult:
        yield im.ImagePreview(id="preview", protocol="halfcell")


def _gradient(width: int, height: int) -> Image.Image:
    x = Image.linear_gradient("L").resize((width, height))
    return Image.merge("RGB", (x, x.transpose(Image.Transpose.ROTATE_180), x.rotate(90).resize((width, height))))


async def run_once(path: Path) -> tuple[float, float]:
    """(longest wall-clock gap, longest loop-thread CPU per tick), in seconds."""
    im.CACHE.clear()
    app = _PreviewApp()
    async with app.run_test(size=(120, 40)) as pilot:
        preview = app.query_one(im.ImagePreview)
        gaps: list[float] = []
        cpu: list[float] = []
        done = False

        async def ticker() -> None:
            last, last_cpu = time.perf_counter(), time.thread_time()
            while not done:
                await asyncio.sleep(0.002)
                now, now_cpu = time.perf_counter(), time.thread_time()
                gaps.append(now - last)
                cpu.append(now_cpu - last_cpu)
                last, last_cpu = now, now_cpu

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        assert await preview.show_path(path)
        await pilot.pause()
        await pilot.pause()
        done = True
        await task
        return max(gaps), max(cpu)


async def main(runs: int) -> int:
    im.select_image_protocol("halfcell")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huge.png"
        _gradient(5504, 3072).save(path, compress_level=1)
        results = [await run_once(path) for _ in range(runs)]
    print("| run | longest loop gap (wall) | longest loop CPU in one tick |")
    print("|---|---|---|")
    for i, (wall, cpu) in enumerate(results, 1):
        print(f"| {i} | {wall * 1000:.1f} ms | {cpu * 1000:.1f} ms |")
    worst_cpu = max(cpu for _, cpu in results)
    print(f"\nworst loop CPU per tick: {worst_cpu * 1000:.1f} ms (target < 50 ms)")
    return 0 if worst_cpu < 0.05 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
