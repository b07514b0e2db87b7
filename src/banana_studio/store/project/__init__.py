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

The package is split by concern; :class:`ProjectStore` only puts the layers together:

* :mod:`.connection` — opening, preparing, closing, transactions and queries;
* :mod:`.locks` — the blob GC guard and per-turn owner locks; :mod:`.recovery` — what a killed
  process left; :mod:`.deleting` — crash-safe branch deletion;
* :mod:`.blobs` — content-addressed bytes and recorded paths; :mod:`.refs` — reference images;
* :mod:`.turns` — turn writes; :mod:`.tags` — tags, bulk edits; :mod:`.reads` — turns, tree, search, recent, costs;
* :mod:`.export` — copies out of the project; :mod:`.thumbnails`; :mod:`.catalogue` — across projects.
"""

from __future__ import annotations

from banana_studio.store.names import ProjectError, validate_project_name
from banana_studio.store.project.catalogue import ProjectInfo, find_turn_for_image, list_projects, recent_turns
from banana_studio.store.project.connection import BUSY_TIMEOUT_MS, DB_NAME
from banana_studio.store.project.export import Export, check_outside_project, copy_out
from banana_studio.store.project.locks import FINISHED_STATUSES, LIVE_STATUSES
from banana_studio.store.project.reads import TurnNode
from banana_studio.store.project.recovery import Recovery
from banana_studio.store.project.refs import References
from banana_studio.store.project.tags import Tags
from banana_studio.store.project.thumbnails import Thumbnails


class ProjectStore(Tags, Export, References, Thumbnails, Recovery):
    """A project: see the package docstring.  Create with :meth:`open` or :meth:`open_path`."""


__all__ = [
    "BUSY_TIMEOUT_MS",
    "DB_NAME",
    "FINISHED_STATUSES",
    "LIVE_STATUSES",
    "ProjectError",
    "ProjectInfo",
    "ProjectStore",
    "TurnNode",
    "check_outside_project",
    "copy_out",
    "find_turn_for_image",
    "list_projects",
    "recent_turns",
    "validate_project_name",
]
