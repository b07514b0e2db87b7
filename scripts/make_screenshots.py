#!/usr/bin/env python3
"""Regenerate the headless screenshots in ``screenshots/`` (SVG, plus PNG when rsvg-convert exists).

    .venv/bin/python scripts/make_screenshots.py

Runs the real studio App in demo mode (local server, synthetic images) in a temporary data dir:
at 160×48 the main screen mid-generation (thoughts and drafts streaming), after a two-turn edit, in
focus mode, with the settings open, the help and the command palette; at 80×24 after a generation and with the tree on.
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
from typing import Any

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
    from banana_studio.tui.widgets.thinking_log import ThinkingLog

    cfg = load_config()
    cfg.defaults = GenerationSettings(aspect_ratio="16:9", image_size="2K")
    studio = Studio.open(cfg, project="lighthouse-series", demo=True)
    names: list[str] = []

    def shoot(app: object, name: str) -> None:
        app.save_screenshot(f"{name}.svg", path=str(OUT))  # type: ignore[attr-defined]
        names.append(name)

    try:
        for size, prefix in (((160, 48), "main"), ((80, 24), "main-80x24")):
            app = make_app(studio)
            async with app.run_test(size=size) as pilot:
                main_screen = app.screen

                async def send(text: str, main_screen: Any = main_screen, pilot: Any = pilot) -> None:
                    prompt = main_screen.query_one(PromptArea)
                    prompt.focus()
                    prompt.load_text(text)
                    await pilot.press("ctrl+j")

                async def wait_done(timeout: float = 30, main_screen: Any = main_screen, pilot: Any = pilot) -> None:
                    deadline = time.monotonic() + timeout
                    await pilot.pause(0.3)
                    while main_screen.generating and time.monotonic() < deadline:
                        await pilot.pause(0.1)
                    await pilot.pause(1.0)

                await pilot.pause(0.5)
                if prefix == "main":
                    await send("a lighthouse at dusk, oil painting, warm light on the rocks")
                    await wait_done()
                    await send("now make it stormy, with huge waves")
                    # Thoughts and the first draft are in, the final is not yet (waits on the log, not a clock).
                    log = main_screen.query_one(ThinkingLog)
                    deadline = time.monotonic() + 30
                    while log.n_drafts < 1 and main_screen.generating and time.monotonic() < deadline:
                        await pilot.pause(0.05)
                    await pilot.pause(0.3)
                    shoot(app, "main-mid-generation")
                    await wait_done()
                    shoot(app, "main-after-generation")
                    await pilot.press("f6")
                    await pilot.pause(2.5)  # the preview redraws at its new size
                    shoot(app, "main-focus-mode")
                    await pilot.press("f6", "f4")
                    await pilot.pause(2.5)
                    shoot(app, "main-settings-open")
                    await pilot.press("f4")  # settings folded again, back in the prompt
                    await pilot.pause(1.0)
                    await pilot.press("f1")
                    await pilot.pause(1.0)
                    shoot(app, "main-help")
                    await pilot.press("escape", "ctrl+p")
                    await pilot.pause(1.0)
                    shoot(app, "main-command-palette")
                    await pilot.press("escape")
                else:
                    await send("a red fox in the snow")
                    await wait_done()
                    shoot(app, "main-80x24")
                    await pilot.press("escape")
                    await pilot.pause(2.5)
                    shoot(app, "main-80x24-tree")
    finally:
        await studio.aclose()
        shutil.rmtree(tmp, ignore_errors=True)
    if shutil.which("rsvg-convert"):
        for name in names:
            subprocess.run(["rsvg-convert", str(OUT / f"{name}.svg"), "-o", str(OUT / f"{name}.png")], check=True)


if __name__ == "__main__":
    asyncio.run(main())
