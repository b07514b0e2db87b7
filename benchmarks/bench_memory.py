"""Memory across 100 generated 4K images in one Studio session (through the service, as the TUI and
`gen` use it): a 16:9 4K (5504x3072) generation with thoughts and two drafts, 100 times in a row, each
continuing the previous turn every 10th time (so history replay with images and signatures is
exercised too), against the fake server in its own process.  RSS (VmRSS) is sampled after every
generation, peak RSS (VmHWM) at the end; the studio runs in a fresh child process.
Target: bounded — RSS after 100 generations within 64 MB of RSS after 10 (no per-image growth).

    .venv/bin/python benchmarks/bench_memory.py [--n 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import PY, ServerProcess, peak_rss_mb, rss_mb

GROWTH_LIMIT_MB = 64.0


async def child(n: int, base_url: str, root: Path) -> dict[str, Any]:
    from banana_studio.config import load_config
    from banana_studio.domain.events import FinalImage, TurnSaved
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import GenerateRequest, Studio

    config = load_config()
    config.base_url = base_url
    studio = Studio.open(config, project="memory", project_dir=root)
    settings = GenerationSettings(aspect_ratio="16:9", image_size="4K")
    samples: list[tuple[int, float, float]] = []
    parent: int | None = None
    bytes_total = 0
    t0 = time.perf_counter()
    try:
        for i in range(1, n + 1):
            req = GenerateRequest(prompt=f"Banana still life number {i}, oil painting, warm light",
                                  parent_id=parent if i % 10 else None, settings=settings)
            status = ""
            async for ev in studio.generate(req):
                if isinstance(ev, FinalImage):
                    bytes_total += len(ev.data)
                elif isinstance(ev, TurnSaved):
                    status = ev.turn.status
                    parent = ev.turn.id
            if status != "done":
                raise RuntimeError(f"generation {i} ended {status!r}")
            samples.append((i, rss_mb(), time.perf_counter() - t0))
    finally:
        await studio.aclose()
    return {"samples": samples, "peak": peak_rss_mb(), "bytes": bytes_total, "seconds": time.perf_counter() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--child", nargs=2, metavar=("BASE_URL", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(child(args.n, args.child[0], Path(args.child[1])))))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp_s, ServerProcess(latency=0.0) as srv:
        tmp = Path(tmp_s)
        env = dict(os.environ)
        env.update({"BANANA_STUDIO_CONFIG": str(tmp / "config.toml"), "BANANA_STUDIO_DATA_DIR": str(tmp / "data"),
                    "BANANA_STUDIO_CACHE_DIR": str(tmp / "cache"), "BANANA_STUDIO_LOG_DIR": str(tmp / "log"),
                    "GOOGLE_API_KEY": "bench-key-not-secret", "GEMINI_API_KEY": ""})
        res = subprocess.run([PY, __file__, "--n", str(args.n), "--child", srv.base_url, str(tmp / "projects")],
                             capture_output=True, text=True, env=env, timeout=900)
        if res.returncode != 0:
            print(res.stdout, res.stderr, file=sys.stderr)
            return 1
        out = json.loads(res.stdout.strip().splitlines()[-1])
        disk = sum(p.stat().st_size for p in (tmp / "projects").rglob("*") if p.is_file()) / 1e6
    samples = out["samples"]
    by_i = {i: (rss, secs) for i, rss, secs in samples}
    marks = [m for m in (1, 2, 5, 10, 25, 50, 75, 100, args.n) if m in by_i]
    marks = sorted(set(marks))
    rows = [(m, by_i[m][0], by_i[m][1]) for m in marks]
    print(f"{args.n} x 16:9 4K generations in one Studio session (service, fake server in its own process); "
          f"{out['bytes'] / 1e6:.0f} MB of final images received, project on disk {disk:.0f} MB, "
          f"{out['seconds']:.0f} s")
    print(table(["after generation", "RSS MB", "elapsed s"], rows))
    ref = by_i[min(10, args.n)][0]
    last = by_i[args.n][0]
    growth = last - ref
    verdict = "met" if growth < GROWTH_LIMIT_MB else "MISSED"
    print(f"peak RSS (VmHWM): {out['peak']:.1f} MB; RSS growth from generation {min(10, args.n)} to {args.n}: "
          f"{growth:+.1f} MB (bounded if < {GROWTH_LIMIT_MB:.0f} MB: {verdict})")
    return 0 if growth < GROWTH_LIMIT_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
