"""Decoding and the LRU of pre-scaled images.  Pillow only (no Textual): testable on its own.

Everything here blocks: callers run it in a thread (``asyncio.to_thread``), never on the event loop.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from banana_studio.tui.images.stats import STATS


class ImageDecodeError(Exception):
    """The bytes/file are not a decodable image (message is user-facing)."""


@dataclass(slots=True)
class Decoded:
    image: PILImage.Image
    source_size: tuple[int, int]
    """Width × height of the original image."""
    nbytes: int


class PreviewCache:
    """A thread-safe LRU of pre-scaled images, bounded by total pixel memory."""

    def __init__(self, max_bytes: int = 96 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], Decoded] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> Decoded | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: tuple[Any, ...], item: Decoded) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            self._items[key] = item
            self.bytes += item.nbytes
            while self.bytes > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


CACHE = PreviewCache()



def decode_scaled(source: Path | bytes, max_size: tuple[int, int]) -> Decoded:
    """Decode ``source`` and downscale it to fit ``max_size`` (never upscales).  Blocking: call
    it in a thread.  Raises :class:`ImageDecodeError` with a readable reason."""
    max_w, max_h = max(1, max_size[0]), max(1, max_size[1])
    try:
        fp: Any = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        with PILImage.open(fp) as img:
            src_size = img.size
            if img.format == "JPEG":
                img.draft("RGB", (max_w, max_h))
            img.load()
            has_alpha = "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info)
            out = img.convert("RGBA" if has_alpha else "RGB")
    except FileNotFoundError as exc:
        raise ImageDecodeError(f"file not found: {exc.filename}") from exc
    except PILImage.DecompressionBombError as exc:
        raise ImageDecodeError("image is too large to preview") from exc
    except (OSError, SyntaxError, ValueError, PILImage.UnidentifiedImageError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, PILImage.UnidentifiedImageError):
            reason = "not an image file"
        raise ImageDecodeError(reason) from exc
    if out.width > max_w or out.height > max_h:
        out.thumbnail((max_w, max_h), PILImage.Resampling.BILINEAR, reducing_gap=2.0)
    STATS.decodes += 1
    return Decoded(out, src_size, out.width * out.height * len(out.getbands()))


FULL_SIZE = (1 << 16, 1 << 16)
"""Pass as ``max_size`` to decode without downscaling (1:1 viewing)."""


def _cache_key(source: Path | bytes, max_size: tuple[int, int]) -> tuple[Any, ...]:
    if isinstance(source, bytes | bytearray):
        return ("sha256", hashlib.sha256(source).hexdigest(), max_size)
    try:
        st = source.stat()
        return ("path", str(source.resolve()), st.st_mtime_ns, st.st_size, max_size)
    except OSError:
        return ("path", str(source), 0, 0, max_size)


def load_scaled(source: Path | bytes, max_size: tuple[int, int], *, digest: str = "") -> Decoded:
    """Cached :func:`decode_scaled` (blocking; call in a thread).

    A file is also looked up by the hash of its content, so the final image shown from the stream's
    bytes and then again from its saved file is the same cached image: not decoded, encoded and sent
    to the terminal a second time (benchmarks/bench_terminal_bytes.py).  ``digest`` is the sha256 of
    the image bytes the file was written from (``ImageFile.sha256``); the store embeds the recipe in
    final images, so the file's own bytes differ from the streamed ones while the pixels do not."""
    key = _cache_key(source, max_size)
    hit = CACHE.get(key)
    if hit is not None:
        return hit
    if isinstance(source, Path) and digest:
        hit = CACHE.get(("sha256", digest.lower(), max_size))
        if hit is not None:
            CACHE.put(key, hit)
            return hit
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError:
            data = None  # decode_scaled reports the problem with the file's name
        if data is not None:
            content_key = _cache_key(data, max_size)
            decoded = CACHE.get(content_key) or decode_scaled(data, max_size)
            CACHE.put(content_key, decoded)
            CACHE.put(key, decoded)
            return decoded
    decoded = decode_scaled(source, max_size)
    CACHE.put(key, decoded)
    return decoded
