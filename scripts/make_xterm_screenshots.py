#!/usr/bin/env python3
"""Regenerate the real-terminal screenshots in ``screenshots/*-xterm*.png``.

    .venv/bin/python scripts/make_xterm_screenshots.py

Builds a demo project with ``banana-studio gen --demo`` (the local server, synthetic images) in a
temporary data dir, runs the real studio in xterm (sixel, ``-ti vt340``) under Xvfb with the harness
of tests/realterm, and saves a screenshot once each screen shows its pictures whole (checked by the
same pixel comparison as the tests).  Needs Xvfb, xterm, xdotool and ImageMagick.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"
sys.path.insert(0, str(ROOT / "tests" / "realterm"))

from test_pictures import every, shows  # noqa: E402
from xsession import Session, env_for  # noqa: E402

COLS, ROWS = 141, 42
TURNS = [  # (prompt, aspect, parent turn)
    ("a red fox in the snow at dawn", "16:9", None),
    ("a lighthouse at dusk, oil painting", "4:3", None),
    ("make it night, with a full moon", "16:9", 1),
    ("add northern lights", "16:9", 3),
    ("a bowl of ramen, top-down", "1:1", None),
]


def make_project(root: Path) -> None:
    cli = [sys.executable, "-m", "banana_studio.cli.main"]
    for prompt, aspect, parent in TURNS:
        extra = ["--parent", str(parent)] if parent else []
        subprocess.run([*cli, "gen", "--demo", "--quiet", "--yes", "-p", "demo", "-a", aspect, *extra, prompt],
                       env=env_for(root), check=True, capture_output=True, timeout=600)


def save(session: Session, name: str, size: tuple[int, int] = (COLS, ROWS)) -> None:
    assert session.last_shot is not None
    cw, ch = session.last_layout["cell"]
    session.last_shot.crop((0, 0, size[0] * cw, size[1] * ch)).save(OUT / name)
    print("wrote", OUT / name)


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bs-xterm-shots-"))
    try:
        make_project(tmp)
        work = tmp / "work"
        work.mkdir()
        session = Session(tmp, work)
        try:
            session.start_x()
            session.start_studio("xterm", ["--demo", "-p", "demo"], geometry=(COLS, ROWS))
            session.wait_for("main preview", shows("MainScreen", "preview", fills=0.9))
            session.wait_for("turn thumbnails", every("MainScreen", "Thumbnail"))
            save(session, "sixel-xterm.png")
            save(session, "main-xterm-sixel.png")
            session.key("ctrl+b")
            session.wait_for("branch view", shows("MainScreen", "preview", fills=0.9))
            save(session, "branch-xterm.png")
            session.key("ctrl+g")
            session.wait_for("gallery", shows("GalleryScreen", "Thumbnail", count=len(TURNS)))
            save(session, "gallery-xterm.png")
            session.key("c", "Right", "c")  # mark two cards: the compare screen opens
            session.wait_for("compare", lambda s: None if s.layout().get("screen") == "CompareScreen"
                             and len(s.pictures()) >= 2 and shows("CompareScreen", "", count=2)(s) is None
                             else f"screen {s.last_layout.get('screen')}")
            save(session, "gallery-compare-xterm.png")
            session.key("Escape")
            session.wait_for("gallery again", shows("GalleryScreen", "Thumbnail", count=len(TURNS)))
            session.key("Return")
            session.wait_for("viewer", shows("ViewerScreen", "viewer-image", fills=0.95))
            save(session, "viewer-fit-xterm.png")
            session.key("z")
            session.wait_for("viewer 1:1", lambda s: None if s.layout().get("screen") == "ViewerScreen"
                             and s.pictures() else "no picture")
            save(session, "viewer-1to1-xterm.png")
        finally:
            session.close()
        sized_shots(tmp, (160, 48), [("main-160x48-xterm-sixel.png", ()),
                                     ("main-160x48-xterm-sixel-key1-F6.png", ("F6",))])
        sized_shots(tmp, (80, 24), [("main-80x24-xterm-sixel.png", ()),
                                    ("main-80x24-xterm-sixel-tree.png", ("ctrl+b",))])
        sized_shots(tmp, (160, 48), [("main-160x48-xterm-halfcell.png", ())], "halfcell")
        sized_shots(tmp, (80, 24), [("main-80x24-xterm-halfcell.png", ())], "halfcell")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def sized_shots(tmp: Path, size: tuple[int, int], shots: list[tuple[str, tuple[str, ...]]],
                protocol: str = "") -> None:
    """The main screen at one terminal size (the layout's breakpoints), after each shot's keys."""
    work = tmp / f"work-{size[0]}x{size[1]}-{protocol or 'sixel'}"
    work.mkdir()
    session = Session(tmp, work)
    extra = ["--image-protocol", protocol] if protocol else []
    try:
        session.start_x("1600x1000")  # room for 160×48 cells at the harness's font size
        session.start_studio("xterm", [*extra, "--demo", "-p", "demo"], geometry=size)
        for name, keys in shots:
            if keys:
                session.key(*keys)
            session.wait_for(name, shows("MainScreen", "preview", fills=0.9))
            save(session, name, size)
    finally:
        session.close()


if __name__ == "__main__":
    raise SystemExit(main())
