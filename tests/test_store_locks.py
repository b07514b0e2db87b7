"""A process that has a project open never drops its SQLite locks on the index by reading it some
other way: POSIX advisory locks die with ANY close() of the file in the process, and then another
process closing its connection believes it is the last one and deletes the WAL under our feet (our
later writes go to a deleted file: lost).  list_projects (the palette, the project picker, the agent
desk) used to peek at the header with open()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from banana_studio.domain.content import user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore, list_projects

OTHER_WRITER = (
    "import sqlite3, sys\n"
    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "c.execute(\"INSERT OR REPLACE INTO meta(key, value) VALUES ('probe', 'other process')\")\n"
    "c.close()\n"
)


def test_listing_projects_keeps_this_process_locks_on_an_open_project(tmp_path: Path) -> None:
    store = ProjectStore.open(tmp_path, "p")
    try:
        store.create_turn(None, "a fox", GenerationSettings(), [], user_content("a fox"))
        wal = store.path / "project.db-wal"
        assert wal.exists()
        before = store.data_version()
        assert [p.name for p in list_projects(tmp_path)] == ["p"]  # the palette's peek
        subprocess.run([sys.executable, "-c", OTHER_WRITER, str(store.path / "project.db")], check=True, timeout=60)
        assert wal.exists(), "the other process took itself for the last one and deleted our WAL"
        assert store.data_version() != before  # its commit is seen: we share the same WAL
        assert store._query("SELECT value FROM meta WHERE key = 'probe'") == [("other process",)]
    finally:
        store.close()
