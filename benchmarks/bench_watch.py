"""The live project watch (tui/project_watch.py): what one poll costs at 1k / 10k / 100k turns.

Each size is a synthetic project (``bench_history.build``).  The studio's store is opened, and a
second store on its own connection stands for the other process (an MCP server, ``gen``).  Medians of
``--runs`` runs of :meth:`ProjectWatch.check`, in the worker thread as the studio runs it:

* idle — nothing changed: one ``PRAGMA data_version`` (what the studio pays every second);
* one new turn — another process committed a turn: the rows above the last id seen (their source).

Target: idle < 1 ms at every size (it does not grow with the project); a change < 100 ms at 100k.

    .venv/bin/python benchmarks/bench_watch.py [--sizes 1000,10000,100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from bench_history import build

from banana_studio.domain.content import user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore
from banana_studio.tui.project_watch import ProjectWatch


async def measure(root: Path, runs: int) -> tuple[float, float]:
    studio = SimpleNamespace(store=ProjectStore.open(root, "bench"), active_turns=set())
    other = ProjectStore.open(root, "bench")
    watch = ProjectWatch(None, lambda: studio)
    await watch.check()  # the baseline
    idle: list[float] = []
    change: list[float] = []
    try:
        for i in range(runs):
            t0 = time.perf_counter()
            assert await watch.check() is None
            idle.append((time.perf_counter() - t0) * 1000)
            tid = other.create_turn(None, f"agent turn {i}", GenerationSettings(), [], user_content("x"),
                                    source="mcp").id
            with other._tx() as c:  # as another process writes it: its owner pid is not ours
                c.execute("UPDATE turns SET owner_pid = ? WHERE id = ?", (2**31 - 7, tid))
            t0 = time.perf_counter()
            seen = await watch.check()
            change.append((time.perf_counter() - t0) * 1000)
            assert seen is not None and seen.by_source == {"mcp": 1}, seen
    finally:
        other.close()
        studio.store.close()
    return statistics.median(idle), statistics.median(change)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp), n, 0)
            idle, change = asyncio.run(measure(Path(tmp), args.runs))
        rows.append((n, idle, change))
    print(table(["turns", "idle poll ms", "poll with 1 new turn ms"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
