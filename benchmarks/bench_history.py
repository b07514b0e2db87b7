"""History store benchmark: a synthetic project of 10,000 turns / 20,000 images.

Times ``ProjectStore.open``, ``tree_index``, ``search`` (and ``recent``, ``path_to`` of a deep turn,
``replay_contents`` of a 20-turn branch) as the median of several runs.  Target: each < 200 ms.
Everything is written inside a temporary directory that is removed afterwards.

    .venv/bin/python benchmarks/bench_history.py [--turns 10000] [--runs 7]

The bulk of the project is inserted with SQL in the store's own schema (rows shaped exactly like
``complete_turn`` writes them, image files hard-linked to a few real JPEGs) so the build takes
seconds; a few hundred turns are also created through the real API to time that path.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median_ms, table

from banana_studio.domain.content import Content, Part, sha256_hex, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore, slugify
from banana_studio.store.files import blob_rel

_WORD_TEXT = (
    "cat fox owl lighthouse harbour neon city forest watercolour portrait hat scarf snow rain desert robot garden "
    "castle dragon tea cup morning night sunset studio product bottle label poster sticker isometric pixel oil "
    "sketch cinematic macro wide blue red green golden misty"
)
WORDS = tuple(_WORD_TEXT.split())


def jpeg(seed: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)).save(buf, format="JPEG")
    return buf.getvalue()


def build(root: Path, n_turns: int, api_turns: int) -> tuple[Path, dict[str, float]]:
    rng = random.Random(42)
    timings: dict[str, float] = {}
    store = ProjectStore.open(root, "bench")
    project = store.path
    pool = [jpeg(i) for i in range(8)]
    for data in pool:
        store._put_blob(data)
    sig = os.urandom(2048)
    settings = json.dumps(GenerationSettings().to_json())
    t0 = time.perf_counter()
    rows, images, blobs = [], [], []
    now = time.time() - n_turns * 60
    for tid in range(1, n_turns + 1):
        parent = None if tid == 1 or rng.random() < 0.02 else rng.randint(max(1, tid - 30), tid - 1)
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16)))
        a, b = rng.choice(pool), rng.choice(pool)
        sa, sb = sha256_hex(a), sha256_hex(b)
        model = Content("model", [Part(text="**Planning** " + prompt, thought=True),
                                  Part(mime_type="image/jpeg", blob=sa, thought=True),
                                  Part(mime_type="image/jpeg", blob=sb, thought_signature=sig)])
        rows.append((tid, parent, prompt, "done", settings, json.dumps(user_content(prompt).to_json()),
                     json.dumps(model.to_json()), json.dumps({"promptTokenCount": 12, "candidatesTokenCount": 1120}),
                     0.134, int(rng.random() < 0.05), now + tid * 60, now + tid * 60, "gemini-3-pro-image", "1K"))
        fname = f"images/{tid:04d}-{slugify(prompt)}.jpg"
        dname = f"images/drafts/{tid:04d}-d1.jpg"
        images.append((tid, "final", 0, sb, "image/jpeg", fname, 64, 64, sb))
        images.append((tid, "draft", 0, sa, "image/jpeg", dname, 64, 64, sa))
        blobs += [(tid, sa), (tid, sb)]
    with store._tx() as c:
        c.executemany(
            "INSERT INTO turns (id, parent_id, prompt, status, settings_json, user_json, model_json, usage_json, cost,"
            " starred, created_at, updated_at, model, image_size) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        c.executemany("INSERT INTO images (turn_id, kind, idx, sha256, mime, path, width, height, file_sha256)"
                      " VALUES (?,?,?,?,?,?,?,?,?)", images)
        c.executemany("INSERT OR IGNORE INTO turn_blobs (turn_id, sha256) VALUES (?, ?)", blobs)
    (project / "images" / "drafts").mkdir(parents=True, exist_ok=True)
    for _tid, _kind, _i, sha, _m, rel, *_ in images:
        os.link(project / blob_rel(sha), project / rel)
    timings["build (SQL bulk + 20k hard links), s"] = time.perf_counter() - t0
    # A slice through the real API: create_turn + complete_turn with a 600 KB signature.
    big = os.urandom(600 * 1024)
    t0 = time.perf_counter()
    parent = n_turns
    for i in range(api_turns):
        t = store.create_turn(parent, f"api turn {i} {rng.choice(WORDS)}", GenerationSettings(), [],
                              user_content("api turn"))
        store.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=jpeg(i),
                                                                       thought_signature=big)]), status="done")
        parent = t.id
    if api_turns:
        timings["create+complete via API (600 KB sig), ms/turn"] = (time.perf_counter() - t0) * 1000 / api_turns
    store.close()
    return project, timings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=10_000)
    ap.add_argument("--api-turns", type=int, default=200)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        root = Path(tmp)
        project, build_times = build(root, args.turns, args.api_turns)
        n_images = sum(1 for _ in (project / "images").rglob("*.jpg"))
        store = ProjectStore.open(root, "bench")
        deepest = store.tree_index()[-1].id
        results = [
            ("open (incl. recovery scan)", median_ms(lambda: ProjectStore.open(root, "bench").close(), args.runs, 1)),
            ("tree_index (all turns)", median_ms(store.tree_index, args.runs, 1)),
            ("search 'fox' (limit 200)", median_ms(lambda: store.search("fox"), args.runs, 1)),
            ("search 'watercolour fox' starred", median_ms(lambda: store.search("watercolour fox", starred=True),
                                                           args.runs, 1)),
            ("recent(50)", median_ms(lambda: store.recent(50), args.runs, 1)),
            ("path_to(deepest API turn)", median_ms(lambda: store.path_to(deepest), args.runs, 1)),
            ("replay_contents(20th API turn)", median_ms(lambda: store.replay_contents(deepest - 180),
                                                             args.runs, 1)),
        ]
        n_turns = len(store.tree_index())
        db_mb = sum(p.stat().st_size for p in project.glob("project.db*")) / 1e6
        store.close()
    print(f"Synthetic project: {n_turns} turns, {n_images} image files, index {db_mb:.1f} MB")
    for k, v in build_times.items():
        print(f"  {k}: {v:.2f}")
    print()
    rows = [(name, ms, "ok" if ms < 200 else "SLOW") for name, ms in results]
    print(table(["operation", f"median ms ({args.runs} runs)", "< 200 ms"], rows))
    return 0 if all(ms < 200 for _, ms in results[:4]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
