"""Thumbnails: made once per image and size, cached under ``.thumbs/``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

from banana_studio.domain.turn import ImageFile
from banana_studio.store.names import ProjectError
from banana_studio.store.project.blobs import Blobs


def encode_thumbnail(source: Path | BinaryIO, max_px: int) -> tuple[bytes, str]:
    """A thumbnail of the image in ``source`` no larger than ``max_px``: (its bytes, "jpg" or "png").
    JPEG (quality 85), or PNG when the image has transparency; a JPEG is decoded reduced.  Raises what
    Pillow raises for an unreadable image (``OSError``, ``ValueError``, ``DecompressionBombError``)."""
    from PIL import Image

    with Image.open(source) as img:
        if img.format == "JPEG":
            img.draft("RGB", (max_px, max_px))
        img.load()
        has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
        thumb = img.convert("RGBA" if has_alpha else "RGB")
        thumb.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        if has_alpha:
            thumb.save(buf, format="PNG", optimize=False)
            return buf.getvalue(), "png"
        thumb.save(buf, format="JPEG", quality=85)
        return buf.getvalue(), "jpg"


class Thumbnails(Blobs):
    """Cached thumbnails under ``.thumbs/``."""

    def thumbnail(self, image: ImageFile, max_px: int = 512) -> Path:
        """A cached thumbnail (generated once, in the calling thread) no larger than ``max_px``."""
        from PIL import Image

        cache_dir = self.path / ".thumbs"
        for ext in ("jpg", "png"):
            p = cache_dir / f"{image.sha256}-{max_px}.{ext}"
            if p.exists():
                return p
        try:
            src = self.abs_path(image.path).read_bytes()
        except OSError:
            src = self.blob_bytes(image.sha256)
        try:
            data, ext = encode_thumbnail(io.BytesIO(src), max_px)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ProjectError(f"Cannot make a thumbnail of {image.path}: {exc}.") from exc
        target = cache_dir / f"{image.sha256}-{max_px}.{ext}"
        self._write(target, data)
        return target

