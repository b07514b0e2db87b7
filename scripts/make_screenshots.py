#!/usr/bin/env python3
"""Regenerate the headless screenshots in ``screenshots/`` (SVG, plus PNG when rsvg-convert exists).

    .venv/bin/python scripts/make_screenshots.py

Runs the real studio App in demo mode (local server, synthetic images) in a temporary data dir:
the main screen mid-generation (thoughts and drafts streaming) and after a two-turn edit.
The real-terminal (xterm sixel) screenshots are taken with ``../shared/tools/real-terminal-check.sh``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bs-shots-"))
    os.environ.update({"BANANA_STUDIO_DATA_DIR": str(tmp / "data"), "BANANA_STUDIO_CONFIG": str(tmp / "c.toml"),
                       "BANANA_STUDIO_CACHE_DIR": str(tmp / "cache"), "BANANA_STUDIO_DEMO_LATENCY": "0.6"})
    os.environ.pop("GOOGLE_API_KEY", None)
    os.environ.pop("GEMINI_API_KEY", None)
    from banana_studio.tui.images import select_image_protocol

    select_image_protocol("halfcell")
    from banana_studio.config import load_config
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import Studio
    from banana_studio.tui.app import make_app
    from banana_studio.tui.widgets.prompt import PromptArea

    cfg = load_config()
    cfg.defaults = GenerationSettings(aspect_ratio="16:9", image_size="2K")
    studio = Studio.open(cfg, project="lighthouse-series", demo=True)
    app = make_app(studio)
    try:
        async with app.run_test(size=(140, 45)) as pilot:
            main_screen = app.screen

            async def send(text: str) -> None:
                prompt = main_screen.query_one(PromptArea)
                prompt.focus()
                prompt.load_text(text)
                await pilot.press("ctrl+j")

            async def wait_done(timeout: float = 30) -> None:
                deadline = time.monotonic() + timeout
                await pilot.pause(0.3)
                while main_screen._generating and time.monotonic() < deadline:
                    await pilot.pause(0.1)
                await pilot.pause(1.0)

            await pilot.pause(0.5)
            await send("a lighthouse at dusk, oil painting, warm light on the rocks")
            await wait_done()
            await send("now make it stormy, with huge waves")
            await pilot.pause(2.3)  # thoughts and the drafts are streaming, the final is not in yet
            app.save_screenshot("main-mid-generation.svg", path=str(OUT))
            await wait_done()
            app.save_screenshot("main-after-generation.svg", path=str(OUT))
    finally:
        await studio.aclose()
        shutil.rmtree(tmp, ignore_errors=True)
    if shutil.which("rsvg-convert"):
        for name in ("main-mid-generation", "main-after-generation"):
            subprocess.run(["rsvg-convert", str(OUT / f"{name}.svg"), "-o", str(OUT / f"{name}.png")], check=True)


if __name__ == "__main__":
    asyncio.run(main())
