"""Region edits on the local server: paint inside the marked boxes only — or leak outside on purpose.

A region request (see services/region.py) names its boxes in Gemini's ``box_2d`` notation
(``[ymin, xmin, ymax, xmax]``, 0-1000) and carries the source as its first image.  The local server
answers like a well-behaved model: the source (re-encoded, as a real answer is) with new content
inside the boxes.  ``leak`` (the ``region_leak`` fault, or ``FakeGemini.region_leak``) makes it behave
like the models users complain about: the whole picture drifts in colour and a stroke crosses the
region's edge, so a test can prove that protect-outside undoes it.
"""

from __future__ import annotations

import io
import re

_BOX_RE = re.compile(r"\[\s*(\d{1,4})\s*,\s*(\d{1,4})\s*,\s*(\d{1,4})\s*,\s*(\d{1,4})\s*\]")


def region_boxes(prompt: str) -> list[tuple[int, int, int, int]]:
    """The ``box_2d`` boxes named in a region instruction (empty: not a region edit)."""
    if "box_2d" not in prompt:
        return []
    out = []
    for m in _BOX_RE.finditer(prompt):
        ymin, xmin, ymax, xmax = (min(1000, int(v)) for v in m.groups())
        if ymax > ymin and xmax > xmin:
            out.append((ymin, xmin, ymax, xmax))
    return out[:16]


_WORDS_RE = re.compile(r"(?:In the marked area|Fill the empty area[^.]*\.)\s*:?\s*(.+?)(?:\n|$)")


def user_words(prompt: str) -> str:
    """The user's own words in a region instruction (what the fill picture shows), else the whole text."""
    m = _WORDS_RE.search(prompt)
    return m.group(1).strip() if m and m.group(1).strip() else prompt


def paint(source: bytes, fill: bytes, boxes: list[tuple[int, int, int, int]], size: tuple[int, int], fmt: str,
          *, leak: bool = False, label: str = "") -> bytes | None:
    """The answer: ``source`` at ``size`` with ``fill`` (a freshly rendered picture) inside ``boxes``.
    None when the source is no picture (then the normal answer is sent)."""
    from PIL import Image, ImageDraw

    try:
        with Image.open(io.BytesIO(source)) as s:
            base = s.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        with Image.open(io.BytesIO(fill)) as f:
            new = f.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    except Exception:
        return None
    w, h = size
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    pixel_boxes = []
    for ymin, xmin, ymax, xmax in boxes:
        box = (xmin * w // 1000, ymin * h // 1000, max(xmin * w // 1000 + 1, xmax * w // 1000) - 1,
               max(ymin * h // 1000 + 1, ymax * h // 1000) - 1)
        pixel_boxes.append(box)
        draw.rectangle(box, fill=255)
    out = Image.composite(new, base, mask)
    if label:  # the "object" the words asked for, inside each box (so the edit is visible at a glance)
        import hashlib

        from banana_studio.fakeserver.images import _font

        pen = ImageDraw.Draw(out, "RGBA")
        digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).digest()
        colour = (64 + digest[0] % 192, 64 + digest[1] % 192, 64 + digest[2] % 192, 235)
        for left, top, right, bottom in pixel_boxes:
            bw, bh = right - left, bottom - top
            if bw < 8 or bh < 8:
                continue
            pen.ellipse((left + bw // 6, top + bh // 8, right - bw // 6, bottom - bh // 4), fill=colour)
            font = _font(max(10, min(bh // 8, bw // max(4, len(label[:24])))))
            try:
                pen.text((left + bw // 2, bottom - bh // 8), label[:24], fill=(255, 255, 255, 255), font=font,
                         anchor="mm")
            except ValueError:  # a bitmap font (Pillow without FreeType) has no anchors
                pen.text((left + 4, bottom - bh // 5), label[:24], fill=(255, 255, 255, 255), font=font)
    if leak:
        out = Image.blend(out, Image.new("RGB", size, (255, 170, 40)), 0.22)
        pen = ImageDraw.Draw(out)
        for left, top, right, bottom in pixel_boxes:  # a stroke across the edge, as over-eager edits do
            cx, cy = (left + right) // 2, (top + bottom) // 2
            pen.line((cx, cy, min(w - 1, right + (right - left)), min(h - 1, bottom + (bottom - top) // 2)),
                     fill=(20, 220, 60), width=max(4, min(w, h) // 40))
    buf = io.BytesIO()
    if fmt == "png":
        out.save(buf, "PNG", compress_level=1)
    else:
        out.save(buf, "JPEG", quality=92)
    return buf.getvalue()
