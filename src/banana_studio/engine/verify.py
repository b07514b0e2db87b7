"""Check every image the server sends before the turn may count as done.

A server (or anything between it and us) can label anything ``image/png``: SVG, HTML, text, half a
JPEG, 100 MB of noise, or a tiny PNG that claims 200 megapixels.  :func:`check_received_image`
answers the one question "is this a complete raster image of sane size, and what is it really?"
without ever holding a second copy of the bytes (Pillow reads them through a ``BytesIO`` that shares
the buffer) and without decoding more than needed: the byte limit is checked first, the header gives
the pixel count before any decoding, PNG is verified chunk by chunk (CRCs included), JPEG's marker
structure is walked from SOI to EOI (:mod:`.jpeg_walk`: what a decode would refuse, at ~1 ms per MB
instead of 40–80 ms for a 4K picture), WebP/GIF/HEIF are decoded.
Blocking (Pillow): call it in a worker thread.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from banana_studio.domain.imagetype import heif_available, pillow_mime, sniff_image_mime
from banana_studio.domain.limits import RECEIVED_IMAGE_MAX_BYTES, RECEIVED_IMAGE_MAX_PIXELS
from banana_studio.engine.jpeg_walk import jpeg_structure_problem

MAX_RECEIVED_IMAGE_BYTES = RECEIVED_IMAGE_MAX_BYTES
MAX_RECEIVED_IMAGE_PIXELS = RECEIVED_IMAGE_MAX_PIXELS

_FORMAT_NAME = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF"}


@dataclass(frozen=True, slots=True)
class ImageCheck:
    ok: bool
    mime_type: str = ""
    """The real MIME type (from the content, not the label) when ok."""
    reason: str = ""
    """Why it was refused, in words for the user."""
    width: int = 0
    height: int = 0


def _what_is_it(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG document (not a raster image)"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]:
        return "an HTML page"
    if not data:
        return "empty data"
    try:
        data[:4096].decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "data that is not a known image format"


def _megapixels(n: int) -> str:
    return f"{n / 1_000_000:.1f} MP"


def check_received_image(data: bytes, declared_mime: str = "") -> ImageCheck:
    """Is ``data`` an image we may store as a draft or final image?  Never raises."""
    size = len(data)
    if size > MAX_RECEIVED_IMAGE_BYTES:
        return ImageCheck(False, reason=f"{size / 1e6:.0f} MB is over the {MAX_RECEIVED_IMAGE_BYTES // (1 << 20)} MB "
                                        "limit for one image")
    sniffed = sniff_image_mime(data)
    if sniffed is None:
        label = f" labelled {declared_mime}" if declared_mime else ""
        return ImageCheck(False, reason=f"it is {_what_is_it(data)}{label}")
    from PIL import Image

    if sniffed in ("image/heic", "image/heif") and not heif_available():
        return ImageCheck(False, reason="it is HEIF/AVIF, which this installation cannot decode to check it")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                fmt = im.format or ""
                if width * height > MAX_RECEIVED_IMAGE_PIXELS:
                    return ImageCheck(False, reason=f"{width}×{height} ({_megapixels(width * height)}) is over the "
                                                    f"{_megapixels(MAX_RECEIVED_IMAGE_PIXELS)} limit for one image")
                if fmt == "PNG":
                    im.verify()  # every chunk read and its CRC checked, up to IEND
                elif fmt == "JPEG":
                    problem = jpeg_structure_problem(data)  # every marker and segment, up to EOI
                    if problem:
                        return ImageCheck(False, reason=f"the JPEG data is damaged or incomplete ({problem})")
                else:
                    im.load()
    except Image.DecompressionBombError:
        return ImageCheck(False, reason=f"it claims more than {_megapixels(2 * Image.MAX_IMAGE_PIXELS or 0)}, over the "
                                        f"{_megapixels(MAX_RECEIVED_IMAGE_PIXELS)} limit for one image")
    except Exception as exc:
        what = _FORMAT_NAME.get(sniffed, sniffed)
        detail = str(exc).strip().rstrip(".") or type(exc).__name__
        return ImageCheck(False, reason=f"the {what} data is damaged or incomplete ({detail})")
    mime = pillow_mime(fmt, sniffed) or sniffed
    return ImageCheck(True, mime_type=mime, width=width, height=height)
