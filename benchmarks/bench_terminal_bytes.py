"""Bytes written to the terminal, measured on a real pseudo-terminal (everything the app writes, Textual's
output and textual-image's direct kitty uploads alike, is read from the pty master and counted).

1. One preview at ~100x40 cells: a 5504x3072 JPEG shown in a 100x40 ImagePreview (terminal 110x44, 10x20 px
   cells), per protocol (sixel, kitty, half-cell): bytes to show it, bytes for 20 unrelated repaints
   afterwards (title changes: must not re-send the image), and bytes to show it again after another image.
2. A whole streamed 16:9 4K generation in the real ``banana-studio`` (pty 160x50, fake API in its own process,
   0.3 s think time per step), per protocol: bytes from pressing Enter until the turn is saved (+2 s), the
   idle rate (cursor blink) for comparison, and how many images were transmitted (sixel DCS strings /
   kitty uploads) — 2 drafts + 1 final should be sent once each to the preview (plus small draft
   thumbnails in the thinking log); a re-sent unchanged image shows up as extra transmissions.

    .venv/bin/python benchmarks/bench_terminal_bytes.py [--protocols sixel,kitty,halfcell]
"""

from __future__ import annotations

import argparse
import fcntl
import itertools
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import PY, ServerProcess, fmt_bytes

STUDIO_BIN = Path(PY).parent / "banana-studio"
CELL_W, CELL_H = 10, 20
_SIXEL_DCS = re.compile(rb"\x1bP[0-9;]*q")
_KITTY_APC = re.compile(rb"\x1b_G([^;\x1b]*)")


_SIXEL_STRING = re.compile(rb"\x1bP[0-9;]*q.*?\x1b\\", re.S)


def sixel_payloads(data: bytes) -> tuple[int, int, int]:
    """(sixel strings sent, distinct sixel strings, bytes in sixel strings) in a chunk of output."""
    found = _SIXEL_STRING.findall(data)
    return len(found), len(set(found)), sum(len(f) for f in found)


def image_transmissions(data: bytes) -> tuple[int, int, int]:
    """(sixel images, kitty uploads, kitty placements) found in a chunk of terminal output."""
    sixels = len(_SIXEL_DCS.findall(data))
    uploads: set[str] = set()
    placements = 0
    chunks_started = 0
    for m in _KITTY_APC.finditer(data):
        keys = dict(kv.split("=", 1) for kv in m.group(1).decode("ascii", "replace").split(",") if "=" in kv)
        if keys.get("a") == "p":
            placements += 1
        elif "i" in keys:
            if keys["i"] not in uploads:
                chunks_started += 1
            uploads.add(keys["i"])
    return sixels, len(uploads), placements


