#!/usr/bin/env python3
"""Screenshots of the hand-off: ``screenshots/handoff-xterm.png`` (the real studio in xterm under
Xvfb after ``H``, as over SSH) and ``screenshots/web-gallery-*.png`` (the web gallery in headless
Chromium).

    .venv/bin/python scripts/make_handoff_screenshots.py

Uses the demo project of scripts/make_xterm_screenshots.py (the local server, synthetic images).
Needs Xvfb, xterm, xdotool, ImageMagick, and chromium + chromium-driver + selenium for the web shots.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from make_xterm_screenshots import COLS, OUT, ROWS, make_project, save  # noqa: E402
from test_pictures import shows  # noqa: E402
from xsession import Session  # noqa: E402

SSH = "203.0.113.9 50022 198.51.100.7 22"


def terminal_shot(tmp: Path) -> None:
    work = tmp / "work"
    work.mkdir()
    session = Session(tmp, work)
    session.env.update({"SSH_CONNECTION": SSH, "LOGNAME": "ana"})
    try:
        session.start_x()
        session.start_studio("xterm", ["--demo", "-p", "demo"], geometry=(COLS, ROWS))
        session.wait_for("main preview", shows("MainScreen", "preview", fills=0.9))
        session.key("Escape")
        time.sleep(1.0)  # a lone Esc: sent right before H, the terminal's bytes would read as Alt+H
        session.key("H")
        session.wait_for("hand-off", lambda s: None if s.layout().get("screen") == "HandoffScreen"
                         and s.last_layout.get("modal") else f"screen {s.last_layout.get('screen')}")
        time.sleep(2.0)  # the layout file is written before the frame reaches the X server
        session.screenshot()
        save(session, "handoff-xterm.png")
    finally:
        session.close()


def shrink(path: Path) -> None:
    """A browser screenshot as a 256-colour PNG (a tenth of the size; the pages are flat colours)."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def web_shots(tmp: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    from banana_studio.web import Gallery

    opts = Options()
    opts.binary_location = shutil.which("chromium") or "chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--hide-scrollbars", f"--user-data-dir={tmp / 'chromium'}"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "chromedriver"), options=opts)
    try:
        with Gallery(tmp / "data" / "projects-demo") as g:
            drv.get(g.project_url("demo"))
            drv.execute_async_script("const done = arguments[arguments.length - 1];"
                                     "Promise.all([...document.images].map(i => (i.loading = 'eager', i.decode())"
                                     ".catch(() => 0))).then(done);")
            drv.save_screenshot(str(OUT / "web-gallery-project.png"))
            drv.find_element(By.LINK_TEXT, "#4").click()
            drv.set_window_size(1100, 1500)  # the picture, its download link and the recipe below it
            drv.execute_async_script("const done = arguments[arguments.length - 1];"
                                     "document.querySelector('figure img').decode().then(done, done);")
            drv.save_screenshot(str(OUT / "web-gallery-turn.png"))
            for name in ("web-gallery-project.png", "web-gallery-turn.png"):
                shrink(OUT / name)
                print("wrote", OUT / name)
    finally:
        drv.quit()


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bs-handoff-shots-"))
    try:
        make_project(tmp)
        terminal_shot(tmp)
        web_shots(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
