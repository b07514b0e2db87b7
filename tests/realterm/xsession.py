"""Harness for the real-terminal tests: the studio runs inside xterm (sixel, ``-ti vt340``) or kitty
under Xvfb, screenshots come from the X server itself (ImageMagick ``import -window root``), and the
tests compare the pixels where a picture should be with the picture's own file.

Nothing here sleeps and then asserts: :meth:`Session.wait_for` takes screenshots until a condition
holds, within a generous overall deadline (a busy 2-core machine is fine).  The tests are skipped, with
the reason, only when Xvfb / a terminal / ImageMagick / xdotool are not installed (``.ci/run`` installs
them).
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "launch_studio.py"
BASE_TOOLS = ("Xvfb", "import", "xdotool")
DEADLINE = 120.0
"""Seconds a condition may take to hold (start-up + decode + encode on a loaded 2-core box)."""


def require(*tools: str) -> None:
    missing = [t for t in (*BASE_TOOLS, *tools) if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (apt-get install xvfb xterm xdotool imagemagick "
                    "x11-utils fonts-dejavu-core; .ci/run does)")


def env_for(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GEMINI_BASE_URL",
                        "BANANA_STUDIO_IMAGE_PROTOCOL", "TMUX", "SSH_CONNECTION", "TEXTUAL_CELL_WIDTH",
                        "TEXTUAL_CELL_HEIGHT", "GOOGLE_GENAI_USE_ENTERPRISE",
                        # pytest-xdist workers set COLUMNS=80 LINES=24, and Textual believes them over the
                        # terminal's own size: the real terminal must decide
                        "COLUMNS", "LINES")}
    env.update({"BANANA_STUDIO_DATA_DIR": str(data / "data"), "BANANA_STUDIO_CONFIG": str(data / "config.toml"),
                "BANANA_STUDIO_CACHE_DIR": str(data / "cache"), "BANANA_STUDIO_LOG_DIR": str(data / "logs")})
    return env


@dataclass
class Picture:
    """One image widget as the app laid it out: its source file and its cells on the terminal."""

    id: str
    kind: str
    source: Path
    region: tuple[int, int, int, int]
    box: tuple[int, int, int, int]
    """The cells the widget could fill (its content area)."""
    whole: tuple[int, int, int, int] | None = None
    """The cells of the whole picture, parts scrolled out of view included (``region`` is the
    visible part of it)."""

    @property
    def fills(self) -> float:
        """How much of its box the picture fills along its longer fitted side (1.0: edge to edge)."""
        return max(self.region[2] / max(1, self.box[2]), self.region[3] / max(1, self.box[3]))


class Session:
    """Xvfb + one terminal running the studio (``launch_studio.py``), with screenshots and keys."""

    def __init__(self, data: Path, work: Path) -> None:
        self.data = data
        self.work = work
        self.layout_file = work / "layout.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.display = ""
        self.last_shot: Image.Image | None = None
        self.last_layout: dict[str, Any] = {}
        self.env = env_for(data)

    # -- lifecycle ------------------------------------------------------------------------------
    def start_x(self, screen: str = "1280x800") -> None:
        read, write = os.pipe()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{screen}x24", "-nolisten", "tcp"],
                                pass_fds=(write,), stdout=subprocess.DEVNULL,
                                stderr=open(self.work / "xvfb.log", "wb"))  # noqa: SIM115
        self.procs.append(xvfb)
        os.close(write)
        number = b""
        with os.fdopen(read, "rb") as pipe:  # Xvfb writes the display number once it accepts clients
            while not number.endswith(b"\n"):
                chunk = pipe.read(1)
                if not chunk:
                    raise AssertionError(f"Xvfb did not start: {(self.work / 'xvfb.log').read_text()}")
                number += chunk
        self.display = f":{number.decode().strip()}"
        self.env["DISPLAY"] = self.display

    def start_studio(self, terminal: str, args: list[str], geometry: tuple[int, int] = (140, 40)) -> None:
        cols, rows = geometry
        self.layout_file.unlink(missing_ok=True)
        inner = [sys.executable, str(LAUNCHER), str(self.layout_file), "--", *args]
        if os.environ.get("BANANA_REALTERM_TYPESCRIPT"):  # debugging: every byte the app writes
            inner = ["script", "-q", "-O", str(self.work / "typescript"), "-c", shlex.join(inner)]
        log = open(self.work / f"{terminal}.log", "wb")  # noqa: SIM115
        env = dict(self.env)
        if terminal == "xterm":
            # xterm sets TERM=xterm for its child: Textual would then use 16 colours (half-cell pictures
            # posterised).  A desktop xterm user has xterm-256color + truecolor.
            inner = ["env", "TERM=xterm-256color", "COLORTERM=truecolor", *inner]
            cmd = ["xterm", "-ti", "vt340", "-xrm", "XTerm*decTerminalID: vt340",
                   "-xrm", "XTerm*numColorRegisters: 256", "-xrm", "XTerm*maxGraphicSize: 4096x4096",
                   "-xrm", "XTerm*sixelScrolling: true", "-xrm", "XTerm*privateColorRegisters: true",
                   "-xrm", "XTerm*utf8: 1", "-xrm", "XTerm*locale: true",
                   "-fa", "DejaVu Sans Mono", "-fs", "11", "-bg", "black", "-fg", "white",
                   "-b", "0", "-bw", "0", "+sb", "-geometry", f"{cols}x{rows}+0+0", "-title", "realterm",
                   "-e", *inner]
        elif terminal == "kitty":
            env.update({"LIBGL_ALWAYS_SOFTWARE": "1", "MESA_GL_VERSION_OVERRIDE": "3.3"})
            cmd = ["kitty", "--config", "NONE", "-o", "font_size=11", "-o", "remember_window_size=no",
                   "-o", f"initial_window_width={cols}c", "-o", f"initial_window_height={rows}c",
                   "-o", "placement_strategy=top-left", "-o", "window_padding_width=0",
                   "-o", "enable_audio_bell=no", "-o", "sync_to_monitor=no", "-o", "linux_display_server=x11",
                   "--title", "realterm", *inner]
        else:
            raise ValueError(terminal)
        self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True, cwd=self.work))

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM) if proc is not self.procs[0] else proc.terminate()
                except ProcessLookupError:
                    pass
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # -- looking and typing -----------------------------------------------------------------------
    def screenshot(self) -> Image.Image:
        png = subprocess.run(["import", "-display", self.display, "-window", "root", "png:-"],
                             capture_output=True, timeout=60, check=True).stdout
        self.last_shot = Image.open(io.BytesIO(png)).convert("RGB")
        return self.last_shot

    def layout(self) -> dict[str, Any]:
        try:
            self.last_layout = json.loads(self.layout_file.read_text())
        except (OSError, ValueError):
            self.last_layout = {}
        return self.last_layout

    def pictures(self, kind: str | None = None) -> list[Picture]:
        found = [Picture(p["id"], p["kind"], Path(p["source"]), tuple(p["region"]), tuple(p["box"]),  # type: ignore[arg-type]
                         tuple(p["whole"]) if p.get("whole") else None)
                 for p in self.layout().get("pictures", [])]
        return [p for p in found if not kind or p.kind == kind or p.id == kind]

    def key(self, *keys: str) -> None:
        # No window manager: the keyboard focus follows the pointer, so park it inside the terminal
        # (top-left corner, over the title bar) and send real XTEST key events.
        subprocess.run(["xdotool", "mousemove", "3", "3"], env=self.env, check=True, timeout=30)
        for key in keys:
            subprocess.run(["xdotool", "key", key], env=self.env, check=True, timeout=30)

    def resize_window(self, width: int, height: int) -> None:
        wid = subprocess.run(["xdotool", "search", "--name", "realterm"], env=self.env, capture_output=True,
                             text=True, timeout=30).stdout.split()
        assert wid, "the terminal window was not found"
        for w in wid:
            subprocess.run(["xdotool", "windowsize", w, str(width), str(height)], env=self.env, timeout=30)

    def wait_for(self, what: str, check: Callable[[Session], str | None], timeout: float = DEADLINE) -> None:
        """Screenshot until ``check(self)`` returns None (it returns why not otherwise)."""
        started = time.monotonic()
        deadline = started + timeout
        why = "never checked"
        while True:
            self.screenshot()
            why = check(self) or ""
            if not why:
                print(f"{what}: held after {time.monotonic() - started:.1f} s")
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)  # between screenshots only: the condition, not the time, decides
        keep = Path(os.environ.get("BANANA_REALTERM_ARTIFACTS", self.work))  # pytest's tmp dirs rotate
        keep.mkdir(parents=True, exist_ok=True)
        shot = keep / f"failed-{os.getpid()}-{what.replace(' ', '-')[:40]}.png"
        if self.last_shot is not None:
            self.last_shot.save(shot)
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in self.work.glob("*.log"))
        raise AssertionError(f"{what}: {why}\n(screenshot: {shot}; layout: {self.last_layout})\n{logs}")


# -- pixels ---------------------------------------------------------------------------------------


@dataclass
class Match:
    """How well the screenshot shows a picture in its cells, measured per cell (averaged colours)."""

    cells: float
    """Share of the cells whose average colour matches the picture's there."""
    rows: float
    """Share of the cell rows in which most cells match (a one-band strip scores 1/rows)."""
    lit: float
    """Share of the cells that are not the empty background."""

    def __str__(self) -> str:
        return f"cells {self.cells:.0%}, rows {self.rows:.0%}, not background {self.lit:.0%}"


