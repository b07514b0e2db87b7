"""UI responsiveness and preview cost, in the real studio App driven by Textual's Pilot (160x50).

1. Event-loop stalls while a 4K (5504x3072) image streams in: a 16:9 4K generation is sent from the
   prompt (the fake server runs in its own process, like the real API, with a short think time per
   step); a timer task in the app's event loop records how late each 5 ms tick fires, from the send
   until the final preview is on screen and the turn is saved.  Target: longest stall < 50 ms.
   Also run once against the in-process demo server (demo mode), for information.  The floor, in the same
   run: a bare Textual app of the same size, idle, watched the same way for as long as a generation took
   (what this machine's load alone does to a 5 ms timer).
2. Preview: final-image bytes (4K JPEG) -> preview painted, in a studio-sized preview widget; and the
   cached re-show (another image in between, then the same one again); per protocol.  Plus the encode
   counters (decodes, renderables built, sixel encodes) over 20 unrelated repaints: must stay 0.

    .venv/bin/python benchmarks/bench_ui.py [--runs 5]
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

PROMPT = "A banana-shaped lighthouse on a misty harbour at dawn, cinematic wide shot"


class _QuietKitty:
    """textual-image's kitty widget uploads images by writing straight to ``sys.__stdout__`` (outside
    Textual's output), which would spill base64 into this headless run's report: send it to /dev/null."""

    def __init__(self, protocol: str) -> None:
        self.active = protocol == "kitty"
        self._saved: Any = None

    def __enter__(self) -> None:
        if self.active:
            self._saved = sys.__stdout__
            sys.__stdout__ = open(os.devnull, "w")  # type: ignore[misc]

    def __exit__(self, *exc: object) -> None:
        if self.active:
            sys.__stdout__.close()
            sys.__stdout__ = self._saved  # type: ignore[misc]


class StallMonitor:
    """Schedules a 5 ms sleep over and over in the running loop; the lateness of each wake-up is an
    event-loop stall (time the loop spent on something else without yielding).

    Two views of each stall: wall-clock lateness (what a user feels; on a busy machine it also
    includes time the OS did not run the process at all) and the event-loop thread's own CPU time
    between the two ticks (the blocking work itself, independent of machine load)."""

    def __init__(self, tick: float = 0.005) -> None:
        self.tick = tick
        self.lags: list[float] = []
        self.cpu_lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0, c0 = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.tick)
            self.lags.append((time.perf_counter() - t0 - self.tick) * 1000)
            self.cpu_lags.append((time.thread_time() - c0) * 1000)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def summary(self) -> tuple[float, float, int, int, float]:
        lags = sorted(self.lags) or [0.0]
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        return lags[-1], p99, sum(1 for v in lags if v > 50), len(lags), max(self.cpu_lags or [0.0])


def _nice_server(srv: ServerProcess) -> None:
    """The real API does its rendering elsewhere; the local server that stands in for it runs on the same
    2 cores as the studio being measured, so it is niced (it still competes, less)."""
    if srv.proc is not None and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, srv.proc.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10))
        except OSError:
            pass


def _env(tmp: Path) -> None:
    os.environ.update({"BANANA_STUDIO_CONFIG": str(tmp / "config.toml"), "BANANA_STUDIO_DATA_DIR": str(tmp / "data"),
                       "BANANA_STUDIO_CACHE_DIR": str(tmp / "cache"), "BANANA_STUDIO_LOG_DIR": str(tmp / "log")})
    for name in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GEMINI_BASE_URL"):
        os.environ.pop(name, None)


async def generation_stalls(tmp: Path, base_url: str | None, protocol: str, tag: str) -> dict[str, Any]:
    """One 4K generation sent from the studio's prompt; returns stall stats and timings."""
    from banana_studio.config import load_config
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import Studio
    from banana_studio.tui import images as tui_images
    from banana_studio.tui.app import make_app

    tui_images.select_image_protocol(protocol)
    config = load_config()
    config.defaults = GenerationSettings(aspect_ratio="16:9", image_size="4K")
    demo = base_url is None
    if not demo:
        os.environ["GOOGLE_API_KEY"] = "bench-key-not-secret"
        config.base_url = base_url or ""
    studio = Studio.open(config, project=f"ui-{tag}", project_dir=tmp / "projects", demo=demo,
                         demo_latency=0.15 if demo else None)
    app = make_app(studio, project_dir=tmp / "projects")
    result: dict[str, Any] = {}
    try:
        with _QuietKitty(protocol):
            result = await _drive_generation(app)
    finally:
        await studio.aclose()
    return result


