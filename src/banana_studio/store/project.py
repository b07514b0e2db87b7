"""One project on disk: a SQLite index (WAL) + content-addressed blobs + readable image files.

Layout of a project directory::

    project.db            index (turn tree, FTS5 prompt search), WAL mode
    blobs/ab/cdef...      content-addressed bytes (model images, large thought signatures)
    refs/<sha>.<ext>      reference images copied into the project
    images/0042-slug.jpg  final images, with the recipe embedded
    images/drafts/0042-d1.jpg
    .thumbs/<sha>-<px>.jpg
    .locks/<turn>.lock    held (flock) by the process generating that turn

Every method is synchronous and thread-safe (one connection guarded by a lock, short
transactions).  Async callers wrap calls with ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sqlite3
import threading
import time
import uuid as uuid_mod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from banana_studio import __version__
from banana_studio.domain.catalogue import round_money
from banana_studio.domain.content import Content, sha256_hex
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import Target
from banana_studio.domain.turn import STATUSES, ImageFile, Reference, Turn
from banana_studio.store import deletion, queries, references
from banana_studio.store.files import (
    atomic_write,
    blob_rel,
    ext_for,
    fault_point,
    pid_alive,
    read_image_file,
    sweep_temp_files,
    temp_name,
)
from banana_studio.store.names import ProjectError, slugify, validate_project_name
from banana_studio.store.recipe import embed_recipe, read_recipe
from banana_studio.store.schema import SCHEMA_VERSION, migrate

try:  # POSIX advisory locks: released by the kernel when a process dies, even on SIGKILL.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

DB_NAME = "project.db"
BUSY_TIMEOUT_MS = 15000
SIG_INLINE_MAX = 4096
"""Thought signatures longer than this (bytes) go to the blob store instead of the DB row."""
HEARTBEAT_STALE_SECONDS = 600.0
"""Only used where flock is unavailable: an owner silent this long is considered dead."""


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
LIVE_STATUSES = ("pending", "running")
FINISHED_STATUSES = ("done", "failed", "cancelled", "interrupted")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
@dataclass(slots=True)
class TurnNode:
    """A light row for tree views and listings."""

    id: int
    parent_id: int | None
    prompt: str
    """First 120 characters."""
    status: str
    starred: bool
    label: str
    created_at: float
    n_final: int
    kind: str
    cost: float
    model: str = ""
    image_size: str = ""
    target: str = "unknown"
    model_version: str = ""
    source: str = ""
    """"" = a person made it, "mcp" = an agent (see :attr:`Turn.source`)."""

    @property
    def is_demo(self) -> bool:
        return self.target == "local"


@dataclass(slots=True)
class ProjectInfo:
    name: str
    path: Path
    n_turns: int
    updated_at: float
    cost: float
    """Real money spent in the project (demo turns excluded)."""
    uuid: str = ""
    demo_cost: float = 0.0
    """Simulated costs of its demo turns (not money)."""
    error: str = ""
    """Set when the project could not be read (corrupt, newer schema...)."""


_NODE_SQL = queries.NODE_SQL


def _node(row: tuple[Any, ...]) -> TurnNode:
    return TurnNode(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8], row[9],
                    row[10], row[11], row[12], row[13], (row[14] or "") if len(row) > 14 else "")


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


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            return int(img.width), int(img.height)
    except Exception:
        return 0, 0


class ProjectStore:
    """A project: see the module docstring.  Create with :meth:`open` or :meth:`open_path`."""

    def __init__(self, path: Path, name: str, conn: sqlite3.Connection, project_uuid: str) -> None:
        self.path = path
        self.name = name
        self.uuid = project_uuid
        self.recovered: list[int] = []
        self._conn = conn
        self.spending_roots: list[Path] = [path.parent]
        """Folders whose projects make up "today" (the opener adds the configured projects root)."""
        self._lock = threading.RLock()
        self._turn_locks: dict[int, int] = {}
        self._closed = False

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, name: str, *, create: bool = True) -> ProjectStore:
        validate_project_name(name)
        return cls._open(Path(root).expanduser() / name, name, create)

    @classmethod
    def open_path(cls, project_dir: Path, *, create: bool = False) -> ProjectStore:
        project_dir = Path(project_dir).expanduser()
        return cls._open(project_dir, project_dir.name or str(project_dir), create)

    @classmethod
    def _open(cls, path: Path, name: str, create: bool) -> ProjectStore:
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

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for tid in list(self._turn_locks):
                self._release_turn_lock(tid)
            self._conn.close()

    def __enter__(self) -> ProjectStore:
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

    def heartbeat(self, turn_id: int) -> None:
        """Record that this process is still working on ``turn_id``."""
        with self._tx() as c:
            c.execute("UPDATE turns SET heartbeat = ? WHERE id = ?", (time.time(), turn_id))

    # -- paths and blobs --------------------------------------------------------------------------
    def abs_path(self, rel: str) -> Path:
        """The file a recorded relative path names.  Checked lexically (no absolute path, no ``..``), so a
        folder the user replaced by a symlink (``images/`` moved to another disk) keeps working."""
        pure = PurePosixPath(str(rel).replace("\\", "/"))
        if not str(rel) or pure.is_absolute() or ".." in pure.parts or ":" in (pure.parts[0] if pure.parts else ""):
            raise ProjectError(f"Path {rel!r} points outside the project.")
        return self.path.joinpath(*pure.parts)

    def _write(self, target: Path, data: bytes) -> None:
        """Atomic write whose temp file lives in ``.tmp/`` (swept on open), never beside the target."""
        atomic_write(target, data, tmp_dir=self.path / ".tmp")

    def _put_blob(self, data: bytes) -> str:
        sha = sha256_hex(data)
        target = self.path / blob_rel(sha)
        if not target.exists() and self._ref_path(sha) is None:
            try:
                self._write(target, data)
            except OSError as exc:
                raise ProjectError(f"Cannot write to project {self.name!r}: {exc.strerror}.") from exc
        return sha

    def _ref_path(self, sha: str) -> Path | None:
        for ext in ("png", "jpg", "webp", "heic", "heif", "gif", "avif", "bin"):
            p = self.path / "refs" / f"{sha}.{ext}"
            if p.exists():
                return p
        return None

    def blob_bytes(self, sha256: str) -> bytes:
        if not _SHA_RE.match(sha256 or ""):
            raise ProjectError(f"Invalid blob id {sha256!r}.")
        p = self.path / blob_rel(sha256)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            ref = self._ref_path(sha256)
            if ref is not None:
                return ref.read_bytes()
        except OSError as exc:
            raise ProjectError(f"Cannot read blob {sha256[:12]}: {exc.strerror}.") from exc
        raise ProjectError(f"Project {self.name!r} is missing stored data {sha256[:12]}… (deleted by hand?).")

    def _content_json(self, content: Content | None) -> tuple[str | None, set[str]]:
        """Serialise a Content: image bytes and large signatures go to the blob store."""
        if content is None:
            return None, set()
        ext = content.externalise(self._put_blob)
        obj = ext.to_json()
        shas: set[str] = {p.blob for p in ext.parts if p.blob}
        for part, pobj in zip(ext.parts, obj["parts"], strict=True):
            sig = part.thought_signature
            if sig is not None and len(sig) > SIG_INLINE_MAX:
                sha = self._put_blob(sig)
                pobj.pop("thought_signature", None)
                pobj["thought_signature_blob"] = sha
                shas.add(sha)
        return json.dumps(obj, separators=(",", ":")), shas

    def _load_content(self, text: str | None) -> Content | None:
        if not text:
            return None
        obj = json.loads(text)
        for pobj in obj.get("parts") or []:
            sha = pobj.pop("thought_signature_blob", None)
            if sha:
                pobj["thought_signature"] = self.blob_bytes(sha)
        return Content.from_json(obj)

    # -- references -------------------------------------------------------------------------------
    def add_reference(self, path: Path) -> Reference:
        data = references.read_reference_file(Path(path).expanduser())
        return self.add_reference_bytes(data, "", Path(path).name)

    def add_reference_bytes(self, data: bytes, mime: str, name: str) -> Reference:
        """Check a reference completely (see :func:`references.check_reference`), then store it."""
        label = name or "reference"
        data, out_mime = references.check_reference(data, label)
        return self._store_reference(data, out_mime, label)

    def _store_reference(self, data: bytes, out_mime: str, label: str) -> Reference:
        sha = sha256_hex(data)
        rel = f"refs/{sha}.{ext_for(out_mime)}"
        target = self.path / rel
        if not target.exists():
            try:
                self._write(target, data)
            except OSError as exc:
                raise ProjectError(f"Cannot copy reference into project: {exc.strerror}.") from exc
        return Reference(sha256=sha, mime_type=out_mime, name=label, path=rel)

    def reference_bytes(self, ref: Reference) -> bytes:
        try:
            return self.abs_path(ref.path).read_bytes()
        except OSError:
            return self.blob_bytes(ref.sha256)

    # -- turns ------------------------------------------------------------------------------------
    def create_turn(self, parent_id: int | None, prompt: str, settings: GenerationSettings,
                    references: list[Reference], user_content: Content, kind: str = "generate",
                    target: str = "unknown", source: str = "", source_client: str = "") -> Turn:
        """Record a new turn as ``pending`` (committed) before the request is sent.  ``target``: where
        it is sent (a :class:`~banana_studio.domain.target.Target` value); ``source``: who asked
        ("" = a person, "mcp" = an agent, ``source_client`` its announced name)."""
        with self._gc_guard():
            return self._create_turn(parent_id, prompt, settings, references, user_content, kind,
                                     Target.parse(target).value, source, source_client)

    def _create_turn(self, parent_id: int | None, prompt: str, settings: GenerationSettings,
                     references: list[Reference], user_content: Content, kind: str, target: str = "unknown",
                     source: str = "", source_client: str = "") -> Turn:
        user_json, shas = self._content_json(user_content)
        shas |= {r.sha256 for r in references}
        refs_json = json.dumps([{"sha256": r.sha256, "mime_type": r.mime_type, "name": r.name, "path": r.path}
                                for r in references])
        now = time.time()
        with self._tx() as c:
            if parent_id is not None and c.execute("SELECT 1 FROM turns WHERE id = ?", (parent_id,)).fetchone() is None:
                raise ProjectError(f"Turn {parent_id} does not exist in project {self.name!r}.")
            cur = c.execute(
                "INSERT INTO turns (parent_id, prompt, kind, status, settings_json, refs_json, user_json, "
                "created_at, updated_at, owner_pid, heartbeat, model, image_size, target, source, source_client) "
                "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (parent_id, prompt, kind, json.dumps(settings.to_json()), refs_json, user_json, now, now,
                 os.getpid(), now, settings.model, settings.image_size, target, source, source_client),
            )
            tid = int(cur.lastrowid or 0)
            c.executemany("INSERT OR IGNORE INTO turn_blobs(turn_id, sha256) VALUES (?, ?)",
                          [(tid, s) for s in shas])
            # Take the owner lock before the row becomes visible to other processes.
            self._acquire_turn_lock(tid)
        return self.get_turn(tid)

    def _require(self, c: sqlite3.Connection, turn_id: int) -> tuple[Any, ...]:
        row = c.execute("SELECT id, status FROM turns WHERE id = ?", (turn_id,)).fetchone()
        if row is None:
            raise ProjectError(f"Turn {turn_id} does not exist in project {self.name!r}.")
        return tuple(row)

    def set_status(self, turn_id: int, status: str, *, error: str = "", error_kind: str = "") -> None:
        if status not in STATUSES:
            raise ProjectError(f"Unknown turn status {status!r}.")
        from banana_studio.config import redact

        now = time.time()
        with self._tx() as c:
            self._require(c, turn_id)
            if status in LIVE_STATUSES and not self._acquire_turn_lock(turn_id):
                raise ProjectError(f"Turn {turn_id} is being generated by another studio process.")
            c.execute(
                "UPDATE turns SET status = ?, error = ?, error_kind = ?, updated_at = ?, heartbeat = ?, "
                "owner_pid = CASE WHEN ? THEN ? ELSE owner_pid END WHERE id = ?",
                (status, redact(error), error_kind, now, now, status in LIVE_STATUSES, os.getpid(), turn_id),
            )
        if status in FINISHED_STATUSES:
            with self._lock:
                self._release_turn_lock(turn_id)

    def _recipe(self, row: dict[str, Any], sha: str, kind: str, index: int) -> dict[str, Any]:
        settings = json.loads(row["settings_json"] or "{}")
        refs = json.loads(row["refs_json"] or "[]")
        return {
            "app": "banana-studio",
            "app_version": __version__,
            "project": self.name,
            "project_uuid": self.uuid,
            "turn_id": row["id"],
            "parent_id": row["parent_id"],
            "prompt": row["prompt"],
            "model": settings.get("model", ""),
            "settings": settings,
            "references": [r.get("sha256") for r in refs],
            "image_sha256": sha,
            "target": row.get("target") or "unknown",
            "model_version": row.get("model_version") or "",
            **({"source": row["source"], "source_client": row.get("source_client") or ""}
               if row.get("source") else {}),
            "kind": kind,
            "index": index,
            "created_at": datetime.fromtimestamp(row["created_at"]).astimezone().isoformat(timespec="seconds"),
        }

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

    def _write_draft_file(self, turn_id: int, sha: str, data: bytes, mime: str, index: int) -> str:
        rel = f"images/drafts/{turn_id:04d}-d{index + 1}.{ext_for(mime)}"
        target = self.path / rel
        blob = self.path / blob_rel(sha)
        try:
            if target.exists() and sha256_hex(target.read_bytes()) == sha:
                return rel
            target.parent.mkdir(parents=True, exist_ok=True)
            (self.path / ".tmp").mkdir(exist_ok=True)
            tmp = temp_name(target, self.path / ".tmp")
            try:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                os.link(blob, tmp)
                os.replace(tmp, target)
            except OSError:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                self._write(target, data)
        except OSError as exc:
            raise ProjectError(f"Cannot write draft image: {exc.strerror}.") from exc
        return rel

    def save_draft(self, turn_id: int, data: bytes, mime: str, index: int) -> ImageFile:
        """Store a draft (thought) image as it streams in.  ``index`` is 0-based; the file is ``dN`` = index+1."""
        with self._gc_guard():
            return self._save_draft(turn_id, data, mime, index)

    def _save_draft(self, turn_id: int, data: bytes, mime: str, index: int) -> ImageFile:
        sha = self._put_blob(data)
        self._turn_row(turn_id)
        rel = self._write_draft_file(turn_id, sha, data, mime, index)
        w, h = _image_size(data)
        with self._tx() as c:
            self._require(c, turn_id)
            c.execute("DELETE FROM images WHERE turn_id = ? AND kind = 'draft' AND idx = ?", (turn_id, index))
            c.execute(
                "INSERT INTO images (turn_id, kind, idx, sha256, mime, path, width, height, file_sha256) "
                "VALUES (?, 'draft', ?, ?, ?, ?, ?, ?, ?)",
                (turn_id, index, sha, mime, rel, w, h, sha),
            )
            c.execute("INSERT OR IGNORE INTO turn_blobs(turn_id, sha256) VALUES (?, ?)", (turn_id, sha))
            c.execute("UPDATE turns SET heartbeat = ? WHERE id = ?", (time.time(), turn_id))
        return ImageFile("draft", index, sha, mime, rel, w, h)

    def complete_turn(self, turn_id: int, *, model_content: Content | None, status: str, finish_reason: str = "",
                      finish_message: str = "", usage: dict[str, Any] | None = None,
                      grounding: dict[str, Any] | None = None, cost: float = 0.0, model_version: str = "",
                      response_id: str = "", error: str = "", error_kind: str = "") -> Turn:
        """Store the model's answer: blobs, final images (recipe embedded), drafts, metadata."""
        if status not in STATUSES:
            raise ProjectError(f"Unknown turn status {status!r}.")
        with self._gc_guard():
            return self._complete_turn(
                turn_id, model_content=model_content, status=status, finish_reason=finish_reason,
                finish_message=finish_message, usage=usage, grounding=grounding, cost=cost,
                model_version=model_version, response_id=response_id, error=error, error_kind=error_kind)

    def _complete_turn(self, turn_id: int, *, model_content: Content | None, status: str, finish_reason: str,
                       finish_message: str, usage: dict[str, Any] | None, grounding: dict[str, Any] | None,
                       cost: float, model_version: str, response_id: str, error: str, error_kind: str) -> Turn:
        from banana_studio.config import redact

        row = self._turn_row(turn_id)
        row["model_version"] = model_version or row.get("model_version") or ""  # for the embedded recipe
        raw_by_sha: dict[str, bytes] = {}
        if model_content is not None:
            for p in model_content.parts:
                if p.data is not None:
                    raw_by_sha[sha256_hex(p.data)] = p.data
        written: list[str] = []
        try:
            model_json, shas, draft_rows, final_rows = self._write_answer(turn_id, row, model_content, raw_by_sha,
                                                                          written)
        except (OSError, ProjectError) as exc:
            # Nothing partial stays: files of this answer already in images/ go, and the turn is recorded
            # failed *with* its usage and cost (the answer was billed even though it could not be saved).
            self._abandon_answer(turn_id, written, raw_by_sha, usage=usage, cost=cost,
                                 finish_reason=finish_reason, finish_message=finish_message,
                                 model_version=model_version, response_id=response_id, error=str(exc))
            raise
        now = time.time()
        with self._tx() as c:
            self._require(c, turn_id)
            c.execute(
                "UPDATE turns SET model_json = ?, status = ?, finish_reason = ?, finish_message = ?, usage_json = ?, "
                "grounding_json = ?, cost = ?, model_version = ?, response_id = ?, error = ?, error_kind = ?, "
                "updated_at = ?, heartbeat = ? WHERE id = ?",
                (model_json, status, finish_reason, finish_message, json.dumps(usage or {}),
                 json.dumps(grounding or {}), float(cost), model_version, response_id, redact(error), error_kind,
                 now, now, turn_id),
            )
            c.execute("DELETE FROM images WHERE turn_id = ? AND kind = 'final'", (turn_id,))
            c.executemany(
                "INSERT INTO images (turn_id, kind, idx, sha256, mime, path, width, height, file_sha256) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                draft_rows + final_rows,
            )
            c.executemany("INSERT OR IGNORE INTO turn_blobs(turn_id, sha256) VALUES (?, ?)",
                          [(turn_id, s) for s in shas])
        if status in FINISHED_STATUSES:
            with self._lock:
                self._release_turn_lock(turn_id)
        return self.get_turn(turn_id)

    def _write_answer(self, turn_id: int, row: dict[str, Any], model_content: Content | None,
                      raw_by_sha: dict[str, bytes], written: list[str],
                      ) -> tuple[str | None, set[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Blobs, draft files and final files (recipe embedded) of an answer; ``written`` collects the
        image files placed so far, so a failure half-way can take them back."""
        model_json, shas = self._content_json(model_content)
        ext = Content.from_json(json.loads(model_json)) if model_json else None
        existing = self._query("SELECT sha256 FROM images WHERE turn_id = ? AND kind = 'draft'", (turn_id,))
        have_drafts = {r[0] for r in existing}
        draft_rows: list[tuple[Any, ...]] = []
        final_rows: list[tuple[Any, ...]] = []
        if ext is not None:
            n_existing = len(have_drafts)
            for i, part in enumerate(ext.draft_images()):
                sha = part.blob or ""
                if sha in have_drafts:
                    continue
                data = raw_by_sha.get(sha) or self.blob_bytes(sha)
                idx = n_existing + i
                rel = self._write_draft_file(turn_id, sha, data, part.mime_type or "", idx)
                written.append(rel)
                w, h = _image_size(data)
                draft_rows.append((turn_id, "draft", idx, sha, part.mime_type, rel, w, h, sha))
            slug = slugify(row["prompt"])
            for i, part in enumerate(ext.final_images()):
                sha = part.blob or ""
                data = raw_by_sha.get(sha) or self.blob_bytes(sha)
                suffix = "" if i == 0 else f"-{i + 1}"
                rel = f"images/{turn_id:04d}-{slug}{suffix}.{ext_for(part.mime_type or '')}"
                file_bytes = embed_recipe(data, self._recipe(row, sha, "final", i))
                try:
                    self._write(self.path / rel, file_bytes)
                except OSError as exc:
                    raise ProjectError(f"Cannot write image {rel}: {exc.strerror}.") from exc
                written.append(rel)
                w, h = _image_size(data)
                final_rows.append((turn_id, "final", i, sha, part.mime_type, rel, w, h, sha256_hex(file_bytes)))
        return model_json, shas, draft_rows, final_rows

    def _abandon_answer(self, turn_id: int, written: list[str], raw_by_sha: dict[str, bytes], *,
                        usage: dict[str, Any] | None, cost: float, finish_reason: str, finish_message: str,
                        model_version: str, response_id: str, error: str) -> None:
        from banana_studio.config import redact

        recorded = {str(r[0]) for r in self._query("SELECT path FROM images WHERE turn_id = ?", (turn_id,))}
        for rel in written:
            if rel not in recorded:
                with contextlib.suppress(OSError):
                    self.abs_path(rel).unlink()
        # Blobs of the answer that did land are tied to the turn, so deleting it later reclaims them.
        landed = [sha for sha in raw_by_sha if (self.path / blob_rel(sha)).is_file()]
        now = time.time()
        with contextlib.suppress(ProjectError), self._tx() as c:
            self._require(c, turn_id)
            c.execute(
                "UPDATE turns SET status = 'failed', finish_reason = ?, finish_message = ?, usage_json = ?, cost = ?, "
                "model_version = ?, response_id = ?, error = ?, error_kind = 'storage', updated_at = ?, heartbeat = ? "
                "WHERE id = ?",
                (finish_reason, finish_message, json.dumps(usage or {}), float(cost), model_version, response_id,
                 redact(f"Could not save the turn: {error}"), now, now, turn_id),
            )
            c.executemany("INSERT OR IGNORE INTO turn_blobs(turn_id, sha256) VALUES (?, ?)",
                          [(turn_id, sha) for sha in landed])
        with self._lock:
            self._release_turn_lock(turn_id)

    # -- reading ----------------------------------------------------------------------------------
    def get_turn(self, turn_id: int) -> Turn:
        row = self._turn_row(turn_id)
        images = self._query(
            "SELECT kind, idx, sha256, mime, path, width, height FROM images WHERE turn_id = ? "
            "ORDER BY kind DESC, idx", (turn_id,)
        )
        refs = [Reference(r["sha256"], r["mime_type"], r["name"], r["path"])
                for r in json.loads(row["refs_json"] or "[]")]
        return Turn(
            id=row["id"],
            parent_id=row["parent_id"],
            prompt=row["prompt"],
            settings=GenerationSettings.from_json(json.loads(row["settings_json"] or "{}")),
            status=row["status"],
            references=refs,
            user_content=self._load_content(row["user_json"]),
            model_content=self._load_content(row["model_json"]),
            images=[ImageFile(*im) for im in images],
            finish_reason=row["finish_reason"],
            finish_message=row["finish_message"],
            error=row["error"],
            error_kind=row["error_kind"],
            usage=json.loads(row["usage_json"] or "{}"),
            grounding=json.loads(row["grounding_json"] or "{}"),
            cost=row["cost"],
            starred=bool(row["starred"]),
            label=row["label"],
            kind=row["kind"],
            model_version=row["model_version"],
            response_id=row["response_id"],
            target=row.get("target") or "unknown",
            source=row.get("source") or "",
            source_client=row.get("source_client") or "",
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def children(self, turn_id: int | None) -> list[Turn]:
        if turn_id is None:
            rows = self._query("SELECT id FROM turns WHERE parent_id IS NULL ORDER BY id")
        else:
            rows = self._query("SELECT id FROM turns WHERE parent_id = ? ORDER BY id", (turn_id,))
        return [self.get_turn(r[0]) for r in rows]

    def siblings(self, turn_id: int) -> list[Turn]:
        row = self._turn_row(turn_id)
        return self.children(row["parent_id"])

    def _path_ids(self, turn_id: int) -> list[int]:
        rows = self._query(
            "WITH RECURSIVE up(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM turns WHERE id = ?"
            " UNION ALL SELECT t.id, t.parent_id, up.depth + 1 FROM turns t JOIN up ON t.id = up.parent_id"
            " WHERE up.depth < 100000) SELECT id FROM up ORDER BY depth DESC",
            (turn_id,),
        )
        if not rows:
            raise ProjectError(f"Turn {turn_id} does not exist in project {self.name!r}.")
        return [r[0] for r in rows]

    def path_to(self, turn_id: int) -> list[Turn]:
        return [self.get_turn(i) for i in self._path_ids(turn_id)]

    def replay_contents(self, turn_id: int) -> list[Content]:
        """The history to send when continuing from ``turn_id`` (inflated, signatures byte-exact)."""
        out: list[Content] = []
        for t in self.path_to(turn_id):
            if t.status != "done" or t.model_content is None or t.user_content is None:
                continue
            out.append(t.user_content.inflate(self.blob_bytes))
            out.append(t.model_content.inflate(self.blob_bytes))
        return out

    def tree_index(self) -> list[TurnNode]:
        return [_node(r) for r in self._query(queries.TREE_INDEX_SQL)]

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on this store's connection: it changes when ANOTHER
        connection (another process: an MCP server, ``gen``, a second studio) commits to the index,
        never for this store's own writes.  A cheap poll for "someone else changed the project"."""
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc

    def turns_after(self, turn_id: int, *, other_processes: bool = False) -> tuple[list[TurnNode], int]:
        """The light rows of turns newer than ``turn_id`` (ids only grow: AUTOINCREMENT), oldest first,
        and the newest id.  ``other_processes``: leave out the turns this process created."""
        mine = " AND t.owner_pid != ?" if other_processes else ""
        params: tuple[Any, ...] = (int(turn_id), os.getpid()) if other_processes else (int(turn_id),)
        rows = self._query(queries.NODE_SQL + " WHERE t.id > ?" + mine + " ORDER BY t.id", params)
        latest = self._query("SELECT coalesce(max(id), 0) FROM turns")[0][0]
        return [_node(r) for r in rows], int(latest)

    def tree_skeleton(self) -> tuple[list[int], list[int | None]]:
        """Every turn's id and parent id (ids ascending): what the branch tree lays out; the display
        rows of the turns on screen come from :meth:`nodes_for`."""
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                return queries.tree_skeleton(self._conn)
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc

    def nodes_for(self, ids: Sequence[int]) -> list[TurnNode]:
        """The light rows of the given turns (id order; unknown ids are left out)."""
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                return [_node(r) for r in queries.nodes_for(self._conn, ids)]
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc

    def search(self, text: str, *, limit: int = 200, starred: bool = False) -> list[TurnNode]:
        terms = re.findall(r"\w+", text or "")
        if not terms:
            return [_node(r) for r in self._query(queries.search_sql(fts=False, starred=starred), (limit,))]
        match = queries.fts_match(terms)
        try:
            if starred:
                with self._lock:
                    rows = queries.starred_search(self._conn, match, limit)
            else:
                rows = self._query(queries.search_sql(fts=True, starred=False), (match, limit))
        except sqlite3.OperationalError:
            like = "%" + text.replace("%", r"\%").replace("_", r"\_") + "%"
            rows = self._query(queries.search_sql(fts=False, starred=starred, like=True), (like, limit))
        return [_node(r) for r in rows]

    def recent(self, limit: int = 50) -> list[TurnNode]:
        return [_node(r) for r in self._query(queries.RECENT_SQL, (limit,))]

    def star(self, turn_id: int, on: bool = True) -> None:
        with self._tx() as c:
            self._require(c, turn_id)
            c.execute("UPDATE turns SET starred = ? WHERE id = ?", (1 if on else 0, turn_id))

    def set_label(self, turn_id: int, label: str) -> None:
        with self._tx() as c:
            self._require(c, turn_id)
            c.execute("UPDATE turns SET label = ? WHERE id = ?", (label, turn_id))

    # -- deleting ---------------------------------------------------------------------------------
    def delete_branch(self, turn_id: int) -> int:
        """Delete ``turn_id`` and all its descendants, their image files and unreferenced blobs."""
        with self._gc_guard(exclusive=True):
            return self._delete_branch(turn_id)

    def _delete_branch(self, turn_id: int) -> int:
        # Crash-safe order (see store/deletion.py): rows out + files journalled in one commit, then unlink,
        # then drop the journal rows.  A kill anywhere leaves what recovery on open can finish.
        with self._tx() as c:
            self._require(c, turn_id)
            rows = c.execute(
                "WITH RECURSIVE down(id) AS (SELECT ? UNION ALL"
                " SELECT t.id FROM turns t JOIN down ON t.parent_id = down.id)"
                " SELECT d.id, t.status, t.owner_pid, t.heartbeat FROM down d JOIN turns t ON t.id = d.id",
                (turn_id,),
            ).fetchall()
            ids = [r[0] for r in rows]
            for tid, status, pid, hb in rows:
                if status in LIVE_STATUSES and tid not in self._turn_locks and self._owner_alive(tid, pid, hb):
                    raise ProjectError(f"Turn {tid} is still being generated by another studio process.")
            c.execute("CREATE TEMP TABLE IF NOT EXISTS doomed(id INTEGER PRIMARY KEY)")
            c.execute("DELETE FROM doomed")
            c.executemany("INSERT INTO doomed(id) VALUES (?)", [(i,) for i in ids])
            files = [(r[0], r[1]) for r in c.execute(
                "SELECT path, sha256 FROM images WHERE turn_id IN (SELECT id FROM doomed)").fetchall()]
            candidates = {r[0] for r in c.execute(
                "SELECT sha256 FROM turn_blobs WHERE turn_id IN (SELECT id FROM doomed)").fetchall()}
            c.execute("DELETE FROM images WHERE turn_id IN (SELECT id FROM doomed)")
            c.execute("DELETE FROM turn_blobs WHERE turn_id IN (SELECT id FROM doomed)")
            c.execute("DELETE FROM turns WHERE id IN (SELECT id FROM doomed)")
            still = {sha for sha in candidates
                     if c.execute("SELECT 1 FROM turn_blobs WHERE sha256 = ? LIMIT 1", (sha,)).fetchone()}
            c.execute("DELETE FROM doomed")
            entries = deletion.journal(c, [
                *((rel, "image", sha) for rel, sha in files),
                *((blob_rel(sha), "blob", sha) for sha in sorted(candidates - still)),
                *((f".thumbs/{sha}", "thumbs", sha) for sha in sorted({sha for _rel, sha in files} - still)),
            ])
        fault_point("delete.committed")
        for tid in ids:
            with self._lock:
                self._release_turn_lock(tid)
        done = deletion.unlink_entries(self.path, entries)
        fault_point("delete.finalize")
        with self._tx() as c:
            deletion.forget(c, done)
        return len(ids)

    def _finish_pending_deletions(self) -> int:
        """Recovery: unlink the files a killed deletion had journalled (unless on record again)."""
        with self._lock:
            if self._closed or not deletion.has_pending(self._conn):
                return 0
        with self._gc_guard(exclusive=True):
            with self._tx() as c:
                entries = [e for e in deletion.pending(c) if not deletion.still_recorded(c, *e)]
                kept = [e for e in deletion.pending(c) if e not in entries]
                deletion.forget(c, kept)
            done = deletion.unlink_entries(self.path, entries, step="recover")
            with self._tx() as c:
                deletion.forget(c, done)
        return len(done)

    # -- thumbnails -------------------------------------------------------------------------------
    def thumbnail(self, image: ImageFile, max_px: int = 512) -> Path:
        """A cached thumbnail (generated once, in the calling thread) no larger than ``max_px``."""
        from PIL import Image

        cache_dir = self.path / ".thumbs"
        for ext in ("jpg", "png"):
            p = cache_dir / f"{image.sha256}-{max_px}.{ext}"
            if p.exists():
                return p
        try:
            src = self.abs_path(image.path).read_bytes()
        except OSError:
            src = self.blob_bytes(image.sha256)
        try:
            with Image.open(io.BytesIO(src)) as img:
                if img.format == "JPEG":
                    img.draft("RGB", (max_px, max_px))
                img.load()
                has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
                thumb = img.convert("RGBA" if has_alpha else "RGB")
                thumb.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
                buf = io.BytesIO()
                if has_alpha:
                    thumb.save(buf, format="PNG", optimize=False)
                    ext = "png"
                else:
                    thumb.save(buf, format="JPEG", quality=85)
                    ext = "jpg"
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ProjectError(f"Cannot make a thumbnail of {image.path}: {exc}.") from exc
        target = cache_dir / f"{image.sha256}-{max_px}.{ext}"
        self._write(target, buf.getvalue())
        return target

    # -- costs and export ---------------------------------------------------------------------------
    def costs(self, turn_id: int | None = None) -> dict[str, float]:
        """Real money of the turn, its branch, the project and today (see :mod:`store.totals`: one
        definition of "today", across :attr:`spending_roots`), and the simulated demo costs apart
        (``demo_turn``, ``demo_branch``, ``demo_project``, ``demo_today``)."""
        from banana_studio.store.totals import local_midnight, money, peek_totals, totals_across

        midnight = local_midnight()
        with self._lock:
            if self._closed:
                raise ProjectError(f"Project {self.name!r} is closed.")
            try:
                mine = peek_totals(self._conn, midnight)
            except sqlite3.DatabaseError as exc:
                raise self._db_error(exc) from exc
        everywhere = totals_across(self.spending_roots, [self.path], midnight=midnight)
        turn = branch = demo_turn = demo_branch = 0.0
        if turn_id is not None:
            ids = self._path_ids(turn_id)
            marks = ",".join("?" * len(ids))
            rows = self._query(f"SELECT id, cost, target FROM turns WHERE id IN ({marks})", ids)
            for tid, cost, target in rows:
                demo = target == Target.LOCAL.value
                if demo:
                    demo_branch += float(cost)
                else:
                    branch += float(cost)
                if tid == turn_id:
                    demo_turn, turn = (float(cost), 0.0) if demo else (0.0, float(cost))
        return {"turn": money(turn), "branch": money(branch), "project": money(mine.total),
                "today": everywhere.today, "demo_turn": money(demo_turn), "demo_branch": money(demo_branch),
                "demo_project": money(mine.demo_total), "demo_today": everywhere.demo_today}

    def _check_export_dir(self, out_dir: Path) -> None:
        check_outside_project(self.path, out_dir, self.name)

    def save_copy(self, src: Path, dest: Path) -> Path:
        """Save a copy of one of the project's files at ``dest`` ("save image as"): never inside the
        project, never through a symlink or hard link at ``dest``."""
        dest = Path(dest).expanduser()
        check_outside_project(self.path, dest, self.name)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"Cannot create folder {dest.parent}: {exc.strerror}.") from exc
        copy_out(Path(src), dest)
        return dest

    def export_branch(self, turn_id: int, out_dir: Path) -> Path:
        """Copy the branch's images into ``out_dir`` and write ``branch.json``; returns the JSON path."""
        out_dir = Path(out_dir).expanduser()
        self._check_export_dir(out_dir)
        path = self.path_to(turn_id)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"Cannot create export folder {out_dir}: {exc.strerror}.") from exc
        self._check_export_dir(out_dir)  # again, now that any symlink on the way exists
        turns_out: list[dict[str, Any]] = []
        for t in path:
            images_out = []
            for im in t.images:
                sub = "drafts/" if im.kind == "draft" else ""
                dest_rel = sub + Path(im.path).name
                dest = out_dir / dest_rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    copy_out(self.abs_path(im.path), dest)
                except OSError:
                    atomic_write(dest, self.blob_bytes(im.sha256))
                images_out.append({"kind": im.kind, "index": im.index, "file": dest_rel, "sha256": im.sha256,
                                   "mime_type": im.mime_type, "width": im.width, "height": im.height})
            turns_out.append({
                "id": t.id,
                "parent_id": t.parent_id,
                "prompt": t.prompt,
                "kind": t.kind,
                "status": t.status,
                "settings": t.settings.to_json(),
                "references": [{"sha256": r.sha256, "name": r.name, "mime_type": r.mime_type}
                               for r in t.references],
                "images": images_out,
                "usage": t.usage,
                "grounding": t.grounding,
                "cost": round_money(t.cost) if t.cost is not None else None,
                "finish_reason": t.finish_reason,
                "finish_message": t.finish_message,
                "error": t.error,
                "model_version": t.model_version,
                "target": t.target,
                **({"source": t.source, "source_client": t.source_client} if t.source else {}),
                "demo": t.is_demo,
                "response_id": t.response_id,
                "starred": t.starred,
                "label": t.label,
                "created_at": datetime.fromtimestamp(t.created_at).astimezone().isoformat(timespec="seconds"),
                "user_content": _export_content(t.user_content),
                "model_content": _export_content(t.model_content),
            })
        doc = {
            "app": "banana-studio",
            "app_version": __version__,
            "project": self.name,
            "project_uuid": self.uuid,
            "turn_id": turn_id,
            "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "costs": {k: round_money(v) for k, v in self.costs(turn_id).items()},
            "turns": turns_out,
        }
        target = out_dir / "branch.json"
        atomic_write(target, json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"))
        return target


def check_outside_project(project: Path, target: Path, name: str = "") -> None:
    """Exports never modify a project: refuse a ``target`` inside it, or inside a folder it links to."""
    resolved = Path(target).expanduser().resolve()
    roots = {project.resolve()}
    for sub in ("images", "blobs", "refs", ".thumbs", ".tmp", ".locks"):
        with contextlib.suppress(OSError):
            roots.add((project / sub).resolve())
    for root in roots:
        if resolved == root or root in resolved.parents:
            raise ProjectError(f"Cannot write to {target}: it is inside the project {name or project.name!r} "
                               f"({root}), and an export never changes a project. Choose a place outside it.")


def copy_out(src: Path, dest: Path) -> None:
    """Copy via a temp file + rename: a ``dest`` that is a symlink or hard link is replaced, never
    written through (so no file it points to can be changed)."""
    tmp = temp_name(dest)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _export_content(content: Content | None) -> dict[str, Any] | None:
    """Parts without inline bytes; signatures summarised by length (they are opaque and huge)."""
    if content is None:
        return None
    obj = content.to_json()
    for pobj, part in zip(obj["parts"], content.parts, strict=True):
        if "thought_signature" in pobj:
            pobj.pop("thought_signature")
            pobj["thought_signature_bytes"] = len(part.thought_signature or b"")
    return obj


# -- across projects ------------------------------------------------------------------------------
def _ro_connect(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _project_dirs(root: Path) -> list[Path]:
    root = Path(root).expanduser()
    try:
        entries = sorted(root.iterdir())
    except OSError:
        return []
    return [d for d in entries if d.is_dir() and (d / DB_NAME).is_file()]


def list_projects(root: Path) -> list[ProjectInfo]:
    """Every project under ``root`` (read-only peek; a broken one is listed with ``error`` set)."""
    out: list[ProjectInfo] = []
    for d in _project_dirs(root):
        info = ProjectInfo(name=d.name, path=d, n_turns=0, updated_at=0.0, cost=0.0)
        try:
            _check_header(d / DB_NAME)
            conn = _ro_connect(d / DB_NAME)
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > SCHEMA_VERSION:
                    info.error = f"schema version {version} is newer than this Banana Studio"
                elif version == 0:
                    info.error = "empty project database"
                else:
                    from banana_studio.store.totals import money, peek_totals

                    n, upd = conn.execute("SELECT count(*), coalesce(max(updated_at), 0) FROM turns").fetchone()
                    info.n_turns, info.updated_at = int(n), float(upd)
                    totals = peek_totals(conn, 0.0)
                    info.cost, info.demo_cost = money(totals.total), money(totals.demo_total)
                    row = conn.execute("SELECT value FROM meta WHERE key = 'uuid'").fetchone()
                    info.uuid = str(row[0]) if row else ""
                    if not info.updated_at:
                        info.updated_at = (d / DB_NAME).stat().st_mtime
            finally:
                conn.close()
        except (ProjectError, sqlite3.Error, OSError) as exc:
            info.error = str(exc)
        out.append(info)
    return out


def recent_turns(root: Path, limit: int = 20) -> list[tuple[ProjectInfo, TurnNode]]:
    """The ``limit`` most recent turns across all projects under ``root``, newest first."""
    rows: list[tuple[ProjectInfo, TurnNode]] = []
    for info in list_projects(root):
        if info.error:
            continue
        try:
            conn = _ro_connect(info.path / DB_NAME)
            try:
                sql = queries.RECENT_SQL
                if "source" not in {c[1] for c in conn.execute("PRAGMA table_info(turns)")}:
                    sql = sql.replace(", t.source", ", ''")  # not opened since schema 5: made by people
                for r in conn.execute(sql, (limit,)):
                    rows.append((info, _node(r)))
            finally:
                conn.close()
        except sqlite3.Error:
            continue
    rows.sort(key=lambda pair: pair[1].created_at, reverse=True)
    return rows[:limit]


def find_turn_for_image(image: Path, roots: list[Path]) -> tuple[Path, int] | None:
    """(project dir, turn id) that produced ``image``: by its embedded recipe, else by sha256."""
    try:
        data = read_image_file(Path(image).expanduser())
    except ValueError:
        return None
    projects = [info for root in roots for info in list_projects(root) if not info.error]
    recipe = read_recipe(data)
    if recipe and isinstance(recipe.get("turn_id"), int):
        tid = recipe["turn_id"]
        for by in ("project_uuid", "project"):
            want = recipe.get(by)
            if not want:
                continue
            for info in projects:
                if (info.uuid if by == "project_uuid" else info.name) == want and _has_turn(info.path, tid):
                    return info.path, tid
    sha = sha256_hex(data)
    for info in projects:
        try:
            conn = _ro_connect(info.path / DB_NAME)
            try:
                row = conn.execute(
                    "SELECT turn_id FROM images WHERE file_sha256 = ? OR sha256 = ? ORDER BY kind DESC LIMIT 1",
                    (sha, sha),
                ).fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            continue
        if row:
            return info.path, int(row[0])
    return None


def _has_turn(project_dir: Path, turn_id: int) -> bool:
    try:
        conn = _ro_connect(project_dir / DB_NAME)
        try:
            return conn.execute("SELECT 1 FROM turns WHERE id = ?", (turn_id,)).fetchone() is not None
        finally:
            conn.close()
    except sqlite3.Error:
        return False


__all__ = [
    "ProjectError",
    "ProjectInfo",
    "ProjectStore",
    "TurnNode",
    "find_turn_for_image",
    "list_projects",
    "recent_turns",
    "validate_project_name",
]
