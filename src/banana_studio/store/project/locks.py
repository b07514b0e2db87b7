"""Process locks of a project: the blob GC guard and the per-turn owner locks."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from banana_studio.store.files import pid_alive
from banana_studio.store.names import ProjectError
from banana_studio.store.project.connection import StoreConnection

try:  # POSIX advisory locks: released by the kernel when a process dies, even on SIGKILL.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


HEARTBEAT_STALE_SECONDS = 600.0
"""Only used where flock is unavailable: an owner silent this long is considered dead."""
LIVE_STATUSES = ("pending", "running")
FINISHED_STATUSES = ("done", "failed", "cancelled", "interrupted")


class TurnLocks(StoreConnection):
    """Process locks: the blob garbage-collection guard and one owner lock (flock) per live turn."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turn_locks: dict[int, int] = {}
        """Turn id -> the open, flock-held lock file of a turn this store is generating."""

    def _before_close(self) -> None:
        for tid in list(self._turn_locks):
            self._release_turn_lock(tid)
        super()._before_close()

    @contextlib.contextmanager
    def _gc_guard(self, exclusive: bool = False) -> Iterator[None]:
        """Writers hold this shared from blob write to commit; ``delete_branch`` holds it exclusive while
        it decides which blobs are unreferenced and unlinks them, so it never removes a blob another
        process (or thread) is about to reference."""
        if fcntl is None:
            yield
            return
        lp = self._locks_dir() / "gc.lock"
        try:
            fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ProjectError(f"Cannot open the project lock {lp}: {exc.strerror}.") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _locks_dir(self) -> Path:
        d = self.path / ".locks"
        try:
            d.mkdir(exist_ok=True)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ProjectError(f"Cannot create the project's lock folder {d}: {exc.strerror}.") from exc
        if not d.is_dir():
            raise ProjectError(f"{d} is not a folder (Banana Studio keeps its process locks there). "
                               "Move that file away and try again.")
        return d

    # -- per-turn owner locks -----------------------------------------------------------------
    def _lock_path(self, turn_id: int) -> Path:
        return self.path / ".locks" / f"{turn_id}.lock"

    def _acquire_turn_lock(self, turn_id: int) -> bool:
        """Become the owner of ``turn_id``; False if another live process (or store) owns it."""
        if fcntl is None or turn_id in self._turn_locks:
            return True
        self._locks_dir()
        lp = self._lock_path(turn_id)
        try:
            fd = os.open(lp, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ProjectError(f"Cannot create the turn lock {lp}: {exc.strerror}.") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._turn_locks[turn_id] = fd
        return True

    def _release_turn_lock(self, turn_id: int) -> None:
        fd = self._turn_locks.pop(turn_id, None)
        if fd is None:
            return
        with contextlib.suppress(OSError):
            self._lock_path(turn_id).unlink()
        os.close(fd)

    def _owner_alive(self, turn_id: int, owner_pid: int, heartbeat: float) -> bool:
        if turn_id in self._turn_locks:
            return True
        if fcntl is None:
            return pid_alive(owner_pid) and time.time() - heartbeat < HEARTBEAT_STALE_SECONDS
        lp = self._lock_path(turn_id)
        try:
            fd = os.open(lp, os.O_RDWR)
        except FileNotFoundError:
            return False
        except OSError:
            return pid_alive(owner_pid)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            return pid_alive(owner_pid)
        finally:
            os.close(fd)
        return False