async def _drive_generation(app: Any) -> dict[str, Any]:
    from banana_studio.tui.images import STATS, ImagePreview
    from banana_studio.tui.widgets.prompt import PromptArea

    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.5)  # initial load done
        screen = app.screen
        prompt = screen.query_one(PromptArea)
        preview = screen.query_one(ImagePreview)
        prompt.load_text(PROMPT)
        before = (STATS.decodes, STATS.renderables, STATS.sixel_encodes)
        mon = StallMonitor()
        mon.start()
        t0 = time.perf_counter()
        screen.action_send()
        while True:
            await asyncio.sleep(0.01)
            src = preview.source
            if src is not None and Path(src).exists() and not screen.generating:
                break
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("the generation did not finish within 60 s")
        await pilot.pause(0.3)
        elapsed = time.perf_counter() - t0
        await mon.stop()
        after = (STATS.decodes, STATS.renderables, STATS.sixel_encodes)
        mx, p99, over, n, cpu_max = mon.summary()
        return {"max": mx, "p99": p99, "over50": over, "ticks": n, "seconds": elapsed, "cpu_max": cpu_max,
                "counters": tuple(a - b for a, b in zip(after, before, strict=True)),
                "source_size": preview.source_size}


async def floor_stalls(seconds: float) -> dict[str, Any]:
    """The floor: a bare Textual app (160x50, one Static), idle under the same 5 ms timer for ``seconds``."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("bare Textual")

    async with Bare().run_test(size=(160, 50)) as pilot:
        await pilot.pause(0.2)
        mon = StallMonitor()
        mon.start()
        await asyncio.sleep(seconds)
        await mon.stop()
    mx, p99, over, n, cpu_max = mon.summary()
    return {"max": mx, "p99": p99, "over50": over, "ticks": n, "seconds": seconds, "cpu_max": cpu_max}


async def idle_loop_stalls(seconds: float) -> dict[str, Any]:
    """The floor of section 3: the bare asyncio loop, idle under the same timer."""
    mon = StallMonitor()
    mon.start()
    await asyncio.sleep(seconds)
    await mon.stop()
    mx, _, _, _, cpu_max = mon.summary()
    return {"max": mx, "cpu_max": cpu_max}


async def preview_timings(image: bytes, other: bytes, protocol: str, runs: int) -> dict[str, Any]:
    """Time show_bytes -> painted for a 4K JPEG, first show (cache cleared) and cached re-show."""
    from textual.app import App, ComposeResult

    from banana_studio.tui import images as tui_images
    from banana_studio.tui.images import ImagePreview

    tui_images.select_image_protocol(protocol)

    class PreviewApp(App[None]):
        CSS = "ImagePreview { width: 100; height: 40; }"

        def compose(self) -> ComposeResult:
            yield ImagePreview("No image yet", id="preview")

    app = PreviewApp()
    with _QuietKitty(protocol):
        return await _drive_preview(app, image, other, runs)


async def _drive_preview(app: Any, image: bytes, other: bytes, runs: int) -> dict[str, Any]:
    from banana_studio.tui.images import CACHE, STATS, ImagePreview
    from banana_studio.tui.images import halfcell as tui_halfcell

    first: list[float] = []
    cached: list[float] = []
    repaint_counters: tuple[int, ...] = (0, 0, 0)
    async with app.run_test(size=(110, 44)) as pilot:
        preview = app.query_one(ImagePreview)
        await pilot.pause()
        for _ in range(runs):
            CACHE.clear()
            tui_halfcell._HALFCELL_CACHE.clear()
            t0 = time.perf_counter()
            assert await preview.show_bytes(image, name="final")
            await pilot.pause()  # the screen update (widget render) has run
            first.append((time.perf_counter() - t0) * 1000)
            assert await preview.show_bytes(other, name="other")
            await pilot.pause()
            t0 = time.perf_counter()
            assert await preview.show_bytes(image, name="final")
            await pilot.pause()
            cached.append((time.perf_counter() - t0) * 1000)
        # unrelated repaints must not rebuild / re-encode the image
        before = (STATS.decodes, STATS.renderables, STATS.sixel_encodes)
        for i in range(20):
            preview.border_title = f"Preview · repaint {i}"
            preview.refresh()
            await pilot.pause()
        after = (STATS.decodes, STATS.renderables, STATS.sixel_encodes)
        repaint_counters = tuple(a - b for a, b in zip(after, before, strict=True))
    return {"first": first, "cached": cached, "repaint": repaint_counters}


def make_4k(seed: int) -> bytes:
    """A real 16:9 4K frame from the fake server's own renderer, at real size (~7.6 MB, as it serves)."""
    from banana_studio.domain.catalogue import pixel_size
    from banana_studio.fakeserver import images as fimages

    w, h = pixel_size("16:9", "4K")
    spec = fimages.ImageSpec(prompt=f"{PROMPT} #{seed}", model="gemini-3-pro-image", aspect_ratio="16:9",
                             image_size="4K", width=w, height=h, seed=seed)
    return fimages.render(spec).final


