"""Small JPEG previews for the gallery's picture grid, made in memory (the project's own thumbnail
cache is never written: the gallery changes nothing on disk).

An image with more pixels than :data:`RECEIVED_IMAGE_MAX_PIXELS` (a decompression bomb) is never
decoded; a damaged one gets no preview.  Recent previews are kept in a small LRU keyed by the file's
path, size and modification time.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

from banana_studio.domain.limits import RECEIVED_IMAGE_MAX_PIXELS

THUMB_PX = 360
CACHE_ENTRIES = 256


class Thumbnails:
    def __init__(self, px: int = THUMB_PX, entries: int = CACHE_ENTRIES) -> None:
        self.px = px
        self.entries = entries
        self._cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path) -> bytes | None:
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        data = self._make(path)
        if data is not None:
            with self._lock:
                self._cache[key] = data
                while len(self._cache) > self.entries:
                    self._cache.popitem(last=False)
        return data

    def _make(self, path: Path) -> bytes | None:
        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as src:
                    if src.width * src.height > RECEIVED_IMAGE_MAX_PIXELS:
                        return None
                    src.draft("RGB", (self.px, self.px))
                    img = src.convert("RGB")
                    img.thumbnail((self.px, self.px))
                    buf = io.BytesIO()
                    img.save(buf, format="JPEG", quality=82)
                    return buf.getvalue()
        except (OSError, ValueError, KeyError, Image.DecompressionBombError):
            return None
