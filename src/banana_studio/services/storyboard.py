"""Storyboard export as one call for the TUI and the CLIs: branch export + contact sheet + pages.

Synchronous (Pillow work, file copies): async callers run it with ``asyncio.to_thread``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from banana_studio.store import ProjectStore
from banana_studio.store.storyboard import write_storyboard


@dataclass(frozen=True, slots=True)
class StoryboardExport:
    folder: Path
    branch_json: Path
    sheet: Path
    markdown: Path
    html: Path


def default_folder(store: ProjectStore, turn_id: int, base: Path | None = None) -> Path:
    """Where a storyboard goes unless the user says otherwise: ``<base>/<project>-turn-NNNN-storyboard``."""
    return (base or Path.cwd()) / f"{store.name}-turn-{turn_id:04d}-storyboard"


def export_storyboard(store: ProjectStore, turn_id: int, out_dir: Path, *, columns: int = 4) -> StoryboardExport:
    """Export the branch root → ``turn_id`` into ``out_dir`` (images, branch.json) and write the
    storyboard next to it.  Raises :class:`~banana_studio.store.ProjectError` for an unknown turn or an
    unwritable folder."""
    branch_json = store.export_branch(turn_id, Path(out_dir).expanduser())
    sheet, md, page = write_storyboard(branch_json, columns=columns)
    return StoryboardExport(branch_json.parent, branch_json, sheet, md, page)
