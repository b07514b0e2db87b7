"""Atomic, durable file writes and the content-addressed blob store layout."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from pathlib import Path

from banana_studio.domain.words import missing_file

TMP_MARK = ".bstmp"
"""Temp files are hidden (leading dot) and end with ``.<pid>.bstmp`` so stale ones can be swept."""


def _test_delay(path: Path) -> None:
    # Test hook: lets the crash tests kill a process while a blob/image is half-written.
    # BANANA_STUDIO_TEST_WRITE_DELAY=seconds, optionally only for paths containing
    # BANANA_STUDIO_TEST_WRITE_MATCH.  BANANA_STUDIO_TEST_WRITE_READY=file: that file is created (holding
    # the path) once the first half is written and the pause begins -- the point a test kills at.
    delay = os.environ.get("BANANA_STUDIO_TEST_WRITE_DELAY")
    if delay and os.environ.get("BANANA_STUDIO_TEST_WRITE_MATCH", "") in str(path):
        ready = os.environ.get("BANANA_STUDIO_TEST_WRITE_READY")
        if ready:
            Path(ready).write_text(str(path))
        time.sleep(float(delay))


def fault_point(name: str) -> None:
    """Test hook: with ``BANANA_STUDIO_TEST_PAUSE_AT=<name>`` the process writes ``name`` to the file
    ``BANANA_STUDIO_TEST_PAUSE_FILE`` when it reaches this point and then waits there until it is killed.
    Crash tests use it to kill a process at an exact step instead of guessing with sleeps."""
    want = os.environ.get("BANANA_STUDIO_TEST_PAUSE_AT")
    if not want or want != name:
        return
    flag = os.environ.get("BANANA_STUDIO_TEST_PAUSE_FILE")
    if flag:
        Path(flag).write_text(name, encoding="utf-8")
    while True:
        time.sleep(3600)


def temp_name(path: Path, tmp_dir: Path | None = None) -> Path:
    """A unique hidden temp path for ``path`` (in ``tmp_dir`` if given, else next to ``path``)."""
    name = f".{path.name}.{threading.get_ident()}-{time.monotonic_ns()}.{os.getpid()}{TMP_MARK}"
    return (tmp_dir or path.parent) / name


def atomic_write(path: Path, data: bytes | memoryview | tuple[bytes | memoryview, ...], *, mode: int = 0o644,
                 tmp_dir: Path | None = None) -> None:
    """Write ``data`` (or its pieces, one after the other) to ``path`` via a temp file + fsync + rename:
    readers never see a partial file.

    ``tmp_dir`` (same file system) keeps half-written files out of the target folder altogether."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if tmp_dir is not None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path, tmp_dir)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        views = [memoryview(piece).cast("B") for piece in (data if isinstance(data, tuple) else (data,))]
        before_pause = sum(len(v) for v in views) // 2  # the crash tests' pause: half-way through the bytes
        paused = False
        for view in views:
            if not paused and before_pause < len(view):
                _write_all(fd, view[:before_pause])
                _test_delay(path)
                paused = True
                view = view[before_pause:]
            elif not paused:
                before_pause -= len(view)
            _write_all(fd, view)
        if not paused:
            _test_delay(path)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    os.close(fd)
    try:
        try:
            os.replace(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV or tmp_dir is None:
                raise
            # tmp_dir is on another file system (a symlinked folder): fall back to a sibling temp.
            with contextlib.suppress(OSError):
                tmp.unlink()
            atomic_write(path, data, mode=mode)
            return
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def sweep_temp_files(directory: Path) -> int:
    """Remove temp files left by dead processes under ``directory`` (recursively).  Returns the count."""
    removed = 0
    if not directory.is_dir():
        return 0
    for p in directory.rglob(f".*{TMP_MARK}"):
        try:
            pid = int(p.name[: -len(TMP_MARK)].rsplit(".", 1)[-1])
        except ValueError:
            pid = -1
        if pid == os.getpid() or pid_alive(pid):
            continue
        try:
            p.unlink()
            removed += 1
        except OSError:
            pass
    return removed


def blob_rel(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:]}"


EXT_BY_MIME = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "image/gif": "gif",
    "image/avif": "avif",
}


def ext_for(mime: str) -> str:
    return EXT_BY_MIME.get((mime or "").lower(), "bin")


MAX_IMAGE_BYTES = 256 * 1024 * 1024
"""Far above any image the studio writes (a 4K PNG is ~30 MB); stops ``recipe /dev/zero`` reading forever."""


def read_image_file(path: Path, limit: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``ValueError`` with a clear reason otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ValueError(missing_file(path)) from None
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}.") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, pipe or socket)"
        raise ValueError(f"{path} is {what}, not an image file.")
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}.") from None
    if len(data) > limit:
        raise ValueError(f"{path} is larger than {limit // (1024 * 1024)} MB: not an image Banana Studio made.")
    return data