_SSE_SERVER = """
import sys, http.server
body = open(sys.argv[1], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def photo_like_4k(quality: int = 80) -> bytes:
    """A 5504x3072 JPEG with photo-like entropy (a few MB, like the real model's 4K output; the fake
    server's synthetic 4K frames are smooth and compress to ~0.5 MB)."""
    import io

    from PIL import Image

    noise = Image.effect_noise((5504, 3072), 40).convert("RGB")
    grad = Image.linear_gradient("L").resize((5504, 3072)).convert("RGB")
    buf = io.BytesIO()
    Image.blend(noise, grad, 0.5).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


async def big_event_stalls(jpeg: bytes, runs: int, tmp: Path, sig_bytes: int = 2 * 1024 * 1024) -> dict[str, Any]:
    """Event-loop stalls while the engine receives and parses ONE final-image SSE event carrying
    ``jpeg`` and a ``sig_bytes`` thought signature (real ones are 0.5-2.5 MB; the SDK reads, splits,
    JSON-decodes and base64-decodes it on the event loop)."""
    import base64
    import json
    import subprocess

    from banana_studio.domain.content import user_content
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.engine import ApiTarget, run_turn

    event = {"candidates": [{"content": {"role": "model", "parts": [
        {"inlineData": {"mimeType": "image/jpeg", "data": base64.b64encode(jpeg).decode()},
         "thoughtSignature": base64.b64encode(os.urandom(sig_bytes)).decode()}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2000, "totalTokenCount": 2010},
        "modelVersion": "gemini-3-pro-image", "responseId": "bench"}
    body = tmp / "event.sse"
    body.write_bytes(b"data: " + json.dumps(event).encode() + b"\r\n\r\n")
    proc = subprocess.Popen([sys.executable, "-c", _SSE_SERVER, str(body)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        target = ApiTarget(api_key="bench-key-not-secret", base_url=f"http://127.0.0.1:{port}", retry_attempts=1)
        settings = GenerationSettings(aspect_ratio="16:9", image_size="4K")
        walls: list[float] = []
        cpus: list[float] = []
        for i in range(runs + 1):
            mon = StallMonitor()
            mon.start()
            got = 0
            async for ev in run_turn(target, [], user_content("x"), settings):
                got += len(getattr(ev, "data", b"") or b"")
            await asyncio.sleep(0.02)
            await mon.stop()
            assert got >= len(jpeg)
            if i:  # the first run imports the SDK and opens the connection
                mx, _, _, _, cpu_max = mon.summary()
                walls.append(mx)
                cpus.append(cpu_max)
        await target.aclose()
    finally:
        proc.kill()
        proc.wait()
    return {"mb": len(body.read_bytes()) / 1e6, "wall": walls, "cpu": cpus}


async def amain(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp_s:
        tmp = Path(tmp_s)
        _env(tmp)
        stall_rows = []
        floors: list[dict[str, Any]] = []
        with ServerProcess(latency=0.3) as srv:
            _nice_server(srv)
            for proto in args.protocols.split(","):
                runs = []
                for i in range(args.gen_runs):  # interleaved with the floor
                    runs.append(await generation_stalls(tmp, srv.base_url, proto, f"{proto}-{i}"))
                    floors.append(await floor_stalls(runs[-1]["seconds"]))
                worst = max(runs, key=lambda r: r["max"])
                stall_rows.append((f"{proto}, API in own process", med([r["max"] for r in runs]), worst["max"],
                                   med([r["p99"] for r in runs]), sum(r["over50"] for r in runs),
                                   max(r["cpu_max"] for r in runs), med([r["seconds"] for r in runs]),
                                   "/".join(map(str, worst["counters"]))))
        stall_rows.append(("floor: bare Textual app, idle, same time", med([r["max"] for r in floors]),
                           max(r["max"] for r in floors), med([r["p99"] for r in floors]),
                           sum(r["over50"] for r in floors), max(r["cpu_max"] for r in floors),
                           med([r["seconds"] for r in floors]), "-"))
        demo = await generation_stalls(tmp, None, "halfcell", "demo")
        stall_rows.append(("halfcell, demo (in-process server)", demo["max"], demo["max"], demo["p99"], demo["over50"],
                           demo["cpu_max"], demo["seconds"], "/".join(map(str, demo["counters"]))))
        big_rows = []
        for label, jpeg, sig in (("fake server's real-size 4K, 2 MB signature", make_4k(3), 2 * 1024 * 1024),
                                 ("photo-like 4K, 2 MB signature", photo_like_4k(), 2 * 1024 * 1024),
                                 ("photo-like 4K, 2 KB signature (old)", photo_like_4k(), 2048)):
            r = await big_event_stalls(jpeg, args.runs, tmp, sig)
            big_rows.append((label, f"{len(jpeg) / 1e6:.1f} MB JPEG, {r['mb']:.1f} MB event", med(r["wall"]),
                             max(r["wall"]), max(r["cpu"])))
        idle = [await idle_loop_stalls(0.5) for _ in range(args.runs)]
        big_rows.append(("floor: idle asyncio loop, 0.5 s", "-", med([r["max"] for r in idle]),
                         max(r["max"] for r in idle), max(r["cpu_max"] for r in idle)))
        image, other = make_4k(1), make_4k(2)
        prev_rows = []
        for proto in args.protocols.split(","):
            r = await preview_timings(image, other, proto, args.runs)
            prev_rows.append((proto, med(r["first"]), spread(r["first"]), med(r["cached"]), spread(r["cached"]),
                              "/".join(map(str, r["repaint"]))))
    print(f"1. Event-loop stalls during one 16:9 4K (5504x3072) generation sent from the prompt (Pilot 160x50, "
          f"5 ms timer; {args.gen_runs} generation(s) per protocol)")
    print(table(["protocol / server", "max stall ms (median)", "max stall ms (worst)", "p99 ms", "ticks > 50 ms",
                 "max loop-thread CPU between ticks ms", "send->saved s", "decodes/renderables/sixel encodes"],
                stall_rows))
    load = os.getloadavg()[0]
    ok_stall = all(r[2] < 50 for r in stall_rows[:-2])
    ok_cpu = all(r[5] < 50 for r in stall_rows[:-2])
    print(f"load average during the run: {load:.1f} on {os.cpu_count()} CPUs (wall stalls include scheduling delays)")
    print(f"target longest stall < 50 ms (API in own process): wall {'met' if ok_stall else 'MISSED'}, "
          f"loop-thread CPU {'met' if ok_cpu else 'MISSED'}")
    print()
    print(f"2. Preview of a {len(image) / 1e6:.1f} MB 5504x3072 JPEG in a 100x40-cell widget, {args.runs} runs "
          "(show_bytes -> decode/downscale in a thread -> widget painted)")
    print(table(["protocol", "first show ms", "min–max", "cached re-show ms", "min–max",
                 "20 unrelated repaints: decodes/renderables/encodes"], prev_rows))
    ok_cache = all(r[5] == "0/0/0" for r in prev_rows)
    print(f"no re-encode on unrelated repaints: {'met' if ok_cache else 'MISSED'}")
    print()
    print(f"3. One final-image SSE event received and parsed by the engine (google-genai in its stream thread), "
          f"{args.runs} runs")
    print(table(["payload", "size", "max stall ms (median)", "max stall ms (worst)", "max loop-thread CPU ms"],
                big_rows))
    return 0 if ok_cpu and ok_cache else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--gen-runs", type=int, default=2)
    ap.add_argument("--protocols", default="halfcell,sixel,kitty")
    args = ap.parse_args()
    return asyncio.run(amain(args))


if __name__ == "__main__":
    raise SystemExit(main())
