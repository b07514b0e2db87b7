"""The service (``Studio.generate``: record the turn, stream, save drafts, save the turn) vs a minimal raw
google-genai script on the same local server (own process), same prompt and settings, runs
interleaved (ABBA).  Also the longest gap between the last draft image and the final image as each
client sees them (the service used to wait for each draft's file write before reading on).

Target: service / raw <= 1.10; draft → final gap close to raw's.

    .venv/bin/python benchmarks/bench_service.py [--runs 7] [--size 4K]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import ServerProcess, med, spread

KEY = "bench-key-not-secret"
PROMPT = "A ripe banana astronaut floating above a neon harbour, cinematic"


async def raw_once(client: Any, types: Any, size: str) -> tuple[float, float]:
    config = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"],
                                         image_config=types.ImageConfig(aspect_ratio="16:9", image_size=size),
                                         thinking_config=types.ThinkingConfig(include_thoughts=True))
    t0 = time.perf_counter()
    last_draft = final = 0.0
    stream = await client.aio.models.generate_content_stream(model="gemini-3-pro-image", contents=PROMPT,
                                                             config=config)
    async for chunk in stream:
        for part in (chunk.candidates[0].content.parts or []) if chunk.candidates and chunk.candidates[0].content \
                else []:
            if part.inline_data is not None:
                if part.thought:
                    last_draft = time.perf_counter()
                else:
                    final = time.perf_counter()
    assert final, "raw SDK got no final image"
    return (time.perf_counter() - t0) * 1000, (final - last_draft) * 1000 if last_draft else 0.0


async def service_once(studio: Any, size: str) -> tuple[float, float]:
    from banana_studio.domain.events import DraftImage, FinalImage, TurnSaved
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import GenerateRequest

    req = GenerateRequest(prompt=PROMPT, settings=GenerationSettings(aspect_ratio="16:9", image_size=size))
    t0 = time.perf_counter()
    last_draft = final = 0.0
    status = ""
    async for ev in studio.generate(req):
        if isinstance(ev, DraftImage):
            last_draft = time.perf_counter()
        elif isinstance(ev, FinalImage):
            final = time.perf_counter()
        elif isinstance(ev, TurnSaved):
            status = ev.turn.status
    assert status == "done", status
    return (time.perf_counter() - t0) * 1000, (final - last_draft) * 1000 if last_draft else 0.0


async def amain(runs: int, size: str, base_url: str, root: Path) -> list[tuple[Any, ...]]:
    from google import genai
    from google.genai import types

    from banana_studio.config import load_config
    from banana_studio.services import Studio

    raw = genai.Client(api_key=KEY, http_options=types.HttpOptions(
        base_url=base_url, api_version="v1beta", retry_options=types.HttpRetryOptions(attempts=1)))
    config = load_config()
    config.base_url = base_url
    studio = Studio.open(config, project="service", project_dir=root)
    try:
        await raw_once(raw, types, size)
        await service_once(studio, size)  # warm-up: imports, connections
        res: dict[str, list[tuple[float, float]]] = {"raw": [], "service": []}
        for i in range(runs):
            order = ("raw", "service") if i % 2 == 0 else ("service", "raw")
            for which in order:
                res[which].append(await (raw_once(raw, types, size) if which == "raw" else service_once(studio, size)))
    finally:
        await studio.aclose()
    ratios = [s[0] / r[0] for s, r in zip(res["service"], res["raw"], strict=True)]
    rows = [(name, med([x[0] for x in v]), spread([x[0] for x in v]), med([x[1] for x in v]))
            for name, v in res.items()]
    rows.append(("service / raw (paired median)", med(ratios), spread(ratios), float("nan")))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--size", default="4K")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp_s, ServerProcess(latency=0.0) as srv:
        tmp = Path(tmp_s)
        os.environ.update({"BANANA_STUDIO_CONFIG": str(tmp / "config.toml"),
                           "BANANA_STUDIO_DATA_DIR": str(tmp / "data"), "BANANA_STUDIO_CACHE_DIR": str(tmp / "cache"),
                           "BANANA_STUDIO_LOG_DIR": str(tmp / "log"), "GOOGLE_API_KEY": KEY, "GEMINI_API_KEY": ""})
        rows = asyncio.run(amain(args.runs, args.size, srv.base_url, tmp / "projects"))
    print(f"{args.size} generation, {args.runs} interleaved runs each (ms):")
    print(table(["client", "whole generation median", "min–max", "last draft → final median"], rows))
    ratio = rows[-1][1]
    print(f"service / raw {ratio:.2f}: {'ok' if ratio <= 1.10 else 'over'} (target <= 1.10)")
    return 0 if ratio <= 1.10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
