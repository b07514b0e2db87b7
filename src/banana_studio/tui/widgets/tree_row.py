"""One line of the branch tree as a Rich strip: status glyph, star, id, DEMO badge, sibling position,
kind mark, image count, label, prompt and cost.  Pure drawing (no widget state), so the tree widget
keeps to data and navigation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from banana_studio.domain.target import DEMO_BADGE
from banana_studio.tui.widgets.tree_layout import Row


class TurnNodeLike(Protocol):
    """The store's light row (``banana_studio.store.TurnNode``); only these attributes are read."""

    id: int
    parent_id: int | None
    prompt: str
    status: str
    starred: bool
    label: str
    created_at: float
    n_final: int
    kind: str
    cost: float


STATUS_GLYPHS: dict[str, str] = {
    "done": "●",
    "pending": "◌",
    "running": "◌",
    "failed": "✗",
    "cancelled": "⊘",
    "interrupted": "⚠",
}
KIND_MARKS: dict[str, str] = {"reroll": "↻", "variation": "≈", "batch": "≈", "from_image": "▣", "template": "▦"}
"""Marks for turns that are not plain continuations (every child turn is an "edit": no mark)."""


def row_strip(row: Row, node: Any | None, *, width: int, line: Style, style: Callable[[str], Style],
              cursor: bool) -> Strip:
    """The line for ``row`` with its display row ``node`` (``None``: not fetched yet — guides and id
    only), ``width`` cells wide on the ``line`` style; ``style(name)`` gives a component style."""
    if node is None:  # display row not fetched yet: the guides and the id, the rest in a moment
        segs = [Segment("▸" if cursor else " ", line),
                Segment(row.guide, line + style("guide")), Segment("·", line + style("guide")),
                Segment(f" #{row.id}", line + style("id"))]
        return Strip(segs).crop_extend(0, width, line)
    status = str(getattr(node, "status", "done"))
    status_style = "running" if status == "pending" else status
    segs: list[Segment] = [Segment("▸" if cursor else " ", line)]
    guide = row.guide
    max_guide = max(0, width // 2)
    if len(guide) > max_guide:
        guide = "…" + guide[len(guide) - max_guide + 1 :]
    if guide:
        segs.append(Segment(guide, line + style("guide")))
    segs.append(Segment(STATUS_GLYPHS.get(status, "?"),
                        line + (style(status_style) if status_style in STATUS_GLYPHS else line)))
    if getattr(node, "starred", False):
        segs.append(Segment("★", line + style("star")))
    segs.append(Segment(f" #{row.id}", line + style("id")))
    demo = getattr(node, "target", "") == "local"
    if demo:  # made by the local demo server: synthetic image, simulated cost
        segs.extend([Segment(" ", line), Segment(DEMO_BADGE, line + style("demo"))])
    if row.sib_count > 1:
        segs.append(Segment(f" {row.sib_index + 1}/{row.sib_count}", line + style("siblings")))
    mark = KIND_MARKS.get(str(getattr(node, "kind", "")), "")
    if mark:
        segs.append(Segment(f" {mark}", line + style("siblings")))
    n_final = int(getattr(node, "n_final", 0) or 0)
    if n_final > 1:
        segs.append(Segment(f" ×{n_final}", line + style("id")))
    label = str(getattr(node, "label", "") or "")
    if label:
        segs.append(Segment(f" [{label}]", line + style("label")))
    prompt = " ".join(str(getattr(node, "prompt", "")).split())
    segs.append(Segment(f" {prompt}" if prompt else " (no prompt)", line))
    cost = float(getattr(node, "cost", 0.0) or 0.0)
    strip = Strip(segs)
    if cost > 0 and width >= 40 and not demo:  # a demo turn's simulated cost is not money
        cost_text = f" ${cost:.2f}"
        room = width - len(cost_text)
        if strip.cell_length > room:
            strip = Strip([*strip.crop(0, room - 1), Segment("…", line)])
        else:
            strip = strip.crop_extend(0, room, line)
        return Strip([*strip, Segment(cost_text, line + style("cost"))], width)
    if strip.cell_length > width:
        strip = Strip([*strip.crop(0, width - 1), Segment("…", line)])
    return strip.crop_extend(0, width, line)


__all__ = ["KIND_MARKS", "STATUS_GLYPHS", "TurnNodeLike", "row_strip"]
