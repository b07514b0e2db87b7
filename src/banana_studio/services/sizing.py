"""How big the next request of a branch will be (history + references), without reading images.

The real API limits an inline request to 100 MB of base64-encoded JSON (``MAX_REQUEST_BYTES``).  Every
edit replays the whole branch — each earlier answer with its final image, its draft images and its
0.5-2.5 MB thought signatures — so a branch of real-sized 1K answers grows by ~6-8 MB per turn.  The
studio shows the figure next to the cost and warns from ``REQUEST_WARN_FRACTION`` of the limit on.
Sync (stats blob files, reads the SQLite index; never reads an image or a signature): async callers
use ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from banana_studio.domain.content import Content
from banana_studio.domain.settings import MAX_REQUEST_BYTES, GenerationSettings
from banana_studio.engine.request import MB, contents_size, replay_history, size_warning
from banana_studio.store.files import blob_rel
from banana_studio.store.project import ProjectStore


@dataclass(frozen=True, slots=True)
class RequestSize:
    history: int
    """Bytes the replayed branch history adds (after leaving out what is not replayed)."""
    references: int
    """Bytes the reference images add."""
    total: int
    limit: int = MAX_REQUEST_BYTES
    warning: str = ""
    """Empty below the warning threshold; else names the way on ("continue from the image alone")."""

    @property
    def fraction(self) -> float:
        return self.total / self.limit if self.limit else 0.0

    def label(self) -> str:
        """``next request 62.3 MB (history 61.1 + refs 1.2) of 100``."""
        refs = f" + refs {self.references / MB:.1f}" if self.references else ""
        return (f"next request {self.total / MB:.1f} MB (history {self.history / MB:.1f}{refs}) "
                f"of {self.limit / MB:.0f}")


def _base64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


def next_request_size(store: ProjectStore, parent_id: int | None, settings: GenerationSettings,
                      references: list[Path] | None = None, prompt: str = "") -> RequestSize:
    """The size of the request a send from ``parent_id`` with ``references`` would make."""
    history: list[Content] = []
    if parent_id is not None:
        for t in store.path_to(parent_id, lazy_signatures=True):  # sizes only: signatures not read
            if t.status != "done" or t.model_content is None or t.user_content is None:
                continue
            history += [t.user_content, t.model_content]

    def blob_size(sha: str) -> int:
        try:
            return os.stat(store.path / blob_rel(sha)).st_size
        except OSError:
            return 0

    hist = contents_size(replay_history(history, settings), blob_size)
    refs = 0
    for p in references or []:
        try:
            refs += _base64_len(os.stat(p).st_size) + 64
        except OSError:
            continue
    total = 512 + len(settings.system_instruction.encode("utf-8")) + len(prompt.encode("utf-8")) + hist + refs
    return RequestSize(hist, refs, total, warning=size_warning(total, settings))
