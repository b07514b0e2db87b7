"""A matrix run: slot values × aspect ratios × sizes × models × seeds → one cell per request.

The cells are the cartesian product of the axes in a fixed order (slots in the template's order,
then aspect, size, model, seed), so cell *i* of a run always means the same combination.  For the
X/Y plot the first axis with more than one value gives the columns and the others, combined, the
rows (:func:`layout`).  Pure.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.safetext import display_text
from banana_studio.domain.template import Template, TemplateError, fill

MAX_CELLS = 1000
"""One run's requests at most (the Batch API takes many more; a matrix this big is a typo)."""
SETTING_AXES = (("aspect", "aspect_ratio"), ("size", "image_size"), ("model", "model"), ("seed", "seed"))
"""Axis name → GenerationSettings field, in product order after the slots."""


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    values: tuple[str, ...]
    slot: bool = True
    """A slot of the prompt (else a setting: aspect, size, model, seed)."""

    @property
    def label(self) -> str:
        return self.name if self.slot else f"[{self.name}]"


@dataclass(slots=True)
class Cell:
    index: int
    slots: dict[str, str]
    """Slot → value of this cell (every slot of the prompt)."""
    axes: dict[str, str]
    """Axis name → value, for every axis with more than one value (what tells the cells apart)."""
    prompt: str
    settings: dict[str, Any] = field(default_factory=dict)
    """GenerationSettings changes of this cell (aspect, size, model, seed axes)."""

    def title(self) -> str:
        return " · ".join(f"{k}={v}" for k, v in self.axes.items()) or "the only cell"


@dataclass(slots=True)
class Matrix:
    axes: list[Axis]
    cells: list[Cell]

    @property
    def varying(self) -> list[Axis]:
        return [a for a in self.axes if len(a.values) > 1]

    def describe(self) -> str:
        """``2 subject × 2 aspect = 4 requests``."""
        parts = [f"{len(a.values)} {a.name}" for a in self.varying]
        n = len(self.cells)
        return f"{' × '.join(parts) + ' = ' if parts else ''}{n} request{'s' if n != 1 else ''}"


def split_values(raw: str) -> list[str]:
    """``fox,owl`` → ``[fox, owl]``; ``\\,`` is a literal comma; values are stripped, empty ones dropped."""
    out: list[str] = []
    cur: list[str] = []
    it = iter(raw)
    for ch in it:
        if ch == "\\":
            nxt = next(it, "")
            cur.append(nxt if nxt == "," else ch + nxt)
        elif ch == ",":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [v.strip() for v in out if v.strip()]


