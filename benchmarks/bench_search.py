"""Search across everything: 20 projects × 5,000 turns through the user-level index.

Builds the projects in the store's own schema (rows shaped like ``complete_turn`` writes them:
prompts, thoughts and answer text in the model content, grounding titles on some turns, tags, labels,
references, a mix of models / sizes / aspect ratios), then times as medians:

* the first index build (every project read), a sync when nothing changed (stat calls only), and a
  sync after one new turn in one project;
* ``Library.search`` — parse + sync check + SQL + result objects, what the gallery's library view, the
  palette and ``history --all`` pay — for typical queries, against two floors: the same SQL alone on
  a fresh connection (no parse, no sync, no objects), and, for queries with words, the bare SQLite
  FTS5 MATCH of those words over the same index, newest 200; and against the per-project way (open
  each project and run its own prompt search).

Target: every query < 300 ms.  Everything is written inside a temporary directory.

    .venv/bin/python benchmarks/bench_search.py [--projects 20] [--turns 5000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median_ms, table

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.query import parse
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore
from banana_studio.store.library import Library
from banana_studio.store.library.search import compile_query

_WORD_TEXT = ("cat fox owl lighthouse harbour neon city forest watercolour portrait hat scarf snow rain desert robot "
              "garden castle dragon tea cup morning night sunset studio product bottle label poster sticker isometric "
              "pixel oil sketch cinematic macro wide blue red green golden misty")
WORDS = tuple(_WORD_TEXT.split())
MODELS = ("gemini-3-pro-image", "gemini-3.1-flash-image", "gemini-nano-banana-2.1", "gemini-2.5-flash-image")
ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:2", "21:9")
SIZES = ("1K", "2K", "4K")
TAGS = ("hero", "client-x", "draft", "final", "moodboard", "rejected", "print")


def build_project(root: Path, name: str, n_turns: int, rng: random.Random) -> None:
    store = ProjectStore.open(root, name)
    now = time.time() - n_turns * 120
    rows, tags = [], []
    for tid in range(1, n_turns + 1):
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 24)))
        thought = "**Planning** " + " ".join(rng.choice(WORDS) for _ in range(40))
        model = Content("model", [Part(text=thought, thought=True),
                                  Part(text="Here is the " + " ".join(rng.choice(WORDS) for _ in range(8))),
                                  Part(mime_type="image/jpeg", blob="ab" * 32, thought_signature=rng.randbytes(600))])
        settings = GenerationSettings(model=rng.choice(MODELS), aspect_ratio=rng.choice(ASPECTS),
                                      image_size=rng.choice(SIZES))
        grounding = ({"groundingChunks": [{"web": {"uri": "https://example.com", "title": f"{rng.choice(WORDS)} "
                                                   "encyclopedia"}}]} if rng.random() < 0.1 else {})
        refs = ([{"sha256": "cd" * 32, "mime_type": "image/png", "name": "ref.png", "path": "refs/x.png"}]
                if rng.random() < 0.15 else [])
        rows.append((tid, None if tid == 1 else rng.randint(max(1, tid - 30), tid - 1), prompt, "done",
                     json.dumps(settings.to_json()), json.dumps(refs), json.dumps(user_content(prompt).to_json()),
                     json.dumps(model.to_json()), json.dumps(grounding), round(rng.uniform(0.02, 0.4), 3),
                     int(rng.random() < 0.05), rng.choice(WORDS) if rng.random() < 0.05 else "",
                     now + tid * 120, now + tid * 120, settings.model, settings.image_size))
        if rng.random() < 0.2:
            tags += [(tid, t) for t in rng.sample(TAGS, rng.randint(1, 3))]
    with store._tx() as c:
        c.executemany("INSERT INTO turns (id, parent_id, prompt, status, settings_json, refs_json, user_json, "
                      "model_json, grounding_json, cost, starred, label, created_at, updated_at, model, image_size) "
                      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        c.executemany("INSERT INTO turn_tags (turn_id, tag) VALUES (?, ?)", tags)
    store.close()


QUERIES = (
    ("one word: fox (in ~every turn's thoughts)", "fox", '"fox"*'),
    ("two words: watercolour fox", "watercolour fox", '"watercolour"* "fox"*'),
    ('phrase: "red fox"', '"red fox"', '"red fox"'),
    ("rare word: encyclopedia", "encyclopedia", '"encyclopedia"*'),
    ("tag:hero", "tag:hero", None),
    ("fox model:pro aspect:16:9 size:2K", "fox model:pro aspect:16:9 size:2K", '"fox"*'),
    ("starred cost>0.2", "starred cost>0.2", None),
    ("owl -fox has:refs", "owl -fox has:refs", '"owl"*'),
    ("project:p07 after:30d lighthouse", "project:p07 after:30d lighthouse", '"lighthouse"*'),
    ("everything (no words)", "", None),
)


def floor_query(index: Path, match: str | None) -> None:
    conn = sqlite3.connect(str(index))
    try:
        if match is None:
            conn.execute("SELECT * FROM docs ORDER BY created_at DESC LIMIT 201").fetchall()
        else:
            conn.execute("SELECT d.* FROM docs d WHERE d.id IN (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?) "
                         "ORDER BY d.created_at DESC LIMIT 201", (match,)).fetchall()
    finally:
        conn.close()


def same_sql(index: Path, lib: Library, text: str) -> None:
    """The SQL the search runs, alone (no parse, no sync, no result objects)."""
    sql, params = compile_query(parse(text), lib.index.project_ids(lib.roots), 201)
    conn = sqlite3.connect(str(index))
    try:
        conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def per_project(root: Path, names: list[str], text: str) -> None:
    for name in names:
        with ProjectStore.open(root, name, create=False) as store:
            store.search(text, limit=200)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--projects", type=int, default=20)
    ap.add_argument("--turns", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(16)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        root = Path(tmp) / "projects"
        names = [f"p{i:02d}" for i in range(args.projects)]
        t0 = time.perf_counter()
        for name in names:
            build_project(root, name, args.turns, rng)
        print(f"{args.projects} projects × {args.turns} turns built in {time.perf_counter() - t0:.1f} s")
        index = Path(tmp) / "search-index.db"
        t0 = time.perf_counter()
        lib = Library(index, [root])
        first = lib.sync()
        build_s = time.perf_counter() - t0
        print(f"first index build: {build_s:.1f} s ({first.indexed} turns), index "
              f"{sum(p.stat().st_size for p in Path(tmp).glob('search-index.db*')) / 1e6:.0f} MB")
        sync_ms = median_ms(lib.sync, args.runs, 1)

        def one_new_turn() -> None:
            with ProjectStore.open(root, names[min(3, len(names) - 1)], create=False) as store:
                store.create_turn(None, "a new fox turn", GenerationSettings(), [], user_content("x"))
            t = time.perf_counter()
            lib.sync()
            new_turn_ms.append((time.perf_counter() - t) * 1000)

        new_turn_ms: list[float] = []
        for _ in range(args.runs):
            one_new_turn()
        new_turn_ms.sort()
        rows: list[tuple[str, float, float, float | str, str]] = []
        ok = True
        for title, text, match in QUERIES:
            ms = median_ms(lambda text=text: lib.search(text, limit=200), args.runs, 1)
            alone = median_ms(lambda text=text: same_sql(index, lib, text), args.runs, 1)
            floor: float | str = (median_ms(lambda match=match: floor_query(index, match), args.runs, 1)
                                  if match else "-")
            n = len(lib.search(text, limit=200).hits)
            ok = ok and ms < 300
            rows.append((f"{title} ({n} hits)", ms, alone, floor, "ok" if ms < 300 else "SLOW"))
        naive = median_ms(lambda: per_project(root, names, "fox"), max(3, args.runs // 2), 0)
        lib.close()
    print()
    print(table(["query (limit 200, newest first)", f"search ms (median of {args.runs})", "its SQL alone ms",
                 "bare FTS5 MATCH ms", "< 300 ms"], rows))
    print()
    print(f"sync, nothing changed ({args.projects} projects): {sync_ms:.1f} ms")
    print(f"sync after one new turn in one project: {new_turn_ms[len(new_turn_ms) // 2]:.1f} ms (median)")
    print(f"per-project way: open {args.projects} projects + prompt search 'fox' each: {naive:.0f} ms")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
