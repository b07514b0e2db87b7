"""The web gallery (banana-studio serve / H): what its pages cost at 1k / 10k / 100k turns.

Each size is a synthetic project (``bench_history.build``) served by a :class:`Gallery` on
127.0.0.1; medians of ``--runs`` GETs, end to end over HTTP (read-only open of the index, queries,
HTML):

* projects — the list of projects;
* project  — the latest pictures and the branch tree (the first 3000 turns in tree order);
* turn     — the newest turn's page (its branch path, pictures, recipe);
* storyboard — the storyboard page of the newest turn's whole branch.

Target: every page < 1 s at 100k turns.  Measured on the shared 2-core box (3 runs): 100k turns —
projects 1006 ms, project 669 ms, turn 92 ms, storyboard 107 ms.  The projects page is the store's
``list_projects`` peek (a count and the money totals over every turn of every project), so it grows
with the history; the project page reads the tree skeleton (every id and parent) and 3000 rows.

    .venv/bin/python benchmarks/bench_gallery.py [--sizes 1000,10000,100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from bench_history import build

from banana_studio.web import Gallery


def get_ms(url: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as resp:
            resp.read()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            build(Path(tmp), n, 0)
            with Gallery(Path(tmp)) as g:
                p = g.project_url("bench")
                rows.append((n, get_ms(g.url, args.runs), get_ms(p, args.runs), get_ms(f"{p}t/{n}", args.runs),
                             get_ms(f"{p}t/{n}/storyboard", args.runs)))
    print(table(["turns", "projects ms", "project ms", "turn ms", "storyboard ms"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