class PtyApp:
    """Run ``cmd`` on a fresh pty of ``cols`` x ``rows`` cells (10x20 px each) and record its output."""

    def __init__(self, cmd: list[str], cols: int, rows: int, env: dict[str, str], phase_fd: int | None = None) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, cols * CELL_W, rows * CELL_H))
        self.data = bytearray()
        self.lock = threading.Lock()
        self.phases: list[tuple[str, int, float]] = []
        pass_fds = (phase_fd,) if phase_fd is not None else ()
        self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, pass_fds=pass_fds,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
        self._stop = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while not self._stop:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                chunk = os.read(self.master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.data += chunk

    def count(self) -> int:
        with self.lock:
            return len(self.data)

    def slice(self, a: int, b: int) -> bytes:
        with self.lock:
            return bytes(self.data[a:b])

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def wait_quiet(self, quiet: float = 0.4, limit: float = 15.0) -> None:
        t0 = time.monotonic()
        last, since = self.count(), time.monotonic()
        while time.monotonic() - t0 < limit:
            time.sleep(0.05)
            n = self.count()
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._stop = True
        self.reader.join(timeout=2)
        os.close(self.master)


# -- part 1: one preview -------------------------------------------------------------------------------


def preview_child(protocol: str, image: str, other: str, phase_fd: int) -> int:
    """Runs inside the pty: shows ``image`` in a 100x40 preview, reporting phases on ``phase_fd``."""
    from banana_studio.tui import images as tui_images

    tui_images.select_image_protocol(protocol)
    from textual.app import App, ComposeResult

    from banana_studio.tui.images import ImagePreview

    phase = os.fdopen(phase_fd, "w", buffering=1)

    from textual.widgets import Static

    class PreviewApp(App[None]):
        CSS = "ImagePreview { width: 100; height: 40; } #status { height: 1; }"

        def compose(self) -> ComposeResult:
            yield ImagePreview("No image yet", id="preview")
            yield Static("status", id="status")

        async def on_mount(self) -> None:
            self.run_worker(self.script())

        async def settle(self, name: str) -> None:
            import asyncio

            await asyncio.sleep(0.8)
            phase.write(name + "\n")
            await asyncio.sleep(0.2)

        async def script(self) -> None:
            preview = self.query_one(ImagePreview)
            await self.settle("base")
            await preview.show_path(Path(image))
            await self.settle("shown")
            import asyncio

            status = self.query_one("#status", Static)
            for i in range(20):  # unrelated widget below the preview
                status.update(f"status update {i}")
                await asyncio.sleep(0.03)
            await self.settle("repaints")
            for i in range(20):  # the preview's own border title (the widget itself repaints)
                preview.border_title = f"title {i}"
                await asyncio.sleep(0.03)
            await self.settle("titles")
            await preview.show_path(Path(other))
            await self.settle("other")
            await preview.show_path(Path(image))
            await self.settle("reshown")
            self.exit()

    PreviewApp().run()
    return 0


def measure_preview(protocol: str, image: Path, other: Path, env: dict[str, str]) -> dict[str, Any]:
    r, w = os.pipe()
    cmd = [PY, __file__, "--child-preview", protocol, str(image), str(other), str(w)]
    app = PtyApp(cmd, 110, 44, env, phase_fd=w)
    os.close(w)
    marks: dict[str, int] = {}
    try:
        with os.fdopen(r) as phases:
            for line in phases:
                marks[line.strip()] = app.count()
        app.proc.wait(timeout=30)
    finally:
        app.close()
    out: dict[str, Any] = {}
    order = ["base", "shown", "repaints", "titles", "other", "reshown"]
    for a, b in itertools.pairwise(order):
        if a in marks and b in marks:
            chunk = app.slice(marks[a], marks[b])
            out[b] = (len(chunk), image_transmissions(chunk))
    return out


# -- part 2: a whole generation in the studio -------------------------------------------------------------


def measure_generation(protocol: str, base_url: str, tmp: Path) -> dict[str, Any]:
    from banana_studio.store import ProjectStore

    home = tmp / f"studio-{protocol}"
    home.mkdir()
    (home / "config.toml").write_text(
        f'base_url = "{base_url}"\n[ui]\nsend_key = "enter"\nimage_protocol = "{protocol}"\n'
        '[generation]\naspect_ratio = "16:9"\nimage_size = "4K"\n')
    env = dict(os.environ)
    env.update({"BANANA_STUDIO_CONFIG": str(home / "config.toml"), "BANANA_STUDIO_DATA_DIR": str(home / "data"),
                "BANANA_STUDIO_CACHE_DIR": str(home / "cache"), "BANANA_STUDIO_LOG_DIR": str(home / "log"),
                "GOOGLE_API_KEY": "bench-key-not-secret", "TERM": "xterm-256color"})
    for name in ("TMUX", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "BANANA_STUDIO_IMAGE_PROTOCOL"):
        env.pop(name, None)
    projects = home / "projects"
    cmd = [str(STUDIO_BIN), "--image-protocol", protocol, "--project-dir", str(projects), "--project", "bytes"]
    app = PtyApp(cmd, 160, 50, env)
    try:
        app.wait_quiet(quiet=1.5, limit=20)
        # idle rate (cursor blink etc.) over 2 s
        a = app.count()
        time.sleep(2.0)
        idle_rate = (app.count() - a) / 2.0
        start = app.count()
        t0 = time.monotonic()
        app.type("A banana-shaped lighthouse on a misty harbour at dawn")
        time.sleep(0.3)
        app.type("\r")
        store = None
        done_at = None
        while time.monotonic() - t0 < 60:
            time.sleep(0.2)
            if store is None and (projects / "bytes").exists():
                store = ProjectStore.open(projects, "bytes", create=False)
            if store is not None:
                nodes = store.tree_index()
                if nodes and nodes[-1].status in ("done", "failed", "cancelled"):
                    done_at = time.monotonic()
                    break
        if done_at is None:
            raise RuntimeError("the generation did not finish within 60 s")
        status = nodes[-1].status
        time.sleep(2.0)
        end = app.count()
        elapsed = time.monotonic() - t0
        chunk = app.slice(start, end)
        # idle again, now with the final image on screen
        a = app.count()
        time.sleep(3.0)
        idle_chunk = app.slice(a, app.count())
        if store is not None:
            store.close()
    finally:
        app.close()
    return {"bytes": len(chunk), "seconds": elapsed, "idle_rate": idle_rate, "tx": image_transmissions(chunk),
            "sixel": sixel_payloads(chunk),
            "status": status, "idle_after": len(idle_chunk) / 3.0, "idle_tx": image_transmissions(idle_chunk)}


def make_images(tmp: Path) -> tuple[Path, Path]:
    from banana_studio.domain.catalogue import pixel_size
    from banana_studio.fakeserver import images as fimages

    w, h = pixel_size("16:9", "4K")
    out = []
    for seed in (1, 2):
        spec = fimages.ImageSpec(prompt=f"terminal bytes {seed}", model="gemini-3-pro-image", aspect_ratio="16:9",
                                 image_size="4K", width=w, height=h, seed=seed)
        path = tmp / f"img{seed}.jpg"
        path.write_bytes(fimages.render(spec).final)
        out.append(path)
    return out[0], out[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocols", default="sixel,kitty,halfcell")
    ap.add_argument("--child-preview", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--no-generation", action="store_true", help="only part 1")
    args = ap.parse_args()
    if args.child_preview:
        proto, image, other, fd = args.child_preview
        return preview_child(proto, image, other, int(fd))
    protocols = args.protocols.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-bytes-") as tmp_s:
        tmp = Path(tmp_s)
        image, other = make_images(tmp)
        env = dict(os.environ)
        env.update({"TERM": "xterm-256color", "BANANA_STUDIO_CONFIG": str(tmp / "none.toml")})
        env.pop("TMUX", None)
        prev_rows = []
        for proto in protocols:
            r = measure_preview(proto, image, other, env)

            def cell(name: str, r: dict[str, Any] = r) -> str:
                if name not in r:
                    return "-"
                n, (six, kup, kpl) = r[name]
                tx = f" [{six} sixel]" if six else (f" [{kup} upload(s), {kpl} placement(s)]" if kup or kpl else "")
                return fmt_bytes(n) + tx

            prev_rows.append((proto, cell("shown"), cell("repaints"), cell("titles"), cell("reshown")))
        print(f"1. One 5504x3072 JPEG in a 100x40-cell preview (pty 110x44, {CELL_W}x{CELL_H} px cells)")
        print(table(["protocol", "bytes to show", "20 updates of a status line", "20 preview title changes",
                     "show again (after another)"], prev_rows))
        if args.no_generation:
            return 0
        gen_rows = []
        with ServerProcess(latency=0.3) as srv:
            for proto in protocols:
                g = measure_generation(proto, srv.base_url, tmp)
                _six, kup, kpl = g["tx"]
                sent, distinct, sbytes = g["sixel"]
                tx = f"{sent} sixel strings ({distinct} distinct, {fmt_bytes(sbytes)})" if proto == "sixel" else (
                    f"{kup} uploads, {kpl} placements" if proto == "kitty" else "-")
                six2, kup2, _ = g["idle_tx"]
                idle_tx = f" ({six2 + kup2} images re-sent)" if six2 + kup2 else ""
                gen_rows.append((proto, g["status"], fmt_bytes(g["bytes"]), f"{g['seconds']:.1f}", tx,
                                 fmt_bytes(g["idle_rate"]) + "/s", fmt_bytes(g["idle_after"]) + "/s" + idle_tx))
        print()
        print("2. A whole streamed 16:9 4K generation in banana-studio (pty 160x50), Enter -> saved + 2 s")
        print(table(["protocol", "turn", "bytes written", "seconds", "images transmitted", "idle before",
                     "idle after (image shown, 3 s)"], gen_rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
