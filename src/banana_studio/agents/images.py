"""An image at the size an MCP client asks for.  Pure Pillow work: callers run it in a thread."""

from __future__ import annotations

import io
from dataclasses import dataclass

MIN_PX = 16
MAX_PX = 4096
DEFAULT_PX = 1024


@dataclass(frozen=True, slots=True)
class FittedImage:
    data: bytes
    mime_type: str
    width: int
    height: int
    original_width: int
    original_height: int


def clamp_size(max_size: int | None) -> int:
    """0 = the original; otherwise between :data:`MIN_PX` and :data:`MAX_PX` (longest side)."""
    if max_size is None:
        return DEFAULT_PX
    if max_size <= 0:
        return 0
    return max(MIN_PX, min(MAX_PX, int(max_size)))


def fit_image(data: bytes, mime_type: str, max_size: int, fmt: str = "") -> FittedImage:
    """``data`` scaled down (never up) so its longest side is at most ``max_size`` (0 = keep the
    size).  ``fmt``: "png" | "jpeg" | "webp" | "" (keep the original bytes when no resize is
    needed; else JPEG for photos without alpha, PNG otherwise).  Raises ``ValueError`` for data
    that is not an image Pillow can read."""
    from PIL import Image, UnidentifiedImageError

    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except Exception:  # pragma: no cover - HEIF support is optional at run time
        pass
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"the stored file is not a readable image ({type(exc).__name__})") from exc
    ow, oh = img.size
    fmt = fmt.lower().replace("jpg", "jpeg")
    keep = max_size <= 0 or max(ow, oh) <= max_size
    same_format = not fmt or f"image/{fmt}" == mime_type
    if keep and same_format and mime_type in ("image/png", "image/jpeg", "image/webp", "image/gif"):
        return FittedImage(data, mime_type, ow, oh, ow, oh)
    if not keep:
        img.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    if not fmt:
        fmt = "png" if img.mode in ("RGBA", "LA", "P") or mime_type == "image/png" else "jpeg"
    if fmt == "jpeg" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    buf = io.BytesIO()
    options = {"quality": 90} if fmt in ("jpeg", "webp") else {"optimize": False}
    img.save(buf, format=fmt.upper(), **options)
    return FittedImage(buf.getvalue(), f"image/{fmt}", img.width, img.height, ow, oh)
