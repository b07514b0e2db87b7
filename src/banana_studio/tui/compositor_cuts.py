"""Textual's compositor, without dividing strips whose every piece a widget in front already covers.

To paint a frame, ``Compositor._render_chops`` (Textual 8.2) takes every widget in the update's
bounding box, front to back, and divides each of its lines at every cut (a widget edge) inside it;
the first piece found for a cut wins.  A container's background line lies behind its children, so
all of its pieces are thrown away, yet it was divided all the same: at the end of a turn (the turn
detail and its thumbnails replace the thinking log) that was ~30-40 ms of a ~90 ms frame on this
2-core box (``benchmarks/bench_frames.py``), most of the frame's compositing.

:func:`apply` replaces the method with the same walk that skips the division when every cut the line
could fill is filled already.  Nothing else changes: every widget still renders its lines (their side
effects, e.g. a sixel picture's bookkeeping, stay), and a line that fills any cut is divided exactly
as before.  ``tests/tui/test_compositor_cuts.py`` compares the two on real studio screens, frame by
frame.  Only for the Textual it was written against (8.x); ``BANANA_STUDIO_CUTS=textual`` opts out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from textual import __version__ as textual_version
from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip

ORIGINAL = Compositor._render_chops
_applied = False


def render_chops(self: Compositor, crop: Region, is_rendered_line: Callable[[int], bool],
                 ) -> Sequence[Mapping[int, Strip]]:
    """``Compositor._render_chops`` (Textual 8.2.8) with the covered lines' division skipped."""
    cuts = self.cuts
    chops: list[dict[int, Any]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
    intersection = Region.intersection
    for region, clip, strips in self._get_renders(crop):
        render_region = intersection(region, clip)
        render_x = render_region.x
        first_cut, last_cut = render_region.column_span
        for y, strip in zip(render_region.line_range, strips, strict=False):
            if not is_rendered_line(y):
                continue
            chops_line = chops[y]
            final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
            get = chops_line.get
            # The pieces go to final_cuts[:-1] (the last cut ends the line's span): all taken means
            # every piece would be discarded.
            if all(get(cut) is not None for cut in final_cuts[:-1]):
                continue
            for cut, piece in zip(final_cuts, strip.divide([cut - render_x for cut in final_cuts[1:]]),
                                  strict=False):
                if get(cut) is None:
                    chops_line[cut] = piece
    return chops


def apply() -> None:
    """Install :func:`render_chops` (idempotent; not for another major Textual or when opted out)."""
    global _applied
    if _applied or os.environ.get("BANANA_STUDIO_CUTS", "") == "textual" or not textual_version.startswith("8."):
        return
    Compositor._render_chops = render_chops  # type: ignore[method-assign]
    _applied = True
