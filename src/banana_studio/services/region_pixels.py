"""The pixel work of region edits (Pillow; call it off the event loop).

- :func:`guide_image`: the source with the region outlined (and the outside dimmed) — sent next to the
  source so the model sees *where*; never stored as the turn's picture.
- :func:`feather_mask` / :func:`protect`: after the answer, every pixel outside the region grown by the
  feather width is the source's (resized to the answer's resolution); inside, the answer; between, a
  linear blend.  Exact by construction: the mask is 0 there, and :func:`Image.composite` copies.
- :func:`pad_canvas`: the outpaint canvas.
- :func:`change_map`: a heat map of where two pictures differ, with the changed share inside/outside.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from banana_studio.domain.region import Box, OutpaintLayout

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

OUTLINE = (255, 0, 255)
"""Magenta: rare in photos, named in the instruction."""
PAD_FILL = (128, 128, 128)
CHANGE_THRESHOLD = 24
"""A pixel counts as changed when a channel moved by more than this (0-255): JPEG noise stays below."""


def open_rgb(data: bytes) -> PILImage.Image:
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as img:
        img = ImageOps.exif_transpose(img)
        return img.convert("RGB")


def png_bytes(img: PILImage.Image, level: int = 1) -> bytes:
    """Lossless (the protected picture must keep the source's pixels exactly); level 1: a 4K grainy picture
    encodes several times faster than at the default level, for files ~10% larger."""
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=level)
    return buf.getvalue()


def jpeg_bytes(img: PILImage.Image, quality: int = 92) -> bytes:
    """What is *sent* for generated pictures (guide, outpaint canvas): a fraction of a PNG's size at 4K."""
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def mime_of(data: bytes) -> str:
    """The image type of ``data`` by its signature ("" if it is not one the API takes)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


def source_at(source: PILImage.Image, size: tuple[int, int]) -> PILImage.Image:
    """The source at the answer's resolution (itself when the sizes already agree)."""
    from PIL import Image

    src = source.convert("RGB")
    return src if src.size == size else src.resize(size, Image.Resampling.LANCZOS)


def box_mask(size: tuple[int, int], boxes: tuple[Box, ...] | list[Box]) -> PILImage.Image:
    """255 inside any box, 0 elsewhere (no feather)."""
    from PIL import Image, ImageDraw

    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    for b in boxes:
        left, top, right, bottom = b.pixels(*size)
        draw.rectangle((left, top, right - 1, bottom - 1), fill=255)
    return mask


def _ramp(n: int, lo: int, hi: int, feather: int) -> bytes:
    """255 on [lo, hi), falling linearly to 0 within ``feather`` pixels outside it, 0 beyond."""
    out = bytearray(n)
    for i in range(n):
        d = lo - i if i < lo else (i - hi + 1 if i >= hi else 0)
        if d <= 0:
            out[i] = 255
        elif d <= feather:
            out[i] = max(1, round(255 * (1 - d / (feather + 1))))
    return bytes(out)


def feather_mask(size: tuple[int, int], boxes: tuple[Box, ...] | list[Box], feather: int) -> PILImage.Image:
    """The region mask at ``size``: 255 inside, a ``feather``-pixel linear edge just outside, 0 further out
    (so "outside the feathered region" is exactly: farther than ``feather`` pixels from every box)."""
    from PIL import Image, ImageChops

    w, h = size
    mask = Image.new("L", size, 0)
    for b in boxes:
        left, top, right, bottom = b.pixels(w, h)
        xs = Image.frombytes("L", (w, 1), _ramp(w, left, right, feather)).resize(size, Image.Resampling.NEAREST)
        ys = Image.frombytes("L", (1, h), _ramp(h, top, bottom, feather)).resize(size, Image.Resampling.NEAREST)
        mask = ImageChops.lighter(mask, ImageChops.darker(xs, ys))
    return mask


def protect(source: PILImage.Image, answer: PILImage.Image, boxes: tuple[Box, ...] | list[Box],
            feather: int) -> PILImage.Image:
    """The answer inside the (feathered) region, the source everywhere else, at the answer's size."""
    from PIL import Image

    ans = answer.convert("RGB")
    return Image.composite(ans, source_at(source, ans.size), feather_mask(ans.size, boxes, feather))


def protect_keep(source: PILImage.Image, answer: PILImage.Image, keep: Box, feather: int) -> PILImage.Image:
    """Outpaint: the source everywhere inside ``keep`` (the original picture), the answer farther than
    ``feather`` pixels outside it, a blend between — the original area is exact, the seam is in the new."""
    from PIL import Image, ImageOps

    ans = answer.convert("RGB")
    weight = ImageOps.invert(feather_mask(ans.size, (keep,), feather))
    return Image.composite(ans, source_at(source, ans.size), weight)


def guide_image(source: PILImage.Image, boxes: tuple[Box, ...] | list[Box]) -> PILImage.Image:
    """The source with the outside dimmed and each box outlined in magenta and numbered."""
    from PIL import Image, ImageDraw

    src = source.convert("RGB")
    w, h = src.size
    dim = Image.blend(src, Image.new("RGB", src.size, (0, 0, 0)), 0.5)
    out = Image.composite(src, dim, box_mask(src.size, boxes))
    draw = ImageDraw.Draw(out)
    width = max(2, min(w, h) // 160)
    for i, b in enumerate(boxes):
        left, top, right, bottom = b.pixels(w, h)
        draw.rectangle((left, top, right - 1, bottom - 1), outline=OUTLINE, width=width)
        if len(boxes) > 1:
            draw.text((left + width + 2, top + width + 2), str(i + 1), fill=OUTLINE)
    return out


def pad_canvas(source: PILImage.Image, layout: OutpaintLayout) -> PILImage.Image:
    """The source placed on the outpaint canvas, the new area a flat neutral grey."""
    from PIL import Image

    canvas = Image.new("RGB", (layout.width, layout.height), PAD_FILL)
    canvas.paste(source.convert("RGB"), layout.offset)
    return canvas


@dataclass(frozen=True, slots=True)
class ChangeStats:
    changed: float
    """Share of all pixels that changed (0..1)."""
    inside: float | None
    """Share of the region's pixels that changed (None: no region)."""
    outside: float | None
    """Share of the pixels outside the region that changed (None: no region)."""
    size: tuple[int, int]

    def text(self) -> str:
        if self.inside is None or self.outside is None:
            return f"changed {self.changed * 100:.1f}% of the image"
        return (f"changed {self.inside * 100:.1f}% inside the region · {self.outside * 100:.1f}% outside "
                f"({self.changed * 100:.1f}% overall)")


def change_map(before: PILImage.Image, after: PILImage.Image, boxes: tuple[Box, ...] | list[Box] = (),
               threshold: int = CHANGE_THRESHOLD, max_side: int | None = None) -> tuple[PILImage.Image, ChangeStats]:
    """A heat map of ``after`` vs ``before`` (resized to ``after``'s size) over a dimmed grey ``after``:
    yellow-red where pixels moved, the region outlined in cyan; and the changed shares (always counted at
    full resolution; ``max_side`` only shrinks the picture, e.g. for the terminal)."""
    from PIL import Image, ImageChops, ImageDraw, ImageOps

    aft = after.convert("RGB")
    bef = source_at(before, aft.size)
    r, g, b = ImageChops.difference(aft, bef).split()
    diff = ImageChops.lighter(ImageChops.lighter(r, g), b)
    changed = diff.point(lambda v: 255 if v > threshold else 0)
    total = aft.width * aft.height
    n_changed = changed.histogram()[255]
    inside = outside = None
    if boxes:
        region = box_mask(aft.size, boxes)
        n_region = region.histogram()[255]
        n_in = ImageChops.multiply(changed, region).histogram()[255]
        inside = n_in / n_region if n_region else 0.0
        outside = (n_changed - n_in) / (total - n_region) if total > n_region else 0.0
    stats = ChangeStats(n_changed / total if total else 0.0, inside, outside, aft.size)
    if max_side and max(aft.size) > max_side:
        scale = max_side / max(aft.size)
        small = (max(1, round(aft.width * scale)), max(1, round(aft.height * scale)))
        aft = aft.resize(small, Image.Resampling.BILINEAR)
        diff = diff.resize(small, Image.Resampling.BOX)
    heat = ImageOps.colorize(diff.point(lambda v: min(255, v * 3)), black="#200000", white="#ffff60", mid="#ff2000")
    base = Image.blend(ImageOps.grayscale(aft).convert("RGB"), Image.new("RGB", aft.size, (0, 0, 0)), 0.55)
    alpha = diff.point(lambda v: 0 if v <= threshold // 3 else min(255, 96 + v * 4))
    out = Image.composite(heat, base, alpha)
    draw = ImageDraw.Draw(out)
    width = max(1, min(aft.size) // 256)
    for box in boxes:
        left, top, right, bottom = box.pixels(*aft.size)
        draw.rectangle((left, top, right - 1, bottom - 1), outline=(0, 230, 255), width=width)
    return out, stats
