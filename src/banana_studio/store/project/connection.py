"""A project's SQLite connection: opening, preparing, closing, transactions and queries."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
import uuid as uuid_mod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

from banana_studio import __version__
from banana_studio.store import queries
from banana_studio.store.names import ProjectError, validate_project_name
from banana_studio.store.schema import SCHEMA_VERSION, migrate

try:  # POSIX advisory locks: released by the kernel when a process dies, even on SIGKILL.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


DB_NAME = "project.db"
BUSY_TIMEOUT_MS = 15000


@contextlib.contextmanager
def _prepare_lock(path: Path) -> Iterator[None]:
    """An exclusive, process-wide lock held while a project database is opened and prepared."""
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(path / ".open.lock", os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ProjectError(f"Cannot open project lock in {path}: {exc.strerror}.") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _check_header(db: Path) -> None:
    """Refuse a file that is not a SQLite database (corrupt, overwritten), without touching it.

    Read through SQLite (read-only), never with ``open()``: POSIX advisory locks are per process and
    die with ANY ``close()`` of the file, so a plain read of an index this process has open dropped
    its locks -- another process closing its connection then took itself for the last one and deleted
    the WAL, and this process's later commits went to a deleted file (tests/test_store_locks.py).
    SQLite's own connections share the locks of the process."""
    try:
        # immutable: no lock, no -wal/-shm created (the folder is left as it is); page 1 is all it reads.
        conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return  # cannot even open it: the real open says why
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_NOTADB or "not a database" in str(exc):
            raise ProjectError(
                f"Project database {db} is not a SQLite database (corrupt?). It was left untouched; "
                "restore it from a backup or move it away."
            ) from exc
        # busy, read-only folder, ...: not a verdict on the file; the real open reports it
    finally:
        conn.close()

class StoreConnection:
    """The project's one SQLite connection (WAL), its lock and its short transactions; opening,
    preparing (migrations, query indexes, the project's uuid) and closing."""

    def __init__(self, path: Path, name: str, conn: sqlite3.Connection, project_uuid: str) -> None:
        self.path = path
        self.name = name
        self.uuid = project_uuid
        self.recovered: list[int] = []
        self._conn = conn
        self.spending_roots: list[Path] = [path.parent]
        """Folders whose projects make up "today" (the opener adds the configured projects root)."""
        self._lock = threading.RLock()
        self._closed = False

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, name: str, *, create: bool = True) -> Self:
        path = Path(root).expanduser() / name
        validate_project_name(name, new=not (path / DB_NAME).is_file())
        return cls._open(path, name, create)

    @classmethod
    def open_path(cls, project_dir: Path, *, create: bool = False) -> Self:
        project_dir = Path(project_dir).expanduser()
        return cls._open(project_dir, project_dir.name or str(project_dir), create)

    @classmethod
    def _open(cls, path: Path, name: str, create: bool) -> Self:
        db = path / DB_NAME
        if path.exists() and not path.is_dir():
            raise ProjectError(f"{path} exists and is not a directory.")
        if not db.exists():
            if not create:
                if path.is_dir():
                    raise ProjectError(f"{path} is not a Banana Studio project (no {DB_NAME}).")
                raise ProjectError(f"No project {name!r} at {path}.")
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProjectError(f"Cannot create project folder {path}: {exc.strerror}.") from exc
        if db.exists():
            _check_header(db)  # refuse a corrupt file before touching anything in the folder
        cls._check_writable(path)
        # Opening is serialised across processes: two studios creating or migrating the same project
        # at once would otherwise race on the WAL switch ("database is locked") or on a half-created file.
        with _prepare_lock(path):
            if db.exists():
                _check_header(db)
            try:
                conn = sqlite3.connect(str(db), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                       check_same_thread=False)
            except sqlite3.Error as exc:
                raise ProjectError(f"Cannot open project database {db}: {exc}.") from exc
            try:
                project_uuid = cls._prepare(conn, db, name)
            except BaseException:
                conn.close()
                raise
        store = cls(path, name, conn, project_uuid)
        try:
            store.recover()
        except BaseException:
            store.close()
            raise
        return store

    @staticmethod
    def _check_writable(path: Path) -> None:
        locks = path / ".locks"
        if os.path.lexists(locks) and not locks.is_dir():
            raise ProjectError(f"{locks} is not a folder (Banana Studio keeps its process locks there). "
                               "Move that file away and try again.")
        probe = path / f".write-probe.{os.getpid()}.{threading.get_ident()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.close(fd)
            probe.unlink()
        except OSError as exc:
            raise ProjectError(
                f"Project folder {path} is not writable ({exc.strerror}). Banana Studio needs write access "
                "to record history; copy the project somewhere writable or fix its permissions."
            ) from exc

    @staticmethod
    def _prepare(conn: sqlite3.Connection, db: Path, name: str) -> str:
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise ProjectError(
                f"Project database {db} is unreadable ({exc}). It was left untouched; restore it from a "
                "backup or move it away."
            ) from exc
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"Project database {db} has schema version {version}, newer than this Banana Studio "
                f"({__version__}, schema {SCHEMA_VERSION}) understands. Upgrade Banana Studio; the project "
                "was left untouched."
            )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            if version < SCHEMA_VERSION or version == 0:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
                    if current < SCHEMA_VERSION:
                        migrate(conn, current)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            queries.ensure_indexes(conn)  # query indexes, not schema: created once, idempotently
            row = conn.execute("SELECT value FROM meta WHERE key = 'uuid'").fetchone()
            if row is None:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute("SELECT value FROM meta WHERE key = 'uuid'").fetchone()
                    if row is None:
                        new = str(uuid_mod.uuid4())
                        conn.executemany(
                            "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                            [("uuid", new), ("name", name), ("created_at", repr(time.time())),
                             ("app_version", __version__)],
                        )
                        row = (new,)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.DatabaseError as exc:
            raise ProjectError(f"Cannot prepare project database {db}: {exc}.") from exc
        return str(row[0])

    def recover(self) -> list[int]:
        """Overridden by the recovery layer (run on open); nothing to recover at this layer."""
        return []

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._before_close()
            self._conn.close()

    def _before_close(self) -> None:
        """Layers above release what they hold here (the locks layer: its turn locks)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise ProjectError(f"Project {self.name!r} is busy or read-only: {exc}.") from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise self._db_error(exc) from exc
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise

    def _db_error(self, exc: sqlite3.DatabaseError) -> ProjectError:
        return ProjectError(f"Project {self.name!r} database error: {exc}.")

    def _query(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc


    def _turn_row(self, turn_id: int) -> dict[str, Any]:
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                cur = self._conn.execute("SELECT * FROM turns WHERE id = ?", (turn_id,))
                row = cur.fetchone()
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc
            if row is None:
                raise ProjectError(f"Turn {turn_id} does not exist in project {self.name!r}.")
            names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True))

    def _require(self, c: sqlite3.Connection, turn_id: int) -> tuple[Any, ...]:
        row = c.execute("SELECT id, status FROM turns WHERE id = ?", (turn_id,)).fetchone()
        if row is None:
            raise ProjectError(f"Turn {turn_id} does not exist in project {self.name!r}.")
        return tuple(row)

