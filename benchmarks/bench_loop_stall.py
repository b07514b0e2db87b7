"""Event-loop stall while a real-sized multi-turn request goes out and its answer streams back.

History is built at real size (the sizes of live Nano Banana Pro answers): per model turn two ~1 MB
draft JPEGs (noise, so they do not compress) and a ~1 MB final JPEG carrying a 2.2 MB thought
signature, plus a signed leading text part of 0.6 MB.  Turns are added until the base64-encoded
history reaches 0 / 20 / 60 MB.  The request limit is set to the real API's 100 MB for the run.

For each history size, interleaved (rotating order), ``--runs`` runs of each client against the same
local server (own process): a 1 ms ticker on the caller's event loop records the longest gap
(the stall) from the call until the last chunk:

* ``raw SDK on the loop``  — ``client.aio.models.generate_content_stream`` awaited on the caller's
  loop (what the engine did before: the SDK's encoding runs on the loop);
* ``raw sync SDK in a thread`` — the sync client iterated in a worker thread (the obvious fix; it is
  worse: the SDK's one-shot ``json.dumps`` of the whole request holds the GIL in that thread);
* ``engine run_turn``     — ``banana_studio.engine.run_turn`` (SDK streaming on its worker loop).

Target: engine stall < 50 ms at every history size.  The 0 MB rows are the machine's own floor.

    .venv/bin/python benchmarks/bench_loop_stall.py [--runs 5] [--history-mb 0,20,60]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import PY, ServerProcess, med, spread

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine import ApiTarget, run_turn
from banana_studio.engine import request as engine_request

KEY = "bench-key-not-secret"
MODEL = "gemini-3-pro-image"
REAL_LIMIT = 100 * 1024 * 1024
"""Gemini API inline request limit since January 2026 (Google: "Increased file size limits")."""

_SERVER_CODE = """
import sys
from banana_studio.fakeserver import FakeGemini, protocol
from banana_studio.fakeserver import handler as _handler
_handler.Handler.disable_nagle_algorithm = True
# The history's signatures are real-sized random bytes, not ones this server issued: accept them
# (the client-side cost being measured does not depend on who signed them).
protocol.Signer.verify = lambda self, sig: True
srv = FakeGemini(port=0, latency=0.0).start()
print(srv.base_url, flush=True)
sys.stdin.read()
srv.stop()
"""


class AcceptingServer(ServerProcess):
    """The local server in its own process, accepting any thought signature."""

    def __enter__(self) -> AcceptingServer:
        import subprocess

        self.proc = subprocess.Popen([PY, "-c", _SERVER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"local server did not start: {self.base_url!r}")
        return self


def noise_jpeg(seed: int, target: int = 1_000_000) -> bytes:
    from PIL import Image

    rng = random.Random(seed)
    side = 640
    while True:
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        if buf.tell() >= target or side > 2048:
            return buf.getvalue()
        side = int(side * 1.2)


def real_history(target_mb: float) -> tuple[list[Content], int]:
    """(contents, encoded size in bytes) of a real-sized branch of at least ``target_mb`` MB."""
    history: list[Content] = []
    size = 0
    seed = 0
    while size < target_mb * 1e6:
        seed += 1
        drafts = [noise_jpeg(seed * 10 + k) for k in (1, 2)]
        final = noise_jpeg(seed * 10 + 3)
        sig_text, sig_img = os.urandom(600_000), os.urandom(2_200_000)
        history.append(user_content(f"edit {seed}: make the harbour brighter"))
        history.append(Content("model", [
            Part(text="**Planning** the edit", thought=True),
            Part(mime_type="image/jpeg", data=drafts[0], thought=True),
            Part(mime_type="image/jpeg", data=drafts[1], thought=True),
            Part(text="Here is the brighter harbour.", thought_signature=sig_text),
            Part(mime_type="image/jpeg", data=final, thought_signature=sig_img),
        ]))
        raw = sum(len(d) for d in drafts) + len(final) + len(sig_text) + len(sig_img)
        size += raw * 4 // 3
    return history, size


class Ticker:
    """Records the longest gap between 1 ms sleeps on the running loop."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, (loop.time() - t0 - 0.001) * 1000)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


