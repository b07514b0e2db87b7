"""Memory across 100 generated 4K images in one Studio session (through the service, as the TUI and
`gen` use it): a 16:9 4K (5504x3072) generation with thoughts and two drafts, 100 times in a row, each
continuing the previous turn and every fifth starting a new thread (so history replay with images and
signatures is exercised too), against the fake server in its own process.  RSS (VmRSS) is sampled after every
generation, peak RSS (VmHWM) at the end; the studio runs in a fresh child process.
Target: bounded — RSS after 100 generations within 64 MB of RSS after 10 (no per-image growth).
``--tui`` does the same through the studio App (Pilot 160x50, half-cell previews, prompt + send,
a new thread every fifth turn), which adds the UI's own memory to the picture.

    .venv/bin/python benchmarks/bench_memory.py [--n 100] [--tui]
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
THREAD_EVERY = 5
"""A new thread every fifth turn: at real size a 16:9 4K answer (final ~8 MB, two drafts, two
signatures of up to 2.5 MB) adds ~15 MB of base64 to every later request, so a 4K branch reaches the
100 MB request limit at its 7th turn (the studio then offers "continue from the image alone")."""


async def child(n: int, base_url: str, root: Path) -> dict[str, Any]:
    from banana_studio.malloc_tuning import tune_malloc

    tune_malloc()  # as every entry point does (cli/main.py)
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
                                  parent_id=parent if i % THREAD_EVERY else None, settings=settings)
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


async def child_tui(n: int, base_url: str, root: Path) -> dict[str, Any]:
    """The same through the real studio App (Pilot, 160x50, half-cell previews): prompt, send, wait
    until the turn is saved and its final image is in the preview, n times."""
    from banana_studio.malloc_tuning import tune_malloc

    tune_malloc()  # as every entry point does (cli/main.py)
    import os as _os

    from banana_studio.tui import images as tui_images

    tui_images.select_image_protocol("halfcell")
    from banana_studio.config import load_config
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import Studio
    from banana_studio.tui.app import make_app
    from banana_studio.tui.images import ImagePreview
    from banana_studio.tui.screens.main import NEW_ROOT
    from banana_studio.tui.widgets.prompt import PromptArea

    _os.environ["GOOGLE_API_KEY"] = "bench-key-not-secret"
    config = load_config()
    config.base_url = base_url
    config.defaults = GenerationSettings(aspect_ratio="16:9", image_size="4K")
    studio = Studio.open(config, project="memory-tui", project_dir=root)
    app = make_app(studio, project_dir=root)
    samples: list[tuple[int, float, float]] = []
    t0 = time.perf_counter()
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause(0.5)
            screen = app.screen
            for i in range(1, n + 1):
                screen.query_one(PromptArea).load_text(f"Banana still life number {i}, oil painting")
                if i % THREAD_EVERY == 1:  # a new thread every fifth turn (branch replay stays under the request limit)
                    screen.parent_override = NEW_ROOT
                screen.action_send()
                preview = screen.query_one(ImagePreview)
                started = time.perf_counter()
                while True:
                    await asyncio.sleep(0.02)
                    src = preview.source
                    if not screen.generating and src is not None and f"{i:04d}" in Path(src).name:
                        break
                    if time.perf_counter() - started > 60:
                        raise RuntimeError(f"generation {i} did not finish in 60 s")
                samples.append((i, rss_mb(), time.perf_counter() - t0))
    finally:
        await studio.aclose()
    return {"samples": samples, "peak": peak_rss_mb(), "bytes": 0, "seconds": time.perf_counter() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--tui", action="store_true", help="generate through the studio App (Pilot) instead")
    ap.add_argument("--child", nargs=2, metavar=("BASE_URL", "ROOT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        fn = child_tui if args.tui else child
        print(json.dumps(asyncio.run(fn(args.n, args.child[0], Path(args.child[1])))))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp_s, ServerProcess(latency=0.0) as srv:
        tmp = Path(tmp_s)
        env = dict(os.environ)
        env.update({"BANANA_STUDIO_CONFIG": str(tmp / "config.toml"), "BANANA_STUDIO_DATA_DIR": str(tmp / "data"),
                    "BANANA_STUDIO_CACHE_DIR": str(tmp / "cache"), "BANANA_STUDIO_LOG_DIR": str(tmp / "log"),
                    "GOOGLE_API_KEY": "bench-key-not-secret", "GEMINI_API_KEY": ""})
        cmd = [PY, __file__, "--n", str(args.n), "--child", srv.base_url, str(tmp / "projects")]
        res = subprocess.run(cmd + (["--tui"] if args.tui else []), capture_output=True, text=True, env=env,
                             timeout=900)
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
    how = "the studio App (Pilot, half-cell previews)" if args.tui else "the service"
    print(f"{args.n} x 16:9 4K generations in one session through {how}, fake server in its own process; "
          f"project on disk {disk:.0f} MB, {out['seconds']:.0f} s")
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
