"""A ZIP written straight to a response stream: stored, not recompressed (the pictures are compressed
already), and nothing held in memory but the chunk being copied, so a branch of 4K PNGs downloads in
one file without the server buffering it."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


class _Unseekable:
    """The response stream as ``zipfile`` sees it: write-only and not seekable, so it writes a data
    descriptor after each member instead of seeking back to patch its header."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        self._raw.flush()


def write_zip(out: Any, files: Iterable[tuple[str, Path]], texts: Mapping[str, str] = {}) -> None:
    """Write ``files`` (archive name, file on disk) and then ``texts`` (archive name, UTF-8 text) as one
    ZIP to the binary stream ``out``."""
    with zipfile.ZipFile(_Unseekable(out), "w", compression=zipfile.ZIP_STORED) as zf:
        for arcname, path in files:
            with path.open("rb") as src, zf.open(arcname, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        for arcname, text in texts.items():
            zf.writestr(arcname, text)
