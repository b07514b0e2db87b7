"""Engine overhead: one streamed generation through ``banana_studio.engine.run_turn`` vs. a minimal raw
google-genai script (``client.aio.models.generate_content_stream`` + collecting the parts), against the
same local fake server (own process, latency 0 so the client side dominates), same prompt/settings, so
the same 2K / 4K response.  Runs alternate (ABBA), medians and the ratio come from the same run.
Target: engine / raw <= 1.10.

    .venv/bin/python benchmarks/bench_engine.py [--runs 21] [--sizes 2K,4K] [--latency 0]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import ServerProcess, fmt_bytes, med, spread

from banana_studio.domain.content import user_content
from banana_studio.domain.events import Failed, FinalImage, Finished
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine import ApiTarget, run_turn

PROMPT = "A ripe banana astronaut floating above a neon harbour, cinematic"
KEY = "bench-key-not-secret"


class Raw:
    """The minimal raw-SDK client a user would write (one Client, reused)."""

    def __init__(self, base_url: str) -> None:
        from google import genai
        from google.genai import types

        self.types = types
        self.client = genai.Client(api_key=KEY, http_options=types.HttpOptions(
            base_url=base_url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)))

    async def generate(self, size: str) -> int:
        t = self.types
        config = t.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=t.ImageConfig(aspect_ratio="16:9", image_size=size),
            thinking_config=t.ThinkingConfig(include_thoughts=True),
        )
        parts: list[Any] = []
        stream = await self.client.aio.models.generate_content_stream(
            model="gemini-3-pro-image", contents=PROMPT, config=config)
        async for chunk in stream:
            if chunk.candidates and chunk.candidates[0].content and chunk.candidates[0].content.parts:
                parts.extend(chunk.candidates[0].content.parts)
        finals = [p.inline_data.data for p in parts if p.inline_data is not None and not p.thought]
        assert finals, "raw SDK got no final image"
        return len(finals[-1])


class Engine:
    def __init__(self, base_url: str) -> None:
        self.target = ApiTarget(api_key=KEY, base_url=base_url, retry_attempts=1)

    async def generate(self, size: str) -> int:
        settings = GenerationSettings(aspect_ratio="16:9", image_size=size)
        final = 0
        async for ev in run_turn(self.target, [], user_content(PROMPT), settings):
            if isinstance(ev, FinalImage):
                final = len(ev.data)
            elif isinstance(ev, Failed) or (isinstance(ev, Finished) and not ev.ok):
                raise RuntimeError(f"engine failed: {ev}")
        assert final, "engine got no final image"
        return final


async def timed(fn: Any, size: str) -> tuple[float, float, int]:
    """Wall and CPU (whole client process, incl. worker threads) milliseconds of one generation."""
    c0, t0 = time.process_time(), time.perf_counter()
    n = await fn(size)
    return (time.perf_counter() - t0) * 1000.0, (time.process_time() - c0) * 1000.0, n


async def bench(base_url: str, runs: int, sizes: list[str]) -> list[tuple[Any, ...]]:
    raw, eng = Raw(base_url), Engine(base_url)
    rows: list[tuple[Any, ...]] = []
    for size in sizes:
        for _ in range(3):  # warm-up: server-side render cache, connection pools, lazy imports
            await raw.generate(size)
            await eng.generate(size)
        wall: dict[str, list[float]] = {"raw": [], "eng": []}
        cpu: dict[str, list[float]] = {"raw": [], "eng": []}
        nbytes = 0
        for i in range(runs):
            order = [("raw", raw.generate), ("eng", eng.generate)]
            if i % 2:
                order.reverse()
            for name, fn in order:
                w, c, nbytes = await timed(fn, size)
                wall[name].append(w)
                cpu[name].append(c)
        paired = [e / r for e, r in zip(wall["eng"], wall["raw"], strict=True)]
        rows.append((size, fmt_bytes(nbytes), med(wall["raw"]), med(wall["eng"]),
                     f"{med(wall['eng']) / med(wall['raw']):.3f}", f"{med(paired):.3f}",
                     med(cpu["raw"]), med(cpu["eng"]), f"{med(cpu['eng']) / med(cpu['raw']):.3f}",
                     spread(wall["raw"]), spread(wall["eng"])))
    await eng.target.aclose()
    await raw.client.aio.aclose()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--sizes", default="2K,4K")
    ap.add_argument("--latency", type=float, default=0.0, help="fake server thinking delay per streamed step")
    args = ap.parse_args()
    with ServerProcess(latency=args.latency) as srv:
        rows = asyncio.run(bench(srv.base_url, args.runs, args.sizes.split(",")))
    print(f"Engine vs raw google-genai, 16:9, thoughts on, fake server (own process) latency {args.latency} s, "
          f"{args.runs} alternating runs; CPU = client process time")
    print(table(["size", "final image", "raw wall ms", "engine wall ms", "ratio", "paired ratio", "raw CPU ms",
                 "engine CPU ms", "CPU ratio", "raw min–max", "engine min–max"], rows))
    ok = all(float(r[4]) <= 1.10 for r in rows)
    print(f"target engine/raw (ratio of wall medians) <= 1.10: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
