"""The store's fixed cost of recording one turn, against the durable-write floor, in the same run.

One real-sized turn as the service records it: ``create_turn`` (before the request), two
``save_draft`` calls as the drafts stream in, then ``complete_turn`` with the answer (two ~300 KB
drafts, a ~1 MB photo-like JPEG final, a 2.2 MB thought signature).  The floor writes the same new
files once each with :func:`banana_studio.store.files.atomic_write` (temp file, ``fsync``, rename,
``fsync`` of the folder) and nothing else — the durability the store must keep.  The difference is
the store's own overhead (hashing, recipe, SQLite, Pillow header reads).  Also counted: SHA-256
passes over the answer's bytes (each byte should be hashed once, the final file with its recipe once).

Medians of ``--runs`` interleaved runs (store, floor, floor, store, ...), in a project that already
holds 0 / 1k / 10k / 100k turns (``--sizes``; built with ``bench_history.build``): the cost must not
grow with the project.

    .venv/bin/python benchmarks/bench_turn_write.py [--runs 7] [--sizes 0,1000,10000,100000]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import med, spread

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore
from banana_studio.store.files import atomic_write

TARGET_OVERHEAD_MS = 15.0
"""What the store may add to the floor for one turn (SQLite commits, recipe, header reads)."""


def photo_jpeg(px: int, seed: int, quality: int = 92) -> bytes:
    """A photo-like JPEG (noise + gradients compress like a real image, ~1 MB at 1K)."""
    from PIL import Image

    rnd = os.urandom(px * px * 3)
    img = Image.frombytes("RGB", (px, px), rnd).resize((px, px))
    grad = Image.linear_gradient("L").resize((px, px)).convert("RGB")
    img = Image.blend(img, grad, 0.35 + (seed % 3) * 0.05)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


class ShaCounter:
    """Counts SHA-256 passes over large buffers (≥ 64 KB) while active."""

    def __init__(self) -> None:
        self.passes: list[int] = []
        self._real = hashlib.sha256

    def __enter__(self) -> ShaCounter:
        real = self._real
        passes = self.passes

        def counted(data: Any = b"", **kw: Any) -> Any:
            if len(data) >= 65536:
                passes.append(len(data))
            return real(data, **kw)

        hashlib.sha256 = counted  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        hashlib.sha256 = self._real  # type: ignore[assignment]


def store_turn(store: ProjectStore, parent: int | None, drafts: list[bytes], final: bytes, sig: bytes) -> int:
    t = store.create_turn(parent, "a lighthouse at dusk, photo", GenerationSettings(), [],
                          user_content("a lighthouse at dusk, photo"))
    for i, d in enumerate(drafts):
        store.save_draft(t.id, d, "image/jpeg", i)
    parts = [Part(text="**Planning** the light", thought=True)]
    parts += [Part(mime_type="image/jpeg", data=d, thought=True) for d in drafts]
    parts.append(Part(mime_type="image/jpeg", data=final, thought_signature=sig))
    store.complete_turn(t.id, model_content=Content("model", parts), status="done", cost=0.134,
                        usage={"prompt_tokens": 12, "candidates_tokens": 1120})
    return t.id


def floor_turn(folder: Path, n: int, drafts: list[bytes], final: bytes, sig: bytes) -> None:
    """The same new files, each written once, durably."""
    for i, data in enumerate([*drafts, final, sig, final]):
        atomic_write(folder / f"{n}-{i}", data, tmp_dir=folder / ".tmp")


def measure(root: Path, runs: int, drafts: list[bytes], finals: list[bytes], sig: bytes) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"store": [], "floor": [], "cpu": [], "passes": []}
    store = ProjectStore.open(root, "bench")
    floor_dir = root / "floor"
    floor_dir.mkdir(exist_ok=True)
    last = store.tree_skeleton()[0]
    parent = store_turn(store, last[-1] if last else None, drafts, finals[-1], sig)  # warm-up
    for i in range(runs):
        for which in (("store", "floor") if i % 2 == 0 else ("floor", "store")):
            # Fresh bytes each run: the store hashes and writes everything anew, as for a real answer.
            ds = [d[:-2] + bytes([i % 256, 0xD9]) for d in drafts]
            s = sig[:-4] + i.to_bytes(4, "big")
            t0, c0 = time.perf_counter(), time.process_time()
            if which == "store":
                with ShaCounter() as counter:
                    parent = store_turn(store, parent, ds, finals[i], s)
                out["store"].append((time.perf_counter() - t0) * 1000)
                out["cpu"].append((time.process_time() - c0) * 1000)
                out["passes"].append(len(counter.passes))
            else:
                floor_turn(floor_dir, i, ds, finals[i], s)
                out["floor"].append((time.perf_counter() - t0) * 1000)
    store.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sizes", default="0")
    args = ap.parse_args()
    import bench_history

    drafts = [photo_jpeg(512, 1, 80), photo_jpeg(512, 2, 80)]
    finals = [photo_jpeg(1024, 3 + i) for i in range(args.runs + 1)]
    sig = os.urandom(2_200_000)
    rows: list[tuple[Any, ...]] = []
    worst = 0.0
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory(prefix="bench-turn-write-") as tmp_s:
            root = Path(tmp_s) / "projects"
            if n:
                bench_history.build(root, n, 0)
            r = measure(root, args.runs, drafts, finals, sig)
        overhead = [a - b for a, b in zip(r["store"], r["floor"], strict=True)]
        worst = max(worst, med(overhead))
        rows.append((f"{n:,} turns", med(r["store"]), spread(r["store"]), med(r["floor"]), spread(r["floor"]),
                     med(overhead), med(r["cpu"]), med(r["passes"])))
    size = sum(map(len, drafts)) + len(finals[0]) + len(sig)
    print(f"One real-sized turn ({size / 1e6:.1f} MB of answer: 2 drafts, final, 2.2 MB signature), medians of "
          f"{args.runs} interleaved runs; floor = the same new files written once each with fsync + folder fsync:")
    print(table(["project", "store ms", "min–max", "floor ms", "min–max", "overhead ms (paired)", "store CPU ms",
                 "SHA-256 passes"], rows))
    print("SHA-256 passes over >= 64 KB buffers: the minimum is 5 (2 drafts, final, signature, final file + recipe)")
    ok = worst < TARGET_OVERHEAD_MS
    print(f"target: overhead < {TARGET_OVERHEAD_MS:.0f} ms at every size: {'ok' if ok else 'OVER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
