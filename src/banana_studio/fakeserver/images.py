"""Synthetic, deterministic images for the fake Gemini server.

Every image is a pure function of a :class:`ImageSpec` (prompt, settings, seed, history digest,
reference images).  Drawing happens on a small "design" canvas (at most 1024 px on the long side)
that is then upscaled with Pillow to the exact output size, so a 4K image takes a fraction of a
second.  Results are cached per spec (LRU), because the same final image is typically requested
again by tests and by demo mode replays.

Pillow is imported lazily, so importing the server package stays cheap.
"""

from __future__ import annotations

import hashlib
import io
import random
import textwrap
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

DESIGN_MAX = 1024
"""Long side of the drawing canvas; the output is upscaled from it."""


@dataclass(frozen=True, slots=True)
class ImageSpec:
    prompt: str
    model: str
    aspect_ratio: str
    image_size: str
    width: int
    height: int
    seed: int | None = None
    fmt: str = "jpeg"
    base_image: bytes | None = field(default=None, compare=False, hash=False)
    """The previous final image of a multi-turn edit (used as the base of the new one)."""
    base_digest: str = ""
    references: tuple[bytes, ...] = field(default=(), compare=False, hash=False)
    reference_digests: tuple[str, ...] = ()
    history_digest: str = ""
    variant: int = 0
    """Varies the picture of an unseeded request (demo mode) without claiming a seed in the label."""
    real_size: bool = True
    """Encoded sizes like the real API's (film-grain texture, high JPEG quality, full-size drafts);
    False: small, smooth images for fast unit tests."""

    def key(self) -> str:
        h = hashlib.sha256()
        for item in (self.prompt, self.model, self.aspect_ratio, self.image_size, str(self.width),
                     str(self.height), repr(self.seed), self.fmt, self.base_digest,
                     "|".join(self.reference_digests), self.history_digest, str(self.variant),
                     str(self.real_size)):
            h.update(item.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        return h.hexdigest()


@dataclass(frozen=True, slots=True)
class RenderedImages:
    mime_type: str
    final: bytes
    drafts: tuple[bytes, ...]
    """Lower-resolution, blurred "thought" images (two of them)."""


_CACHE: OrderedDict[str, RenderedImages] = OrderedDict()
_CACHE_MAX = 12
_CACHE_LOCK = threading.Lock()
_KEY_LOCKS: dict[str, threading.Lock] = {}


def render(spec: ImageSpec) -> RenderedImages:
    """The final image and two drafts for ``spec`` (cached)."""
    key = spec.key()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:  # two concurrent requests for the same image render it once
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
            if hit is not None:
                return hit
        try:
            out = _render(spec, key)
        finally:
            with _CACHE_LOCK:
                _KEY_LOCKS.pop(key, None)
        with _CACHE_LOCK:
            _CACHE[key] = out
            while len(_CACHE) > _CACHE_MAX:
                _CACHE.popitem(last=False)
    return out


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def _design_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, DESIGN_MAX / max(width, height))
    return max(16, round(width * scale)), max(16, round(height * scale))