def match(shot: Image.Image, picture: Picture, cell: tuple[int, int], tolerance: int = 48) -> Match:
    """Compare the screenshot's pixels in ``picture.region`` with the picture's file, cell by cell."""
    x, y, w, h = picture.region
    cw, ch = cell
    box = shot.crop((x * cw, y * ch, (x + w) * cw, (y + h) * ch))
    seen = box.resize((w, h), Image.Resampling.BOX)
    with Image.open(picture.source) as source:
        if picture.whole is not None:
            # A picture scrolled partly out of view (a thumbnail at the bottom of the turn detail, or
            # at the right end of its strip) shows only its part inside the visible region: compare
            # with that part of the file.
            wx, wy, ww, wh = picture.whole
            expected = source.convert("RGB").resize((ww * cw, wh * ch), Image.Resampling.BILINEAR)
            left, top = x - wx, y - wy
        else:
            expected = source.convert("RGB").resize((w * cw, h * ch), Image.Resampling.BILINEAR)
            left = top = 0
    expected = expected.crop((left * cw, top * ch, (left + w) * cw, (top + h) * ch))
    expected = expected.resize((w, h), Image.Resampling.BOX)
    diff = _pixels(ImageChops.difference(seen, expected))
    ok = [max(px) <= tolerance for px in diff]
    rows_ok = sum(sum(ok[r * w:(r + 1) * w]) >= 0.75 * w for r in range(h))
    lit = [max(px) > 40 for px in _pixels(seen)]  # the UI's panels are near-black (#121212..#1e1e1e)
    return Match(sum(ok) / len(ok), rows_ok / h, sum(lit) / len(lit))


def _pixels(image: Image.Image) -> Any:
    """The pixels in row order (``get_flattened_data`` from Pillow 12 on; ``getdata`` is deprecated)."""
    return getattr(image, "get_flattened_data", image.getdata)()