class Clients:
    def __init__(self, base_url: str) -> None:
        from google import genai
        from google.genai import types

        self.types = types
        opts = types.HttpOptions(base_url=base_url, api_version="v1beta",
                                 retry_options=types.HttpRetryOptions(attempts=1))
        self.raw = genai.Client(api_key=KEY, http_options=opts)
        self.target = ApiTarget(api_key=KEY, base_url=base_url, demo=True, retry_attempts=1)

    def _request(self, history: list[Content], prompt: str) -> tuple[Any, Any]:
        contents, config = engine_request.build_stream_request(history, user_content(prompt),
                                                               GenerationSettings(model=MODEL))
        return contents, config

    async def raw_on_loop(self, history: list[Content]) -> float:
        contents, config = await asyncio.to_thread(self._request, history, "raw on loop")
        n = 0
        with Ticker() as tick:
            stream = await self.raw.aio.models.generate_content_stream(model=MODEL, contents=contents, config=config)
            async for _chunk in stream:
                n += 1
        assert n
        return tick.worst

    async def raw_in_thread(self, history: list[Content]) -> float:
        contents, config = await asyncio.to_thread(self._request, history, "raw in thread")
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        count = [0]

        def work() -> None:
            for _chunk in self.raw.models.generate_content_stream(model=MODEL, contents=contents, config=config):
                count[0] += 1
            loop.call_soon_threadsafe(done.set)

        with Ticker() as tick:
            threading.Thread(target=work, daemon=True).start()
            await done.wait()
        assert count[0]
        return tick.worst

    async def engine(self, history: list[Content]) -> float:
        await self.target.aclient()
        last: Any = None
        with Ticker() as tick:
            async for ev in run_turn(self.target, history, user_content("engine"), GenerationSettings(model=MODEL)):
                last = ev
        assert type(last).__name__ == "Finished" and last.ok, f"engine run did not finish: {last}"
        return tick.worst


async def amain(runs: int, sizes: list[float]) -> list[tuple[Any, ...]]:
    engine_request.MAX_REQUEST_BYTES = REAL_LIMIT  # the real API's limit for this run
    rows: list[tuple[Any, ...]] = []
    with AcceptingServer() as srv:
        clients = Clients(srv.base_url)
        await clients.target.aclient()
        for mb in sizes:
            history, size = await asyncio.to_thread(real_history, mb) if mb else ([], 0)
            kinds: list[tuple[str, Callable[[list[Content]], Awaitable[float]]]] = [
                ("raw SDK on the loop", clients.raw_on_loop), ("raw sync SDK in a thread", clients.raw_in_thread),
                ("engine run_turn", clients.engine)]
            results: dict[str, list[float]] = {k: [] for k, _ in kinds}
            await kinds[2][1](history)  # warm-up (imports, connection)
            for i in range(runs):
                order = kinds[i % 3:] + kinds[:i % 3]
                for name, fn in order:
                    results[name].append(await fn(history))
            for name, _ in kinds:
                rows.append((f"{size / 1e6:.0f} MB", name, med(results[name]), spread(results[name]),
                             max(results[name])))
            del history
        await clients.target.aclose()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--history-mb", default="0,20,60")
    args = ap.parse_args()
    sizes = [float(s) for s in args.history_mb.split(",")]
    t0 = time.perf_counter()
    rows = asyncio.run(amain(args.runs, sizes))
    print(f"Longest event-loop stall per request (ms), {args.runs} interleaved runs each "
          f"({time.perf_counter() - t0:.0f} s):")
    print(table(["history (base64)", "client", "median", "min–max", "p100"], rows))
    worst = max(r[4] for r in rows if r[1] == "engine run_turn")
    print(f"engine p100 {worst:.0f} ms: {'ok' if worst < 50 else 'over'} (target < 50 ms)")
    return 0 if worst < 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