def _dedupe(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def expand(template: Template, slot_values: dict[str, list[str]] | None = None, *,
           aspects: list[str] | None = None, sizes: list[str] | None = None, models: list[str] | None = None,
           seeds: list[int] | None = None, limit: int = MAX_CELLS) -> Matrix:
    """The cells of a run of ``template``.  ``slot_values`` override the template's defaults; an empty
    settings list means the template's (or the defaults') single value.  :class:`TemplateError` for a
    slot without a value, an unknown slot, or more than ``limit`` cells."""
    given = dict(slot_values or {})
    used = template.slot_names
    unknown = [s for s in given if s not in used]
    if unknown:
        raise TemplateError(f"Template {template.name!r} has no slot {unknown[0]!r}; its slots: "
                            f"{', '.join(used) or 'none'}.")
    axes: list[Axis] = []
    for name in used:
        values = given.get(name) or template.slots.get(name) or []
        if not values:
            raise TemplateError(f"Slot {{{name}}} of template {template.name!r} has no value: give one "
                                f"(--set {name}=...).")
        axes.append(Axis(name, _dedupe(list(values))))
    lists: dict[str, list[str]] = {"aspect": aspects or [], "size": sizes or [], "model": models or [],
                                   "seed": [str(s) for s in seeds or []]}
    for name, _field in SETTING_AXES:
        if lists[name]:  # a slot of the same name keeps its name; the setting axis says what it is
            label = f"setting:{name}" if name in used else name
            axes.append(Axis(label, _dedupe(lists[name]), slot=False))
    total = 1
    for a in axes:
        total *= len(a.values)
    if total > limit:
        raise TemplateError(f"That matrix has {total:,} cells, more than {limit:,}: use fewer values.")
    fields = dict(SETTING_AXES)
    fields.update({f"setting:{k}": v for k, v in SETTING_AXES})
    cells: list[Cell] = []
    for i, combo in enumerate(itertools.product(*(a.values for a in axes))):
        slots = {a.name: v for a, v in zip(axes, combo, strict=True) if a.slot}
        settings: dict[str, Any] = {}
        for a, v in zip(axes, combo, strict=True):
            if not a.slot:
                settings[fields[a.name]] = int(v) if fields[a.name] == "seed" else v
        shown = {a.name: v for a, v in zip(axes, combo, strict=True) if len(a.values) > 1}
        cells.append(Cell(i, slots, shown, fill(template.prompt, slots), settings))
    return Matrix(axes, cells)


@dataclass(slots=True)
class Layout:
    """The X/Y plot of a matrix: ``grid[row][col]`` is a cell index."""

    x: Axis | None
    y: list[Axis]
    columns: list[str]
    rows: list[str]
    grid: list[list[int]]


def layout(axes: list[Axis], n_cells: int) -> Layout:
    """Columns from the first varying axis, rows from the others (their values joined by ``·``)."""
    varying = [i for i, a in enumerate(axes) if len(a.values) > 1]
    if not varying:
        return Layout(None, [], [""], [""], [[0]] if n_cells else [])
    xi, yi = varying[0], varying[1:]
    columns = list(axes[xi].values)
    rows = [" · ".join(combo) for combo in itertools.product(*(axes[i].values for i in yi))] or [""]
    # the cell index of (row, col): cells are the product in axis order (the last axis fastest)
    strides = [0] * len(axes)
    step = 1
    for i in range(len(axes) - 1, -1, -1):
        strides[i] = step
        step *= len(axes[i].values)
    grid: list[list[int]] = []
    for combo in itertools.product(*(range(len(axes[i].values)) for i in yi)):
        base = sum(strides[i] * k for i, k in zip(yi, combo, strict=True))
        grid.append([base + strides[xi] * c for c in range(len(columns))])
    return Layout(axes[xi], [axes[i] for i in yi], columns, rows, grid)


CELL_WIDTH = 26


def _cut(text: str, width: int = CELL_WIDTH) -> str:
    text = display_text(text, one_line=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def grid_lines(lay: Layout, cell_text: Callable[[int], str]) -> list[str]:
    """The X/Y grid as text: column headings from the X axis, row headings from the others."""
    corner = " · ".join(a.name for a in lay.y)
    if lay.x is not None:
        corner = f"{corner} \\ {lay.x.name}" if corner else lay.x.name
    heads = [_cut(r) for r in lay.rows]
    first = max([len(_cut(corner))] + [len(h) for h in heads])
    cols = [_cut(c) for c in lay.columns]
    body = [[_cut(cell_text(i)) for i in row] for row in lay.grid]
    widths = [max([len(cols[c])] + [len(r[c]) for r in body]) for c in range(len(cols))]
    out = ["  ".join([_cut(corner).ljust(first)] + [h.ljust(w) for h, w in zip(cols, widths, strict=True)]).rstrip()]
    for head, row in zip(heads, body, strict=True):
        out.append("  ".join([head.ljust(first)] + [t.ljust(w) for t, w in zip(row, widths, strict=True)]).rstrip())
    return out


def axes_to_json(axes: list[Axis]) -> list[dict[str, Any]]:
    return [{"name": a.name, "values": list(a.values), "slot": a.slot} for a in axes]


def axes_from_json(raw: Any) -> list[Axis]:
    out: list[Axis] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("values"), list):
            out.append(Axis(item["name"], tuple(str(v) for v in item["values"]), bool(item.get("slot", True))))
    return out
