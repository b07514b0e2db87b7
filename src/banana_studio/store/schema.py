"""The project index schema: version 1 as first shipped, plus ordered migrations.

``PRAGMA user_version`` holds the schema version.  Migrations run in order inside one transaction;
a database newer than :data:`SCHEMA_VERSION` is refused, never touched.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from banana_studio.domain.content import b64decode_any
from banana_studio.domain.target import Target, infer_target

SCHEMA_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id INTEGER REFERENCES turns(id),
    prompt TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT 'generate',
    status TEXT NOT NULL DEFAULT 'pending',
    settings_json TEXT NOT NULL DEFAULT '{}',
    refs_json TEXT NOT NULL DEFAULT '[]',
    user_json TEXT,
    model_json TEXT,
    usage_json TEXT NOT NULL DEFAULT '{}',
    grounding_json TEXT NOT NULL DEFAULT '{}',
    finish_reason TEXT NOT NULL DEFAULT '',
    finish_message TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    error_kind TEXT NOT NULL DEFAULT '',
    cost REAL NOT NULL DEFAULT 0,
    starred INTEGER NOT NULL DEFAULT 0,
    label TEXT NOT NULL DEFAULT '',
    model_version TEXT NOT NULL DEFAULT '',
    response_id TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id INTEGER NOT NULL REFERENCES turns(id),
    kind TEXT NOT NULL,
    idx INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    mime TEXT NOT NULL,
    path TEXT NOT NULL,
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE turn_blobs (turn_id INTEGER NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (turn_id, sha256));
CREATE INDEX turns_parent ON turns(parent_id);
CREATE INDEX images_turn ON images(turn_id);
"""


def _create_v1_tables(conn: sqlite3.Connection) -> None:
    for stmt in SCHEMA_V1.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def create_v1(conn: sqlite3.Connection) -> None:
    """Build an empty version-1 database (new projects start here; migration tests use it too)."""
    _create_v1_tables(conn)
    conn.execute("PRAGMA user_version = 1")


def _v2(conn: sqlite3.Connection) -> None:
    # Owner pid + heartbeat for crash recovery; FTS5 over prompts.
    conn.execute("ALTER TABLE turns ADD COLUMN owner_pid INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE turns ADD COLUMN heartbeat REAL NOT NULL DEFAULT 0")
    conn.execute("CREATE INDEX turns_status ON turns(status)")
    conn.execute(
        "CREATE VIRTUAL TABLE turns_fts USING fts5(prompt, content='turns', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "CREATE TRIGGER turns_fts_ai AFTER INSERT ON turns BEGIN "
        "INSERT INTO turns_fts(rowid, prompt) VALUES (new.id, new.prompt); END"
    )
    conn.execute(
        "CREATE TRIGGER turns_fts_ad AFTER DELETE ON turns BEGIN "
        "INSERT INTO turns_fts(turns_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); END"
    )
    conn.execute(
        "CREATE TRIGGER turns_fts_au AFTER UPDATE OF prompt ON turns BEGIN "
        "INSERT INTO turns_fts(turns_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); "
        "INSERT INTO turns_fts(rowid, prompt) VALUES (new.id, new.prompt); END"
    )
    conn.execute("INSERT INTO turns_fts(turns_fts) VALUES ('rebuild')")


def _v3(conn: sqlite3.Connection) -> None:
    # Denormalised model/size for fast listings; file hash of the written image (with recipe) for
    # `open IMAGE`; indexes for recent/lookup.
    conn.execute("ALTER TABLE turns ADD COLUMN model TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE turns ADD COLUMN image_size TEXT NOT NULL DEFAULT ''")
    conn.execute(
        "UPDATE turns SET model = coalesce(json_extract(settings_json, '$.model'), ''), "
        "image_size = coalesce(json_extract(settings_json, '$.image_size'), '')"
    )
    conn.execute("ALTER TABLE images ADD COLUMN file_sha256 TEXT NOT NULL DEFAULT ''")
    conn.execute("UPDATE images SET file_sha256 = sha256")
    conn.execute("CREATE INDEX images_sha ON images(sha256)")
    conn.execute("CREATE INDEX images_file_sha ON images(file_sha256)")
    conn.execute("CREATE INDEX turns_created ON turns(created_at)")
    conn.execute("CREATE INDEX turn_blobs_sha ON turn_blobs(sha256)")


def signatures_of(model_json: str | None) -> list[bytes]:
    """The thought signatures stored inline in a turn's model content (large ones live in blobs:
    a non-empty marker stands for them, so they count as evidence of a foreign signature)."""
    try:
        obj = json.loads(model_json or "{}")
    except ValueError:
        return []
    out: list[bytes] = []
    for part in obj.get("parts") or [] if isinstance(obj, dict) else []:
        if not isinstance(part, dict):
            continue
        if part.get("thought_signature_blob"):
            out.append(b"<blob>")
        sig = part.get("thought_signature")
        if isinstance(sig, str) and sig:
            try:
                out.append(b64decode_any(sig))
            except ValueError:
                out.append(b"<unreadable>")
    return out


def _v4(conn: sqlite3.Connection) -> None:
    # Where each turn was made (local demo server / Gemini API / Vertex AI).  Old turns are "unknown"
    # unless their thought signatures have the local server's shape (then they are demo turns).
    conn.execute("ALTER TABLE turns ADD COLUMN target TEXT NOT NULL DEFAULT 'unknown'")
    rows = conn.execute("SELECT id, model_json FROM turns WHERE model_json IS NOT NULL").fetchall()
    local = [(int(tid),) for tid, model_json in rows if infer_target(signatures_of(model_json)) is Target.LOCAL]
    conn.executemany("UPDATE turns SET target = 'local' WHERE id = ?", local)
    conn.execute("CREATE INDEX turns_target ON turns(target, created_at)")


