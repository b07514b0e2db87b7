"""Recovery on open (and on demand): what a killed process left behind is made to match the index."""

from __future__ import annotations

import contextlib
import os
import time

from banana_studio.store.files import sweep_temp_files
from banana_studio.store.project.deleting import Deleting


class Recovery(Deleting):
    """After a crash: dead owners' turns marked interrupted, their unrecorded files and temp files removed,
    killed deletions finished."""

    def recover(self) -> list[int]:
        """Mark turns whose owner process died as ``interrupted`` (done automatically on open; call it
        again any time, e.g. on a timer).  Returns the ids marked now; also sweeps dead writers' temp files."""
        dead: list[int] = []
        self._finish_pending_deletions()
        rows = self._query("SELECT id, owner_pid, heartbeat FROM turns WHERE status IN ('pending', 'running')")
        if rows:
            now = time.time()
            with self._tx() as c:
                rows = c.execute(
                    "SELECT id, owner_pid, heartbeat FROM turns WHERE status IN ('pending', 'running')"
                ).fetchall()
                dead = [tid for tid, pid, hb in rows if not self._owner_alive(tid, pid, hb)]
                for tid in dead:
                    c.execute(
                        "UPDATE turns SET status = 'interrupted', error_kind = 'interrupted', "
                        "error = CASE WHEN error = '' THEN ? ELSE error END, updated_at = ? WHERE id = ?",
                        ("Banana Studio stopped before this turn finished.", now, tid),
                    )
            # Stale lock files are left alone: unlinking could race with a process re-claiming the turn.
            self.recovered = sorted(set(self.recovered) | set(dead))
            for tid in dead:
                self._remove_unrecorded_files(tid)
        sweep_temp_files(self.path / ".tmp")
        return dead

    def _remove_unrecorded_files(self, turn_id: int) -> None:
        """A process killed between renaming an image into ``images/`` and committing its row leaves a
        complete file the index does not know (e.g. the first of two finals): remove such files of an
        interrupted turn, so ``images/`` only holds images that are on record."""
        recorded = {str(r[0]) for r in self._query("SELECT path FROM images WHERE turn_id = ?", (turn_id,))}
        prefix = f"{turn_id:04d}-"
        for folder in (self.path / "images", self.path / "images" / "drafts"):
            try:
                names = [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)]
            except OSError:
                continue
            for name in names:
                rel = (folder / name).relative_to(self.path).as_posix()
                if name.startswith(prefix) and rel not in recorded:
                    with contextlib.suppress(OSError):
                        (folder / name).unlink()

