"""Regions of an image: where a region edit may change pixels (pure; no Pillow).

A region is one or more rectangles in *normalised* coordinates (0..1 of the image's width and height,
origin top left), so the same region applies to the source, to the guide image sent with it and to an
answer of any resolution.  :class:`RegionSpec` is what a turn records in its settings (``settings.region``)
— the boxes, whether the outside is protected, the feather width, and for an outpaint the target canvas.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

DEFAULT_FEATHER = 12
"""Feather width in pixels of the answer: the blend band just outside the region's edge."""
MAX_BOXES = 16
MIN_SIDE = 0.002
"""Smallest box side (fraction); anything thinner is a slip of the mouse, not a region."""
OUTPAINT_SIDES = ("left", "right", "top", "bottom", "center")


class RegionError(ValueError):
    """A region or outpaint spec that cannot be used (the message says why, for the user)."""


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle: left ``x``, top ``y``, width ``w``, height ``h``, all fractions of the image."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def area(self) -> float:
        return self.w * self.h

    def clamped(self) -> Box:
        """The part of the box inside the image (0..1)."""
        if self.x >= 0.0 and self.y >= 0.0 and self.right <= 1.0 and self.bottom <= 1.0:
            return self
        x0, y0 = min(1.0, max(0.0, self.x)), min(1.0, max(0.0, self.y))
        x1, y1 = min(1.0, max(0.0, self.right)), min(1.0, max(0.0, self.bottom))
        return Box(x0, y0, round(max(0.0, x1 - x0), 9), round(max(0.0, y1 - y0), 9))

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` in pixels of a ``width`` x ``height`` image (right/bottom exclusive),
        never empty."""
        b = self.clamped()
        left = min(width - 1, max(0, math.floor(b.x * width + 1e-9)))
        top = min(height - 1, max(0, math.floor(b.y * height + 1e-9)))
        right = max(left + 1, min(width, math.ceil(b.right * width - 1e-9)))
        bottom = max(top + 1, min(height, math.ceil(b.bottom * height - 1e-9)))
        return left, top, right, bottom

    def box_2d(self) -> tuple[int, int, int, int]:
        """Gemini's own box notation: ``[ymin, xmin, ymax, xmax]`` scaled to 0-1000."""
        b = self.clamped()
        return (round(b.y * 1000), round(b.x * 1000), round(b.bottom * 1000), round(b.right * 1000))

    def to_json(self) -> list[float]:
        return [round(self.x, 5), round(self.y, 5), round(self.w, 5), round(self.h, 5)]

    def text(self) -> str:
        return ",".join(_num(v) for v in self.to_json())


def _num(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".") or "0"


def parse_boxes(text: str, size: tuple[int, int] | None = None) -> list[Box]:
    """``"x,y,w,h[,x,y,w,h...]"`` → boxes.  Fractions (every value ≤ 1, e.g. ``0.1,0.2,0.5,0.4``) or, with
    ``size`` (the source image's pixels), pixel values (``100,80,300,200``).  ``;`` or spaces may separate
    boxes too.  Raises :class:`RegionError` with a message for the user."""
    raw = [t for t in text.replace(";", ",").replace(" ", ",").split(",") if t.strip()]
    if not raw:
        raise RegionError("The region is empty: give x,y,w,h (fractions 0-1 of the image, or pixels).")
    if len(raw) % 4:
        raise RegionError(f"A region is x,y,w,h — four numbers per rectangle; got {len(raw)} numbers.")
    try:
        values = [float(t.strip().removesuffix("%")) / (100.0 if t.strip().endswith("%") else 1.0) for t in raw]
    except ValueError:
        raise RegionError(f"The region {text.strip()!r} is not a list of numbers (x,y,w,h).") from None
    if any(not math.isfinite(v) for v in values):
        raise RegionError("The region holds a number that is not finite.")
    pixels = any(v > 1.0 for v in values)
    if pixels and size is None:
        raise RegionError("Pixel regions need the source image; give fractions 0-1 instead (0.1,0.2,0.5,0.4).")
    boxes: list[Box] = []
    for i in range(0, len(values), 4):
        x, y, w, h = values[i:i + 4]
        if pixels and size is not None:
            x, w = x / size[0], w / size[0]
            y, h = y / size[1], h / size[1]
        boxes.append(checked_box(Box(x, y, w, h)))
    if len(boxes) > MAX_BOXES:
        raise RegionError(f"At most {MAX_BOXES} rectangles per region (got {len(boxes)}).")
    return boxes


def checked_box(box: Box) -> Box:
    """``box`` clamped to the image; raises :class:`RegionError` if it is empty or outside."""
    if box.w <= 0 or box.h <= 0:
        raise RegionError(f"A region rectangle needs a positive width and height (got {box.text()}).")
    c = box.clamped()
    if c.w < MIN_SIDE or c.h < MIN_SIDE:
        raise RegionError(f"The rectangle {box.text()} lies outside the image (or is too thin to use).")
    return c


def covered_fraction(boxes: list[Box] | tuple[Box, ...]) -> float:
    """Share of the image inside any of ``boxes`` (overlaps counted once)."""
    xs = sorted({b.x for b in boxes} | {b.right for b in boxes})
    total = 0.0
    for x0, x1 in itertools.pairwise(xs):
        spans = sorted((b.y, b.bottom) for b in boxes if b.x <= x0 and b.right >= x1)
        covered, end = 0.0, -1.0
        for y0, y1 in spans:
            if y1 > end:
                covered += y1 - max(y0, end)
                end = y1
        total += covered * (x1 - x0)
    return total


# -- outpaint ---------------------------------------------------------------------------------------


def parse_ratio(text: str) -> tuple[int, int]:
    a, sep, b = text.strip().partition(":")
    try:
        w, h = int(a), int(b)
    except ValueError:
        raise RegionError(f"{text!r} is not an aspect ratio like 16:9.") from None
    if not sep or w <= 0 or h <= 0 or w > 100 or h > 100:
        raise RegionError(f"{text!r} is not an aspect ratio like 16:9.")
    return w, h


MAX_ZOOM = 4.0
"""An outpaint may at most grow the picture this many times in each direction (``4x``)."""


def parse_zoom(text: str) -> float | None:
    """``"1.5x"`` → 1.5 (None: not a zoom); raises :class:`RegionError` for a zoom out of range."""
    t = text.strip().lower()
    if not t.endswith("x") or ":" in t:
        return None
    try:
        zoom = float(t[:-1])
    except ValueError:
        return None
    if not math.isfinite(zoom) or not 1.0 < zoom <= MAX_ZOOM:
        raise RegionError(f"An outpaint zoom is more than 1x and at most {MAX_ZOOM:g}x (got {text!r}).")
    return zoom


def parse_outpaint(text: str) -> tuple[str, str]:
    """``"16:9:left"`` → ``("16:9", "left")``; ``"1.5x:top"`` → ``("1.5x", "top")`` (the same ratio, a
    canvas 1.5 times as wide and high: zoom out).  The side names where the canvas grows (``left``: new
    space on the left, the picture keeps its right edge); ``center`` (the default) grows both ways."""
    bits = [b.strip().lower() for b in text.split(":")]
    if bits and parse_zoom(bits[0]) is not None:
        target, rest = bits[0], bits[1:]
        if len(rest) > 1:
            raise RegionError(f"Outpaint is RATIO[:SIDE] or ZOOMx[:SIDE], e.g. 16:9:left or 1.5x (got {text!r}).")
    else:
        if len(bits) not in (2, 3):
            raise RegionError(f"Outpaint is RATIO[:SIDE] or ZOOMx[:SIDE], e.g. 16:9:left or 1.5x (got {text!r}).")
        target, rest = f"{bits[0]}:{bits[1]}", bits[2:]
        parse_ratio(target)
    side = rest[0] if rest and rest[0] else "center"
    if side not in OUTPAINT_SIDES:
        raise RegionError(f"Outpaint side {side!r} is not one of {', '.join(OUTPAINT_SIDES)}.")
    return target, side


def nearest_ratio(width: int, height: int, ratios: tuple[str, ...] | list[str]) -> str | None:
    """The ratio of ``ratios`` closest to ``width`` x ``height`` (compared on a log scale)."""
    if width <= 0 or height <= 0 or not ratios:
        return None

    def dist(r: str) -> float:
        try:
            a, b = parse_ratio(r)
        except RegionError:
            return math.inf
        return abs(math.log((a / b) / (width / height)))

    return min(ratios, key=dist)


@dataclass(frozen=True, slots=True)
class OutpaintLayout:
    width: int
    height: int
    """The padded canvas in pixels."""
    offset: tuple[int, int]
    """Where the original's top-left corner sits on the canvas."""
    original: Box
    """The original's area on the canvas (normalised): what is protected."""
    fill: tuple[Box, ...]
    """The new area(s) to fill: the region of the edit."""


def outpaint_layout(src_w: int, src_h: int, ratio: str, side: str = "center") -> OutpaintLayout:
    """The canvas that extends a ``src_w`` x ``src_h`` picture to ``ratio`` (or by a zoom, ``"1.5x"``)
    towards ``side``, never cropping."""
    if src_w <= 0 or src_h <= 0:
        raise RegionError("The source image has no size.")
    zoom = parse_zoom(ratio)
    if zoom is not None:
        width, height = max(src_w + 1, round(src_w * zoom)), max(src_h + 1, round(src_h * zoom))
        return _layout(src_w, src_h, width, height, side)
    rw, rh = parse_ratio(ratio)
    if src_w * rh == src_h * rw:
        raise RegionError(f"The picture is already {ratio}: choose another ratio (or a zoom, 1.5x) to outpaint to.")
    wide = src_w * rh < src_h * rw  # the target is wider than the picture: grow horizontally
    if wide:
        width, height = max(src_w + 1, round(src_h * rw / rh)), src_h
        if side in ("top", "bottom"):
            raise RegionError(f"Going to {ratio} adds width: the side is left, right or center, not {side}.")
    else:
        width, height = src_w, max(src_h + 1, round(src_w * rh / rw))
        if side in ("left", "right"):
            raise RegionError(f"Going to {ratio} adds height: the side is top, bottom or center, not {side}.")
    return _layout(src_w, src_h, width, height, side)


def _layout(src_w: int, src_h: int, width: int, height: int, side: str) -> OutpaintLayout:
    """The picture on a ``width`` x ``height`` canvas: ``side`` gets the new space of its direction (the
    picture keeps the opposite edge); the other direction, and ``center``, grow both ways evenly."""
    extra_x, extra_y = width - src_w, height - src_h
    ox = {"left": extra_x, "right": 0}.get(side, extra_x // 2)
    oy = {"top": extra_y, "bottom": 0}.get(side, extra_y // 2)
    original = Box(ox / width, oy / height, src_w / width, src_h / height)
    fill: list[Box] = []
    if ox > 0:  # the full-height strips left and right, then the strips above and below the picture
        fill.append(Box(0.0, 0.0, ox / width, 1.0))
    if ox + src_w < width:
        fill.append(Box((ox + src_w) / width, 0.0, (width - ox - src_w) / width, 1.0))
    if oy > 0:
        fill.append(Box(ox / width, 0.0, src_w / width, oy / height))
    if oy + src_h < height:
        fill.append(Box(ox / width, (oy + src_h) / height, src_w / width, (height - oy - src_h) / height))
    return OutpaintLayout(width, height, (ox, oy), original, tuple(fill))


# -- what a turn records ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """The region of an edit as stored in ``settings.region`` (JSON)."""

    boxes: tuple[Box, ...] = ()
    protect: bool = True
    """Take every pixel outside the feathered region from the source (the model output is kept too)."""
    feather: int = DEFAULT_FEATHER
    outpaint: str = ""
    """``"16:9:left"`` for an outpaint (then ``boxes`` are the new areas, computed when it is sent)."""

    @property
    def active(self) -> bool:
        return bool(self.boxes) or bool(self.outpaint)

    def to_json(self) -> dict[str, Any]:
        if not self.active:
            return {}
        out: dict[str, Any] = {"boxes": [b.to_json() for b in self.boxes], "protect": self.protect,
                               "feather": self.feather}
        if self.outpaint:
            out["outpaint"] = self.outpaint
        return out

    @classmethod
    def from_json(cls, obj: Any) -> RegionSpec:
        """Lenient: a stored recipe from anywhere; what cannot be read is dropped, never raised."""
        if not isinstance(obj, dict):
            return cls()
        boxes: list[Box] = []
        for raw in obj.get("boxes") or []:
            try:
                boxes.append(checked_box(Box(*(float(v) for v in raw))))
            except (TypeError, ValueError):
                continue
        feather = obj.get("feather", DEFAULT_FEATHER)
        feather = int(feather) if isinstance(feather, (int, float)) and math.isfinite(feather) else DEFAULT_FEATHER
        outpaint = obj.get("outpaint") if isinstance(obj.get("outpaint"), str) else ""
        return cls(tuple(boxes[:MAX_BOXES]), bool(obj.get("protect", True)), max(0, min(feather, 512)), outpaint)

    def describe(self) -> str:
        """One line for the turn detail and the settings summary."""
        if not self.active:
            return ""
        guard = f"protect outside (feather {self.feather} px)" if self.protect else "not protected"
        if self.outpaint:
            return f"outpaint to {self.outpaint} · {guard}"
        n = len(self.boxes)
        area = covered_fraction(self.boxes) * 100
        rects = "; ".join(b.text() for b in self.boxes[:3]) + (" …" if n > 3 else "")
        return f"{n} rectangle{'s' if n != 1 else ''} ({area:.1f}% of the image: {rects}) · {guard}"


def region_of(settings: Any) -> RegionSpec:
    """The :class:`RegionSpec` of a :class:`GenerationSettings` (empty when it is no region edit)."""
    return RegionSpec.from_json(getattr(settings, "region", None) or {})
