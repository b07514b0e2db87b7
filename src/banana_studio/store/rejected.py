"""Images the server sent that were not usable images, kept for diagnosis outside ``images/``.

``<project>/.rejected/<turn>-<final|draft>-<n>.bin`` holds the bytes as received (at most
:data:`KEEP_BYTES` of them) and ``.txt`` beside it says what was declared and why it was refused.
Nothing in the index points at these files: they are never shown, exported or sent again.
"""

from __future__ import annotations

from pathlib import Path

from banana_studio.domain.events import RejectedImage
from banana_studio.domain.safetext import display_text
from banana_studio.store.files import atomic_write

REJECTED_DIR = ".rejected"
KEEP_BYTES = 64 * 1024 * 1024


def keep_rejected(project: Path, turn_id: int, images: list[RejectedImage]) -> list[Path]:
    """Write each rejected image (atomically); returns the ``.bin`` paths."""
    out: list[Path] = []
    for r in images:
        stem = f"{turn_id:04d}-{'draft' if r.thought else 'final'}-{r.index + 1}"
        path = project / REJECTED_DIR / f"{stem}.bin"
        data = memoryview(r.data)[:KEEP_BYTES]  # no copy
        atomic_write(path, data, tmp_dir=project / ".tmp")
        cut = f" (first {len(data)} of {len(r.data)} bytes kept)" if len(data) < len(r.data) else ""
        note = (f"turn {turn_id}, {'draft' if r.thought else 'final'} image {r.index + 1}\n"
                f"declared type: {display_text(r.declared_mime, one_line=True) or '(none)'}\n"
                f"refused because: {display_text(r.reason, one_line=True)}{cut}\n")
        atomic_write(path.with_suffix(".txt"), note.encode("utf-8"), tmp_dir=project / ".tmp")
        out.append(path)
    return out
