"""A library of named references: ``@hero`` → one or more images, kept by content hash.

One library per scope: the user's (``<data dir>/references/``) and each project's
(``<project>/named-refs/``).  A library is a folder::

    library.sqlite3     every pointing of every name, oldest first (a name's history)
    images/<sha256>.<ext>

Re-pointing a name adds a row; removing a name adds a row with no images (its history stays, and so
do the image files: turns recorded the hashes, and ``ref show`` can still say what a name was).
Images are checked completely before they are stored (:func:`references.check_reference`) and
written atomically before the row that names them is committed, so a kill leaves at most an image no
row names.  Reads never create anything: a library that was never written is simply empty.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from banana_studio.domain.content import sha256_hex
from banana_studio.domain.named_refs import RefNameError, is_name, validate_name
from banana_studio.domain.settings import MAX_REFERENCES
from banana_studio.store import references
from banana_studio.store.files import atomic_write, ext_for, sweep_temp_files
from banana_studio.store.names import ProjectError

DB_NAME = "library.sqlite3"
PROJECT_FOLDER = "named-refs"
_SCHEMA_VERSION = 1
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS pointings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    images_json TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS pointings_name ON pointings(name, id);
"""


@dataclass(frozen=True, slots=True)
class NamedImage:
    sha256: str
    mime_type: str
    label: str
    """Where it came from (a file name, ``turn #12``): untrusted text, shown through safetext."""
    path: Path


@dataclass(frozen=True, slots=True)
class NamedRef:
    name: str
    scope: str
    images: list[NamedImage] = field(default_factory=list)
    version: int = 0
    """The pointing's row id (grows with every save of any name in this library)."""
    note: str = ""
    created_at: float = 0.0

    @property
    def removed(self) -> bool:
        return not self.images


def _holds(path: Path, sha: str) -> bool:
    try:
        return sha256_hex(path.read_bytes()) == sha
    except OSError:
        return False


def user_library_root() -> Path:
    from banana_studio.paths import data_dir

    return data_dir() / "references"


