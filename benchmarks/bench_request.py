"""Request building for a 10-turn branch of real-sized answers, and the size the studio shows.

A branch of ten 1K edits is built through ``Studio.generate`` against the real-size local server (in
its own process).  Then, for the next send from the tip, it measures (median of N): reading the
branch (``replay_contents``), ``validate_request`` + ``build_stream_request`` (what the engine does
before sending), the sidebar's size figure (``Studio.next_request_size``, which reads no image), and
the request size with and without replayed drafts.  ``BENCH_SMALL=1`` runs the same on small answers.

    .venv/bin/python benchmarks/bench_request.py [--turns 10] [--runs 7] [--size 1K]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median_ms, table
from _perf import ServerProcess

MB = 1024 * 1024


async def build_branch(base_url: str, root: Path, turns: int, size: str) -> tuple[object, int]:
    from banana_studio.config import load_config
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import GenerateRequest, Studio

    config = load_config()
    config.base_url = base_url
    config.api_key = "bench"
    studio = Studio.open(config, project="request", project_dir=root)
    parent = None
    for i in range(turns):
        req = GenerateRequest(prompt=f"edit {i}: add a small banana", parent_id=parent,
                              settings=GenerationSettings(image_size=size))
        async for ev in studio.generate(req):
            turn = getattr(ev, "turn", None)
            if type(ev).__name__ == "TurnSaved" and turn is not None:
                if turn.status != "done":
                    raise RuntimeError(f"turn {i} ended {turn.status}")
                parent = turn.id
    return studio, int(parent or 0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--size", default="1K")
    args = ap.parse_args()
    from banana_studio.domain.content import user_content
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.engine.request import build_stream_request, request_size, validate_request

    with tempfile.TemporaryDirectory(prefix="bench-request-") as tmp, ServerProcess(latency=0.0) as srv:
        studio, tip = asyncio.run(build_branch(srv.base_url, Path(tmp), args.turns, args.size))
        s = GenerationSettings(image_size=args.size)
        lean = GenerationSettings(image_size=args.size, replay_drafts=False)
        user = user_content("one more edit")
        history = studio.store.replay_contents(tip)  # type: ignore[attr-defined]
        rows = [
            ("replay_contents (read branch + blobs)", median_ms(lambda: studio.store.replay_contents(tip),  # type: ignore[attr-defined]
                                                                args.runs)),
            ("validate_request + build_stream_request", median_ms(
                lambda: (validate_request(history, user, s), build_stream_request(history, user, s)), args.runs)),
            ("next_request_size (sidebar figure)", median_ms(lambda: studio.next_request_size(tip, s), args.runs)),  # type: ignore[attr-defined]
        ]
        full, no_drafts = request_size(history, user, s), request_size(history, user, lean)
        shown = studio.next_request_size(tip, s)  # type: ignore[attr-defined]
        print(f"{args.turns}-turn {args.size} branch, {'small' if srv.small else 'real-size'} answers")
        print(table(["step", "median ms"], rows))
        print(f"next request: {full / MB:.1f} MB ({100 * full / (100 * MB):.0f}% of 100 MB); without drafts "
              f"{no_drafts / MB:.1f} MB; sidebar figure {shown.total / MB:.1f} MB")
        if shown.warning:
            print(f"warning shown: {shown.warning}")
        asyncio.run(studio.aclose())  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