def _colour(rng: random.Random, lo: int = 40, hi: int = 230) -> tuple[int, int, int]:
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def _open(data: bytes) -> PILImage.Image | None:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.draft("RGB", (512, 512))  # fast JPEG decode at reduced scale
        return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _render(spec: ImageSpec, key: str) -> RenderedImages:
    from PIL import Image, ImageDraw, ImageFilter, ImageOps

    rng = random.Random(int(key[:16], 16))
    dw, dh = _design_size(spec.width, spec.height)

    # Background: the previous image (multi-turn edit) or a two-colour gradient.
    base = _open(spec.base_image) if spec.base_image else None
    if base is not None:
        canvas = base.resize((dw, dh), Image.Resampling.BILINEAR)
        tint = Image.new("RGB", (dw, dh), _colour(rng))
        canvas = Image.blend(canvas, tint, 0.18)
    else:
        top, bottom = _colour(rng), _colour(rng)
        grad = Image.linear_gradient("L").resize((dw, dh))
        canvas = Image.composite(Image.new("RGB", (dw, dh), bottom), Image.new("RGB", (dw, dh), top), grad)

    draw = ImageDraw.Draw(canvas, "RGBA")
    unit = min(dw, dh)
    n_shapes = 6 if base is not None else 14
    for _ in range(n_shapes):
        r = rng.randint(unit // 14, unit // 4)
        x, y = rng.randint(-r // 2, dw), rng.randint(-r // 2, dh)
        fill = (*_colour(rng), rng.randint(70, 170))
        if rng.random() < 0.5:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.rounded_rectangle((x - r, y - r // 2, x + r, y + r // 2), radius=r // 4, fill=fill)

    # Reference images, visibly composited as framed thumbnails along the bottom.
    refs = list(spec.references)
    if refs:
        thumb = max(24, min(unit // 4, (dw - 16) // max(1, len(refs)) - 8))
        x = 8
        for i, data in enumerate(refs):
            img = _open(data)
            box = (x, dh - thumb - 8, x + thumb, dh - 8)
            draw.rectangle((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), fill=(255, 255, 255, 230))
            if img is not None:
                img = ImageOps.contain(img, (thumb, thumb), Image.Resampling.BILINEAR)
                canvas.paste(img, (x + (thumb - img.width) // 2, box[1] + (thumb - img.height) // 2))
            else:
                draw.rectangle(box, fill=(90, 90, 90, 255))
                draw.text((x + 4, box[1] + 4), f"ref {i + 1}", fill=(255, 255, 255, 255), font=_font(12))
            x += thumb + 10
            if x > dw - thumb:
                break

    # The prompt, drawn large, on a translucent band.
    font_px = max(12, unit // 11)
    chars = max(8, int(dw / (font_px * 0.55)))
    head = spec.prompt[: chars * 8]  # four lines are drawn: wrapping all of a 25 MB prompt took minutes
    text = " ".join(head.split()) or "(no prompt)"
    wrapped = textwrap.wrap(text, width=chars)
    lines = wrapped[:4]
    if len(wrapped) > 4 or spec.prompt[len(head):].strip():
        lines[-1] = lines[-1][: max(1, chars - 1)] + "…"
    font = _font(font_px)
    line_h = int(font_px * 1.25)
    # over an edited base the band is tall and dark enough to hide any previous prompt
    band_h = line_h * (4 if base is not None else len(lines)) + font_px
    y0 = max(4, dh // 3 - band_h // 2)
    draw.rectangle((0, y0, dw, y0 + band_h), fill=(0, 0, 0, 225 if base is not None else 120))
    for i, line in enumerate(lines):
        draw.text((font_px // 2, y0 + font_px // 2 + i * line_h), line, fill=(255, 255, 255, 255), font=font)

    label = f"{spec.aspect_ratio} · {spec.image_size} · {spec.width}x{spec.height} · {spec.model}"
    if spec.seed is not None:
        label += f" · seed {spec.seed}"
    small = _font(max(10, unit // 32))
    draw.rectangle((0, 0, dw, max(10, unit // 32) + 10), fill=(0, 0, 0, 150))
    draw.text((6, 4), label, fill=(255, 240, 120, 255), font=small)

    final_img = canvas.resize((spec.width, spec.height), Image.Resampling.BILINEAR)
    if spec.real_size:
        final = _encode(grain(final_img, spec.image_size), spec.fmt, real=True, size=spec.image_size)
    else:
        final = _encode(final_img, spec.fmt)

    drafts: list[bytes] = []
    for div, radius in ((8, 6), (4, 2)):
        if spec.real_size:  # real drafts are full pictures (up to 1K), only rougher
            scale = min(1.0, DESIGN_MAX / max(spec.width, spec.height))
            size = (max(16, round(spec.width * scale)), max(16, round(spec.height * scale)))
            d = canvas.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(radius // 2))
            drafts.append(_encode(grain(d, "1K"), spec.fmt, real=True, size="1K"))
            continue
        size = (max(16, spec.width // div), max(16, spec.height // div))
        d = canvas.resize(size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(radius))
        drafts.append(_encode(d, spec.fmt))
    mime = "image/png" if spec.fmt == "png" else "image/jpeg"
    return RenderedImages(mime, final, tuple(drafts))


# Real-size encoding: amplitude of the grain (+-A per channel) and JPEG quality per size label,
# calibrated so a 1K JPEG is ~0.9-1.1 MB like recorded Nano Banana Pro answers, 2K ~3 MB, 4K ~9 MB
# (tests/test_fakeserver_real.py checks the ranges).
_GRAIN: dict[str, tuple[int, int]] = {"512": (16, 95), "1K": (14, 95), "2K": (14, 92), "4K": (12, 90)}
_TILE = 256
_TILES: dict[int, PILImage.Image] = {}
_TILE_LOCK = threading.Lock()


def _grain_tile(amplitude: int) -> PILImage.Image:
    """A deterministic 256x256 RGB noise tile with values 0..2A (made once per amplitude)."""
    from PIL import Image

    with _TILE_LOCK:
        tile = _TILES.get(amplitude)
        if tile is None:
            raw = random.Random(0xBA7A7A + amplitude).randbytes(_TILE * _TILE * 3)
            table = bytes(i % (2 * amplitude + 1) for i in range(256))
            tile = Image.frombytes("RGB", (_TILE, _TILE), raw.translate(table))
            _TILES[amplitude] = tile
        return tile


def grain(img: PILImage.Image, size: str) -> PILImage.Image:
    """``img`` with a fine, zero-mean film grain: the texture that makes real answers' JPEGs big."""
    from PIL import Image, ImageChops

    amplitude = _GRAIN.get(size, _GRAIN["1K"])[0]
    tile = _grain_tile(amplitude)
    noise = Image.new("RGB", img.size)
    for y in range(0, img.height, _TILE):
        for x in range(0, img.width, _TILE):
            noise.paste(tile, (x, y))
    return ImageChops.add(img.convert("RGB"), noise, 1.0, -amplitude)


def _encode(img: PILImage.Image, fmt: str, *, real: bool = False, size: str = "1K") -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, "PNG", compress_level=1)
    elif real:
        img.save(buf, "JPEG", quality=_GRAIN.get(size, _GRAIN["1K"])[1], subsampling=0)
    else:
        img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def guess_aspect(data: bytes, ratios: tuple[str, ...]) -> str | None:
    """The supported aspect ratio closest to that of the image ``data`` (None if undecodable)."""
    from PIL import Image, UnidentifiedImageError

    try:
        w, h = Image.open(io.BytesIO(data)).size
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    target = w / h

    def dist(r: str) -> float:
        a, b = (int(x) for x in r.split(":"))
        return abs(a / b - target)

    return min(ratios, key=dist) if ratios else None