class RefLibrary:
    """One scope's library at ``root``."""

    def __init__(self, root: Path, scope: str) -> None:
        self.root = Path(root)
        self.scope = scope

    @classmethod
    def user(cls) -> RefLibrary:
        return cls(user_library_root(), "user")

    @classmethod
    def for_project(cls, project_path: Path) -> RefLibrary:
        return cls(Path(project_path) / PROJECT_FOLDER, "project")

    # -- the database ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _db(self, *, write: bool) -> Iterator[sqlite3.Connection | None]:
        db = self.root / DB_NAME
        if not write and not db.exists():
            yield None
            return
        try:
            if write:
                self.root.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(db, timeout=15, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise ProjectError(f"Cannot open the {self.scope} reference library ({self.root}): {exc}.") from exc
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise ProjectError(f"The {self.scope} reference library ({self.root}) was written by a newer "
                                   "Banana Studio; update Banana Studio to use it.")
            if write:
                if version < _SCHEMA_VERSION:
                    conn.executescript(_SCHEMA + f"PRAGMA user_version = {_SCHEMA_VERSION};")
                conn.execute("BEGIN IMMEDIATE")
            yield conn
            if write:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise ProjectError(f"The {self.scope} reference library ({self.root}) is unreadable: {exc}.") from exc
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            raise
        finally:
            conn.close()

    def _row(self, row: tuple[object, ...]) -> NamedRef | None:
        rid, name, images_json, note, created = row
        if not isinstance(name, str) or not is_name(name):
            return None  # a hand-edited library: an invalid name is never offered
        images: list[NamedImage] = []
        try:
            items = json.loads(str(images_json))
        except ValueError:
            items = []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not _SHA_RE.match(str(item.get("sha256", ""))):
                continue
            sha, mime = str(item["sha256"]), str(item.get("mime_type") or "image/png")
            images.append(NamedImage(sha, mime, str(item.get("label") or ""), self._image_path(sha, mime)))
        return NamedRef(name, self.scope, images, int(str(rid)), str(note or ""), float(str(created or 0)))

    def _image_path(self, sha: str, mime: str) -> Path:
        return self.root / "images" / f"{sha}.{ext_for(mime)}"

    # -- reads ----------------------------------------------------------------------------------
    def get(self, name: str) -> NamedRef | None:
        """The name's current pointing (None: never saved, or removed)."""
        name = validate_name(name)
        with self._db(write=False) as conn:
            if conn is None:
                return None
            row = conn.execute("SELECT id, name, images_json, note, created_at FROM pointings WHERE name = ? "
                               "ORDER BY id DESC LIMIT 1", (name,)).fetchone()
        ref = self._row(row) if row else None
        return None if ref is None or ref.removed else ref

    def all(self) -> list[NamedRef]:
        """Every name that points somewhere now, sorted by name."""
        with self._db(write=False) as conn:
            if conn is None:
                return []
            rows = conn.execute(
                "SELECT p.id, p.name, p.images_json, p.note, p.created_at FROM pointings p "
                "JOIN (SELECT name, max(id) AS id FROM pointings GROUP BY name) last ON last.id = p.id "
                "ORDER BY p.name").fetchall()
        refs = [self._row(r) for r in rows]
        return [r for r in refs if r is not None and not r.removed]

    def history(self, name: str) -> list[NamedRef]:
        """Every pointing of ``name``, newest first (a removal is one with no images)."""
        name = validate_name(name)
        with self._db(write=False) as conn:
            if conn is None:
                return []
            rows = conn.execute("SELECT id, name, images_json, note, created_at FROM pointings WHERE name = ? "
                                "ORDER BY id DESC", (name,)).fetchall()
        return [r for r in (self._row(row) for row in rows) if r is not None]

    def image_bytes(self, image: NamedImage) -> bytes:
        try:
            data = image.path.read_bytes()
        except FileNotFoundError:
            raise ProjectError(f"An image of a named reference is missing from the {self.scope} library "
                               f"({image.sha256[:12]}…, deleted by hand?).") from None
        except OSError as exc:
            raise ProjectError(f"Cannot read an image of the {self.scope} reference library: {exc.strerror}.") from exc
        if sha256_hex(data) != image.sha256:
            raise ProjectError(f"An image of the {self.scope} reference library was changed on disk "
                               f"({image.sha256[:12]}…); save the name again.")
        return data

    # -- writes ---------------------------------------------------------------------------------
    def save(self, name: str, images: Sequence[tuple[bytes, str]], note: str = "") -> NamedRef:
        """Point ``name`` at ``images`` (``(bytes, label)`` each, in order); a name already saved is
        re-pointed (its earlier pointings stay in its history).  Raises :class:`ProjectError` with the
        reason (bad name, no image, too many, an image that is not one)."""
        try:
            name = validate_name(name)
        except RefNameError as exc:
            raise ProjectError(str(exc)) from None
        if not images:
            raise ProjectError(f"Give {name} at least one image.")
        if len(images) > MAX_REFERENCES:
            raise ProjectError(f"{len(images)} images for {name}: a name holds at most {MAX_REFERENCES} (no model "
                               "takes more references).")
        stored: list[dict[str, str]] = []
        sweep_temp_files(self.root / "images")  # what a kill mid-write left
        for data, label in images:
            data, mime = references.check_reference(data, label or "image")
            sha = sha256_hex(data)
            target = self._image_path(sha, mime)
            if sha not in {s["sha256"] for s in stored}:
                if not _holds(target, sha):  # absent, or changed by hand: written (again)
                    try:
                        atomic_write(target, data)
                    except OSError as exc:
                        raise ProjectError(f"Cannot write to the {self.scope} reference library: "
                                           f"{exc.strerror}.") from exc
                stored.append({"sha256": sha, "mime_type": mime, "label": label})
        with self._db(write=True) as conn:
            assert conn is not None
            cur = conn.execute("INSERT INTO pointings (name, images_json, note, created_at) VALUES (?, ?, ?, ?)",
                               (name, json.dumps(stored, ensure_ascii=False), note, time.time()))
            rid = int(cur.lastrowid or 0)
        saved = self.get(name)
        if saved is None or saved.version != rid:  # another process re-pointed it in between
            saved = self._row((rid, name, json.dumps(stored), note, time.time()))
        assert saved is not None
        return saved

    def remove(self, name: str) -> bool:
        """Stop ``name`` pointing anywhere (history kept).  False if it pointed nowhere."""
        name = validate_name(name)
        if self.get(name) is None:
            return False
        with self._db(write=True) as conn:
            assert conn is not None
            conn.execute("INSERT INTO pointings (name, images_json, note, created_at) VALUES (?, '[]', 'removed', ?)",
                         (name, time.time()))
        return True