def _v5(conn: sqlite3.Connection) -> None:
    # Who asked for each turn: "" = a person (studio / command line), "mcp" = an agent, with the
    # client's announced name.  Old turns were all made by people.
    conn.execute("ALTER TABLE turns ADD COLUMN source TEXT NOT NULL DEFAULT ''")
    conn.execute("ALTER TABLE turns ADD COLUMN source_client TEXT NOT NULL DEFAULT ''")


def _template_runs(conn: sqlite3.Connection) -> None:
    # Template (matrix) runs: the template's name and text as run, its axes, and one cell per request
    # with its slot values and the turn it became (batch cells find theirs by key once imported).
    # Re-runnable (a database rolled back to an older version number keeps what it has).
    conn.execute(
        "CREATE TABLE IF NOT EXISTS template_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
        "origin TEXT NOT NULL DEFAULT '', template_text TEXT NOT NULL DEFAULT '', prompt TEXT NOT NULL, "
        "axes_json TEXT NOT NULL DEFAULT '[]', lane TEXT NOT NULL DEFAULT 'interactive', "
        "estimate REAL NOT NULL DEFAULT 0, created_at REAL NOT NULL)"
    )
    conn.execute(
        "CREATE TABLE IF NOT EXISTS template_cells (run_id INTEGER NOT NULL, idx INTEGER NOT NULL, "
        "slots_json TEXT NOT NULL DEFAULT '{}', axes_json TEXT NOT NULL DEFAULT '{}', prompt TEXT NOT NULL, "
        "settings_json TEXT NOT NULL DEFAULT '{}', turn_id INTEGER, batch_job TEXT NOT NULL DEFAULT '', "
        "batch_key TEXT NOT NULL DEFAULT '', PRIMARY KEY (run_id, idx))"
    )
    conn.execute("CREATE INDEX IF NOT EXISTS template_cells_turn ON template_cells(turn_id)")


_NEXT_REV = "(SELECT coalesce(max(rev), 0) + 1 FROM turns)"
TAG_AND_REV_SQL = (
    "ALTER TABLE turns ADD COLUMN rev INTEGER NOT NULL DEFAULT 0",
    "UPDATE turns SET rev = id",
    "CREATE INDEX turns_rev ON turns(rev)",
    "CREATE TABLE turn_tags (turn_id INTEGER NOT NULL REFERENCES turns(id), tag TEXT NOT NULL COLLATE NOCASE, "
    "PRIMARY KEY (turn_id, tag)) WITHOUT ROWID",
    "CREATE INDEX turn_tags_tag ON turn_tags(tag, turn_id)",
    # Every change to a turn (or to its tags) gives it the next revision: the user-level search index
    # re-reads exactly the turns whose revision is newer than the one it recorded.
    f"CREATE TRIGGER turns_rev_ai AFTER INSERT ON turns BEGIN UPDATE turns SET rev = {_NEXT_REV} "
    "WHERE id = new.id; END",
    f"CREATE TRIGGER turns_rev_au AFTER UPDATE ON turns WHEN new.rev = old.rev BEGIN UPDATE turns SET rev = "
    f"{_NEXT_REV} WHERE id = new.id; END",
    f"CREATE TRIGGER turn_tags_ai AFTER INSERT ON turn_tags BEGIN UPDATE turns SET rev = {_NEXT_REV} "
    "WHERE id = new.turn_id; END",
    f"CREATE TRIGGER turn_tags_ad AFTER DELETE ON turn_tags BEGIN UPDATE turns SET rev = {_NEXT_REV} "
    "WHERE id = old.turn_id; END",
    "CREATE TRIGGER turns_tags_gone AFTER DELETE ON turns BEGIN DELETE FROM turn_tags WHERE turn_id = old.id; END",
    # A turn linked to a template run's cell (after it was indexed) is indexed again with its template.
    f"CREATE TRIGGER template_cells_rev_ai AFTER INSERT ON template_cells WHEN new.turn_id IS NOT NULL BEGIN "
    f"UPDATE turns SET rev = {_NEXT_REV} WHERE id = new.turn_id; END",
    f"CREATE TRIGGER template_cells_rev_au AFTER UPDATE OF turn_id ON template_cells WHEN new.turn_id IS NOT NULL "
    f"BEGIN UPDATE turns SET rev = {_NEXT_REV} WHERE id = new.turn_id; END",
)


def _v7(conn: sqlite3.Connection) -> None:
    # Any number of tags per turn (the one label stays as it was), and a revision per turn for the
    # search index across projects.  Re-runnable: a database that already has a part keeps it.
    if "rev" in {c[1] for c in conn.execute("PRAGMA table_info(turns)")}:
        stmts = TAG_AND_REV_SQL[2:]
    else:
        stmts = TAG_AND_REV_SQL
    for stmt in stmts:
        conn.execute(stmt.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ")
                     .replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ")
                     .replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS "))


MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [
    (2, _v2), (3, _v3), (4, _v4), (5, _v5), (6, _template_runs), (7, _v7)]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(conn: sqlite3.Connection, from_version: int) -> int:
    """Apply every migration after ``from_version``; caller holds a write transaction."""
    version = from_version
    if version == 0:
        _create_v1_tables(conn)
        version = 1
    for target, step in MIGRATIONS:
        if target > version:
            step(conn)
            version = target
    conn.execute(f"PRAGMA user_version = {int(version)}")
    return version
