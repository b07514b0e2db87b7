"""Image types by magic number and by Pillow format, HEIF support, and the limits on reference images
(stated once, used everywhere: the store checks references with it, the engine received images)."""

from __future__ import annotations

MAX_REFERENCE_BYTES = 50 * 1024 * 1024
"""A reference file larger than this is refused before it is read."""
MAX_REFERENCE_PIXELS = 89_000_000
"""A reference with more pixels is refused as a possible decompression bomb (about Pillow's own
warning threshold).  The README states this number; keep them in step."""

_HEIC_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis")
_HEIF_BRANDS = (b"mif1", b"msf1", b"heif")
_AVIF_BRANDS = (b"avif", b"avis")


def sniff_image_mime(data: bytes) -> str | None:
    """The MIME type of image bytes from their magic number (cheap; no decoding, so not a proof that
    the bytes are a valid image: decode to know that)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _HEIC_BRANDS:
            return "image/heic"
        if brand in _HEIF_BRANDS:
            return "image/heif"
        if brand in _AVIF_BRANDS:
            return "image/avif"
    return None


PILLOW_FORMAT_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif",
                      "HEIF": "image/heif", "AVIF": "image/avif"}
"""Pillow's format names (``Image.format``) as MIME types: the one HEIF table."""
API_INPUT_MIMES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
"""Image types the Gemini API takes as they are; anything else is converted to PNG before sending."""
_HEIF_READY: list[bool] = []


def pillow_mime(fmt: str, sniffed: str | None = None) -> str | None:
    """The MIME type of an image Pillow opened as ``fmt``; pillow-heif names HEIC and HEIF alike, so the
    magic number (``sniffed``) tells them apart."""
    mime = PILLOW_FORMAT_MIME.get(fmt)
    if mime == "image/heif" and sniffed in ("image/heic", "image/heif"):
        return sniffed
    return mime


def heif_available() -> bool:
    """Register pillow-heif's HEIF/HEIC decoder with Pillow (once); False if it is not installed."""
    if not _HEIF_READY:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _HEIF_READY.append(True)
        except Exception:
            _HEIF_READY.append(False)
    return _HEIF_READY[0]
