"""Region edits: what the guarantee costs, and what each way of sending the region adds to a request.

On real-size pictures of the local server (grainy JPEGs like Google's) at 1K, 2K and 4K (16:9), median of
N runs: building the guide (decode + outline + JPEG), protect-outside (decode both, composite, PNG
encode), and the change map.  Then the bytes a region edit adds to the request (base64, as sent) for
the ways public examples use: the guide alone, the source + a guide (this studio's choice), and the
source + a black/white mask — with the input-token cost of the extra images on Nano Banana Pro.

    .venv/bin/python benchmarks/bench_region.py [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median_ms, table

SIZES = {"1K": (1376, 768), "2K": (2752, 1536), "4K": (5504, 3072)}
MB = 1024 * 1024
IMAGE_INPUT_TOKENS = 560
"""Input tokens per image on Nano Banana Pro (the local server counts the same)."""
PRICE_PER_M_INPUT = 2.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from banana_studio.domain.region import Box, RegionSpec
    from banana_studio.fakeserver.images import ImageSpec, render
    from banana_studio.services import region as svc
    from banana_studio.services import region_pixels as px

    boxes = (Box(0.55, 0.45, 0.3, 0.35), Box(0.08, 0.1, 0.2, 0.25))
    spec = RegionSpec(boxes, feather=12)
    timing, sizes = [], []
    for label, (w, h) in SIZES.items():
        def pic(prompt: str, w: int = w, h: int = h, label: str = label) -> bytes:
            return render(ImageSpec(prompt=prompt, model="gemini-3-pro-image", aspect_ratio="16:9",
                                    image_size=label, width=w, height=h)).final

        source, answer = pic("a harbour at dawn"), pic("a harbour at dawn with a red boat")
        plan = svc._build(source, spec)
        guide_ms = median_ms(lambda source=source: svc._build(source, spec), args.runs)
        protect_ms = median_ms(lambda source=source, answer=answer, plan=plan: svc._protect_one(source, answer, plan),
                               args.runs)
        map_ms = median_ms(lambda source=source, answer=answer: svc._map(source, answer, boxes), args.runs)
        tui_ms = median_ms(lambda source=source, answer=answer: svc._map(source, answer, boxes, 1600), args.runs)
        timing.append((label, f"{w}x{h}", guide_ms, protect_ms, map_ms, tui_ms))
        src_img = px.open_rgb(source)
        mask = px.jpeg_bytes(px.box_mask(src_img.size, boxes).convert("RGB"), 92)
        b64 = 4 / 3
        for way, extra in (("guide only", [plan.guide]), ("source + guide", [source, plan.guide]),
                           ("source + mask", [source, mask])):
            added = sum(len(x) for x in extra) * b64
            tokens = IMAGE_INPUT_TOKENS * len(extra)
            sizes.append((label, way, added / MB, tokens, tokens * PRICE_PER_M_INPUT / 1e6 * 1000))
    print("Region edit pixel work (ms, median of", args.runs, "runs; off the event loop in the studio)")
    print(table(["size", "pixels", "guide", "protect", "change map", "map (studio, 1600 px)"], timing))
    print()
    print("What the region adds to the request (base64 MB as sent; input tokens; $/1000 edits on Pro input)")
    print(table(["size", "way", "MB", "tokens", "$/1000"], sizes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
