"""Thumbnails: made once per image and size, cached under ``.thumbs/``."""

from __future__ import annotations

import io
from pathlib import Path

from banana_studio.domain.turn import ImageFile
from banana_studio.store.names import ProjectError
from banana_studio.store.project.blobs import Blobs


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
            with Image.open(io.BytesIO(src)) as img:
                if img.format == "JPEG":
                    img.draft("RGB", (max_px, max_px))
                img.load()
                has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
                thumb = img.convert("RGBA" if has_alpha else "RGB")
                thumb.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
                buf = io.BytesIO()
                if has_alpha:
                    thumb.save(buf, format="PNG", optimize=False)
                    ext = "png"
                else:
                    thumb.save(buf, format="JPEG", quality=85)
                    ext = "jpg"
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ProjectError(f"Cannot make a thumbnail of {image.path}: {exc}.") from exc
        target = cache_dir / f"{image.sha256}-{max_px}.{ext}"
        self._write(target, buf.getvalue())
        return target

