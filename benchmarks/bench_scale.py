"""Project scale: the store's read queries and the studio's branch tree at 1k / 10k / 100k turns.

For each size a synthetic project is built with ``bench_history.build`` (rows shaped like
``complete_turn`` writes them: a final and a draft image per turn, 5 % starred, 2 % new roots).
Then, medians of ``--runs`` runs:

* store queries as the studio calls them — ``recent(50)``, ``search`` with its LIMIT (one word, two
  words, starred, starred with no words), ``costs`` (on every cursor move), ``tree_skeleton`` (what
  the branch tree lays out) and the full ``tree_index`` (CLI ``history``) — each interleaved with the
  query the store used before (``LEFT JOIN (… GROUP BY turn_id)``; for ``costs`` the sums over every
  turn that the kept totals replaced), the floor to beat, in the same run;
* the branch tree's layout of the whole skeleton (``tree_layout.layout``, in the parent);
* in a fresh child process per session, the whole studio (Pilot, 160x50), sessions interleaved round
  by round with an empty project (the floor): from ``App.run_test`` start to the tree holding every
  turn with its cursor ("ready") and to Pilot's next pause after that ("shown": drawn and settled,
  the selected turn shown too), then browsing (Home, PgDn, End…), and the child's peak RSS (VmHWM).

Targets: ``recent(50)`` < 20 ms, ``costs`` < 20 ms and ``search`` with LIMIT < 50 ms, flat with size;
at 100k the tree shown < 1 s and the studio's peak RSS < 300 MB.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import PY, med, peak_rss_mb, spread

_OLD_NODE_SQL = (
    "SELECT t.id, t.parent_id, substr(t.prompt, 1, 120), t.status, t.starred, t.label, t.created_at, "
    "coalesce(n.n, 0), t.kind, t.cost, t.model, t.image_size FROM turns t "
    "LEFT JOIN (SELECT turn_id, count(*) AS n FROM images WHERE kind = 'final' GROUP BY turn_id) n "
    "ON n.turn_id = t.id"
)
"""The query every listing used before (kept here only as the baseline)."""
_OLD = {
    "recent(50)": (_OLD_NODE_SQL + " ORDER BY t.created_at DESC, t.id DESC LIMIT ?", (50,)),
    "search 'fox' (limit 200)": (_OLD_NODE_SQL + " JOIN turns_fts f ON f.rowid = t.id WHERE turns_fts MATCH ?"
                                 " ORDER BY t.id DESC LIMIT ?", ('"fox"*', 200)),
    "search 'watercolour fox' (limit 200)": (_OLD_NODE_SQL + " JOIN turns_fts f ON f.rowid = t.id WHERE turns_fts "
                                             "MATCH ? ORDER BY t.id DESC LIMIT ?", ('"watercolour"* "fox"*', 200)),
    "search 'cat' starred (limit 200)": (_OLD_NODE_SQL + " JOIN turns_fts f ON f.rowid = t.id WHERE turns_fts MATCH ?"
                                         " AND t.starred = 1 ORDER BY t.id DESC LIMIT ?", ('"cat"*', 200)),
    "search '' starred (limit 200)": (_OLD_NODE_SQL + " WHERE t.starred = 1 ORDER BY t.id DESC LIMIT ?", (200,)),
    "costs (project + today)": (
        "SELECT coalesce(sum(CASE WHEN target != 'local' AND created_at >= ? THEN cost ELSE 0 END), 0), "
        "coalesce(sum(CASE WHEN target != 'local' THEN cost ELSE 0 END), 0), "
        "coalesce(sum(CASE WHEN target = 'local' AND created_at >= ? THEN cost ELSE 0 END), 0), "
        "coalesce(sum(CASE WHEN target = 'local' THEN cost ELSE 0 END), 0) FROM turns",
        (time.time() - 86400, time.time() - 86400)),
    "tree_index (every TurnNode)": (_OLD_NODE_SQL + " ORDER BY t.id", ()),
}
TARGETS = {"recent(50)": 20.0, "search 'fox' (limit 200)": 50.0, "search 'watercolour fox' (limit 200)": 50.0,
           "search 'cat' starred (limit 200)": 50.0, "search '' starred (limit 200)": 50.0,
           "costs (project + today)": 20.0}


def store_rows(root: Path, runs: int) -> dict[str, tuple[list[float], list[float]]]:
    from banana_studio.store import ProjectStore
    from banana_studio.tui.widgets.tree_layout import layout

    store = ProjectStore.open(root, "bench")
    skeleton = store.tree_skeleton()
    old = sqlite3.connect(str(store.path / "project.db"))
    new_calls = {
        "recent(50)": lambda: store.recent(50),
        "search 'fox' (limit 200)": lambda: store.search("fox"),
        "search 'watercolour fox' (limit 200)": lambda: store.search("watercolour fox"),
        "search 'cat' starred (limit 200)": lambda: store.search("cat", starred=True),
        "search '' starred (limit 200)": lambda: store.search("", starred=True),
        "costs (project + today)": lambda: store.costs(),
        "tree_skeleton (ids + parents)": store.tree_skeleton,
        "tree layout (every line, no Textual)": lambda: layout(*skeleton),
        "tree_index (every TurnNode)": store.tree_index,
    }
    out: dict[str, tuple[list[float], list[float]]] = {}
    for label, call in new_calls.items():
        sql = _OLD.get(label)
        news: list[float] = []
        olds: list[float] = []
        call()  # warm the page cache once
        for i in range(runs):  # interleaved: new, old, old, new, ...
            order = ("new", "old") if i % 2 == 0 else ("old", "new")
            for which in order:
                t0 = time.perf_counter()
                if which == "new":
                    call()
                    news.append((time.perf_counter() - t0) * 1000)
                elif sql is not None:
                    old.execute(*sql).fetchall()
                    olds.append((time.perf_counter() - t0) * 1000)
        out[label] = (news, olds)
    old.close()
    store.close()
    return out


# -- child: the whole studio on the project ------------------------------------------------------


async def _child_main(root: Path, runs: int) -> dict[str, Any]:
    from banana_studio.tui import images as tui_images

    tui_images.select_image_protocol("halfcell")
    from banana_studio.config import load_config
    from banana_studio.services import Studio
    from banana_studio.tui.app import make_app
    from banana_studio.tui.widgets.branch_tree import BranchTree

    config = load_config()
    out: dict[str, Any] = {"rss_start_mb": peak_rss_mb(), "shown": [], "ready": [], "browse": []}
    for _ in range(runs):
        studio = Studio.open(config, project="bench", project_dir=root, demo=True)
        n = len(studio.store.tree_skeleton()[0])
        out["n"] = n
        app = make_app(studio, project_dir=root)
        t0 = time.perf_counter()
        async with app.run_test(size=(160, 50)) as pilot:
            while True:
                main = next((s for s in app.screen_stack if hasattr(s, "started")), app.screen)  # under any notice
                trees = main.query(BranchTree)
                tree = trees.first() if trees else None
                if tree is not None and tree.turn_count == n and (tree.cursor_id is not None or n == 0) and (
                        n or getattr(getattr(main, "started", None), "is_set", lambda: False)()):
                    break
                if time.perf_counter() - t0 > 60:
                    raise RuntimeError("the studio did not show the project tree within 60 s")
                await pilot.pause(0.005)
            out["ready"].append((time.perf_counter() - t0) * 1000)  # the tree is there, with its cursor
            await pilot.pause()
            out["shown"].append((time.perf_counter() - t0) * 1000)  # ... and the app has drawn and settled
            started = getattr(main, "started", None)
            if started is not None:  # the rest of the initial load (costs, prompt history) settles first
                await asyncio.wait_for(started.wait(), 60)
            tree.focus()
            t1 = time.perf_counter()
            try:
                for key in ("home", "pagedown", "pagedown", "end", "pageup", "up", "left", "right"):
                    await pilot.press(key)
                await pilot.pause()
                out["browse"].append((time.perf_counter() - t1) * 1000)
            except Exception:  # Pilot's own wait gave up (a very busy machine): no browse figure this run
                pass
            out["loaded_rows"] = len(tree.loaded_nodes)
            with contextlib.suppress(Exception):  # Pilot's own waits can give up on a very busy machine
                await pilot.pause()
            await app.workers.wait_for_complete()
        await studio.aclose()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def run_child(root: Path, runs: int, tmp: Path) -> dict[str, Any]:
    import os

    env = dict(os.environ)
    env.update({"BANANA_STUDIO_CONFIG": str(tmp / "config.toml"), "BANANA_STUDIO_DATA_DIR": str(tmp / "data"),
                "BANANA_STUDIO_CACHE_DIR": str(tmp / "cache"), "BANANA_STUDIO_LOG_DIR": str(tmp / "log"),
                "GOOGLE_API_KEY": "", "GEMINI_API_KEY": ""})
    res = subprocess.run([PY, __file__, "--child", str(root), "--runs", str(runs)], capture_output=True,
                         text=True, env=env, timeout=1800)
    if res.returncode != 0:
        raise RuntimeError(f"child failed:\n{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child_main(Path(args.child), args.runs))))
        return 0
    import bench_history

    sizes = [int(s) for s in args.sizes.split(",")]
    queries: dict[int, dict[str, tuple[list[float], list[float]]]] = {}
    studio: dict[int, dict[str, Any]] = {}
    from banana_studio.store import ProjectStore

    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp_s:
        tmp = Path(tmp_s)
        roots: dict[int, Path] = {0: tmp / "p0" / "projects"}  # the floor: an empty project
        ProjectStore.open(roots[0], "bench").close()
        for n in sizes:
            roots[n] = tmp / f"p{n}" / "projects"
            t0 = time.perf_counter()
            bench_history.build(roots[n], n, 0)
            print(f"built {n} turns in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            queries[n] = store_rows(roots[n], args.runs)
        # Whole-studio sessions interleaved round by round (empty, 1k, 10k, 100k, empty, ...), so each
        # size is paired with the empty project's session of the same round (machine load drifts).
        merged = {n: {"shown": [], "ready": [], "browse": [], "peak_rss_mb": [], "loaded_rows": 0} for n in roots}
        for _ in range(args.runs):
            for n, root in roots.items():
                one = run_child(root, 1, root.parent)
                merged[n]["shown"] += one["shown"]
                merged[n]["ready"] += one["ready"]
                merged[n]["browse"] += one["browse"]
                merged[n]["peak_rss_mb"].append(one["peak_rss_mb"])
                merged[n]["loaded_rows"] = one.get("loaded_rows", 0)
        for m in merged.values():
            m["paired"] = [a - b for a, b in zip(m["shown"], merged[0]["shown"], strict=True)]
            m["peak_rss_mb"] = med(m["peak_rss_mb"])
        empty = merged[0]
        studio = {n: merged[n] for n in sizes}
    ok = True
    rows = []
    for label in queries[sizes[0]]:
        cells: list[Any] = [label]
        for n in sizes:
            news, olds = queries[n][label]
            cells += [med(news), med(olds) if olds else "-"]
        target = TARGETS.get(label)
        if target is not None:
            worst = max(med(queries[n][label][0]) for n in sizes)
            ok &= worst < target
            cells.append(f"< {target:.0f}: {'ok' if worst < target else 'SLOW'}")
        else:
            cells.append("(info)")
        rows.append(cells)
    heads = ["store query (median ms)"]
    for n in sizes:
        heads += [f"{n // 1000}k now", f"{n // 1000}k before"]
    print(f"Store queries, medians of {args.runs} interleaved runs (now vs the previous query, same run):")
    print(table([*heads, "target"], rows))
    print()
    srows: list[tuple[Any, ...]] = [("empty project (floor)", med(empty["ready"]), med(empty["shown"]),
                                     spread(empty["shown"]), "-", med(empty["browse"]), 0, empty["peak_rss_mb"])]
    for n in sizes:
        s = studio[n]
        srows.append((f"{n // 1000}k turns", med(s["ready"]), med(s["shown"]), spread(s["shown"]), med(s["paired"]),
                      med(s["browse"]), s["loaded_rows"], s["peak_rss_mb"]))
    print(f"Whole studio (Pilot 160x50, a fresh child process per session, rounds interleaved with the empty "
          f"project, medians of {args.runs}):")
    print(table(["project", "tree ready ms", "tree shown ms", "min–max", "shown vs empty (paired) ms",
                 "browse 8 keys ms", "rows loaded", "peak RSS MB"], srows))
    print("ready: the tree has every turn and its cursor; shown: after that, Pilot's pause (the app drew and settled,")
    print("which includes showing the selected turn: image, detail, request size).")
    big = studio[sizes[-1]]
    shown_ok = med(big["shown"]) < 1000
    print(f"100k: tree shown < 1000 ms: {'ok' if shown_ok else 'OVER'} (the empty project's own start-up: "
          f"{med(empty['shown']):.0f} ms in the same rounds); peak RSS < 300 MB: "
          f"{'ok' if big['peak_rss_mb'] < 300 else 'OVER'}")
    ok &= shown_ok and big["peak_rss_mb"] < 300
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
