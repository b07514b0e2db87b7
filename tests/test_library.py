"""Tags in the store, the schema-6 migration, and the user-level search index across projects: kept
in step after new / changed / deleted turns, dropped projects, rebuilt when deleted or damaged."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.query import parse
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store import schema as schema_mod
from banana_studio.store.library import Library
from banana_studio.store.schema import SCHEMA_VERSION


def add_turn(store: ProjectStore, prompt: str, *, aspect: str = "1:1", model: str = "gemini-3-pro-image",
             cost: float = 0.1, thought: str = "planning", answer: str = "", grounding: str = "") -> int:
    settings = GenerationSettings(model=model, aspect_ratio=aspect, image_size="2K" if aspect == "16:9" else "1K")
    t = store.create_turn(None, prompt, settings, [], user_content(prompt))
    parts = [Part(text=thought, thought=True)] + ([Part(text=answer)] if answer else [])
    store.complete_turn(t.id, model_content=Content("model", parts), status="done", cost=cost,
                        grounding={"groundingChunks": [{"web": {"uri": "https://x", "title": grounding}}]}
                        if grounding else None)
    return t.id


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    root = tmp_path / "projects"
    with ProjectStore.open(root, "alpha") as s:
        add_turn(s, "a red fox in snow", thought="thinking about the composition")
        add_turn(s, "an owl at night", aspect="16:9", cost=0.3, answer="Here is a moonlit owl")
        s.set_label(2, "keeper")
        s.edit_tags([1, 2], add=["hero"])
    with ProjectStore.open(root, "beta") as s:
        add_turn(s, "a lighthouse", model="gemini-2.5-flash-image", grounding="Fastnet Rock encyclopedia")
        s.star(1)
    return root


def ids(result: object) -> list[tuple[str, int]]:
    return [(h.project, h.turn_id) for h in result.hits]  # type: ignore[attr-defined]


def test_tags_bulk_add_remove_case_and_unknown_turns(tmp_path: Path) -> None:
    with ProjectStore.open(tmp_path, "p") as s:
        a, b = add_turn(s, "one"), add_turn(s, "two")
        assert s.edit_tags([a, b], add=["Hero", "client x"]) == 4
        assert s.edit_tags([a], add=["hero"], remove=["client x"]) == 2  # re-spelled, removed
        assert s.tags_of([a, b]) == {a: ["hero"], b: ["client x", "Hero"]}
        assert s.get_turn(b).tags == ["client x", "Hero"] and s.path_to(b)[-1].tags == ["client x", "Hero"]
        assert s.all_tags() == [("hero", 2), ("client x", 1)]
        with pytest.raises(ProjectError, match="Turn 99 does not exist"):
            s.edit_tags([a, 99], add=["new"])
        assert s.tags_of([a]) == {a: ["hero"]}  # nothing of the failed edit landed
        assert s.edit_tags([a], add=[], remove=[]) == 0


def test_migration_to_tags_keeps_labels_and_gives_revisions(tmp_path: Path) -> None:
    project = tmp_path / "old"
    project.mkdir()
    conn = sqlite3.connect(project / "project.db")
    schema_mod.create_v1(conn)
    for target, step in schema_mod.MIGRATIONS:
        if target < SCHEMA_VERSION:
            step(conn)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.execute("INSERT INTO meta(key, value) VALUES ('uuid', 'u-old')")
    for i, label in enumerate(["kept label", ""], start=1):
        conn.execute("INSERT INTO turns (prompt, status, label, settings_json, created_at, updated_at) VALUES "
                     "(?, 'done', ?, ?, ?, ?)", (f"turn {i}", label, json.dumps({"aspect_ratio": "4:3"}), i, i))
    conn.commit()
    conn.close()
    with ProjectStore.open(tmp_path, "old") as s:
        assert s._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert s.get_turn(1).label == "kept label" and s.get_turn(1).tags == []
        assert s._query("SELECT id, rev FROM turns ORDER BY id") == [(1, 1), (2, 2)]
        s.edit_tags([2], add=["new"])
        s.star(1)
        revs = dict(s._query("SELECT id, rev FROM turns"))
        assert revs[1] > revs[2] > 2  # every change gives the turn the next revision
    lib = Library(tmp_path / "index.db", [tmp_path])
    assert ids(lib.search('"kept label"')) == [("old", 1)]
    assert ids(lib.search("tag:new aspect:4:3")) == [("old", 2)]


def test_search_across_projects_every_filter(root: Path, tmp_path: Path) -> None:
    lib = Library(tmp_path / "index.db", [root])
    assert lib.index.rebuilt
    assert ids(lib.search("fox")) == [("alpha", 1)]
    assert ids(lib.search("composition")) == [("alpha", 1)]  # thoughts
    assert ids(lib.search("moonlit")) == [("alpha", 2)]  # answer text
    assert ids(lib.search("fastnet")) == [("beta", 1)]  # grounding titles
    assert ids(lib.search("keeper")) == [("alpha", 2)]  # labels
    assert ids(lib.search("hero")) == [("alpha", 2), ("alpha", 1)]  # tags as text
    assert set(ids(lib.search("tag:HERO"))) == {("alpha", 1), ("alpha", 2)}
    assert ids(lib.search("-tag:hero")) == [("beta", 1)]
    assert ids(lib.search("starred")) == [("beta", 1)]
    assert ids(lib.search("aspect:16:9 size:2K")) == [("alpha", 2)]
    assert ids(lib.search("cost>0.2")) == [("alpha", 2)]
    assert set(ids(lib.search("cost<=0.1"))) == {("alpha", 1), ("beta", 1)}
    assert ids(lib.search("model:2.5")) == [("beta", 1)]
    assert ids(lib.search('model:"nano banana (retired)"')) == [("beta", 1)]  # by the model's name
    assert ids(lib.search("model:pro project:alp*")) == [("alpha", 2), ("alpha", 1)]
    assert ids(lib.search("project:nothing")) == []
    assert ids(lib.search("status:failed")) == []
    assert len(lib.search("after:today").hits) == 3 and lib.search("before:2000-01-01").hits == []
    assert ids(lib.search("has:grounding")) == [("beta", 1)]
    assert ids(lib.search("-fox -owl")) == [("beta", 1)]
    assert ids(lib.search('"red fox"')) == [("alpha", 1)] and ids(lib.search('"fox red"')) == []
    only = lib.search("", project_path=root / "beta")
    assert ids(only) == [("beta", 1)]
    assert lib.search("template:portrait").hits == []  # no run of that template anywhere
    limited = lib.search("", limit=2)
    assert len(limited.hits) == 2 and limited.more


def test_index_follows_new_changed_and_deleted_turns(root: Path, tmp_path: Path) -> None:
    lib = Library(tmp_path / "index.db", [root])
    assert ids(lib.search("zebra")) == []
    with ProjectStore.open(root, "beta") as s:
        new = add_turn(s, "a zebra crossing")
    assert ids(lib.search("zebra")) == [("beta", new)]
    assert lib.last_sync.synced == 1 and lib.last_sync.indexed == 1  # only the new turn was read
    with ProjectStore.open(root, "alpha") as s:
        s.edit_tags([1], remove=["hero"], add=["print"])
        s.star(1)
    assert ids(lib.search("tag:print starred")) == [("alpha", 1)]
    assert ids(lib.search("tag:hero")) == [("alpha", 2)]
    with ProjectStore.open(root, "alpha") as s:
        s.delete_branch(1)
    assert ids(lib.search("fox")) == [] and lib.last_sync.deleted == 1
    lib.sync()
    assert lib.last_sync.synced == 0  # nothing changed: nothing read


def test_project_deleted_or_recreated(root: Path, tmp_path: Path) -> None:
    lib = Library(tmp_path / "index.db", [root])
    assert ids(lib.search("lighthouse")) == [("beta", 1)]
    shutil.rmtree(root / "beta")
    assert ids(lib.search("lighthouse")) == [] and lib.last_sync.dropped == 1
    with ProjectStore.open(root, "beta") as s:  # a new project under the old name: another uuid
        add_turn(s, "a windmill")
    assert ids(lib.search("")) [0] == ("beta", 1)
    assert ids(lib.search("lighthouse")) == []


def test_index_rebuilt_when_deleted_or_damaged(root: Path, tmp_path: Path) -> None:
    path = tmp_path / "index.db"
    with Library(path, [root]) as lib:
        assert ids(lib.search("owl")) == [("alpha", 2)]
    path.unlink()
    with Library(path, [root]) as lib:
        assert lib.index.rebuilt
        assert ids(lib.search("owl")) == [("alpha", 2)]
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    with Library(path, [root]) as lib:
        assert lib.index.rebuilt
        assert ids(lib.search("owl")) == [("alpha", 2)]
    with Library(path, [root]) as lib:
        assert not lib.index.rebuilt
        lib.index.conn.execute("DROP TABLE docs_fts")  # damaged under a running search
        assert ids(lib.search("owl")) == [("alpha", 2)]


def test_unreadable_project_is_named_and_others_still_searched(root: Path, tmp_path: Path) -> None:
    bad = root / "broken"
    bad.mkdir()
    (bad / "project.db").write_bytes(b"garbage" * 500)
    lib = Library(tmp_path / "index.db", [root])
    result = lib.search("owl")
    assert ids(result) == [("alpha", 2)]
    assert any(n.startswith("Not searched: broken") for n in result.notes)


def test_hostile_json_in_a_turn_does_not_break_the_index(root: Path, tmp_path: Path) -> None:
    with ProjectStore.open(root, "alpha") as s, s._tx() as c:
        c.execute("UPDATE turns SET model_json = '{\"parts\": \"not a list\"', grounding_json = '[1, \"x\"]' "
                  "WHERE id = 1")
        c.execute("UPDATE turns SET model_json = '{\"parts\": [\"str\", 3, {\"text\": 5}]}' WHERE id = 2")
    lib = Library(tmp_path / "index.db", [root])
    assert set(ids(lib.search("tag:hero"))) == {("alpha", 1), ("alpha", 2)}


def test_a_project_from_before_revisions_is_read_whole(tmp_path: Path) -> None:
    """An older project not opened since (no ``rev`` column) is indexed read-only, never migrated."""
    project = tmp_path / "projects" / "legacy"
    project.mkdir(parents=True)
    conn = sqlite3.connect(project / "project.db")
    schema_mod.create_v1(conn)
    schema_mod._v2(conn)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("INSERT INTO turns (prompt, status, created_at, updated_at) VALUES ('an old castle', 'done', 1, 1)")
    conn.commit()
    lib = Library(tmp_path / "index.db", [tmp_path / "projects"])
    assert ids(lib.search("castle")) == [("legacy", 1)]
    conn.execute("INSERT INTO turns (prompt, status, created_at, updated_at) VALUES ('a castle gate', 'done', 2, 2)")
    conn.commit()
    conn.close()
    assert ids(lib.search("castle")) == [("legacy", 2), ("legacy", 1)]
    assert sqlite3.connect(project / "project.db").execute("PRAGMA user_version").fetchone()[0] == 2
    assert parse("castle").words


def test_an_index_that_cannot_be_created_is_a_clear_error(root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ProjectError, match="Cannot open the search index"):
        Library(blocker / "index.db", [root])


def test_two_processes_worth_of_indexes_sync_the_same_file_at_once(root: Path, tmp_path: Path) -> None:
    """The studio and a `history --all` in another shell share the index: concurrent first syncs agree."""
    import threading

    path = tmp_path / "index.db"
    results: list[list[tuple[str, int]]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run() -> None:
        try:
            start.wait()
            with Library(path, [root]) as lib:
                results.append(ids(lib.search("")))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 4 and all(r == results[0] for r in results)
    with Library(path, [root]) as lib:
        assert lib.index.conn.execute("SELECT count(*) FROM docs").fetchone()[0] == 3


def test_template_filter_follows_recorded_template_runs(root: Path, tmp_path: Path) -> None:
    """``template:NAME`` finds the turns of that template's recorded runs.  A turn linked to a run's
    cell after it was indexed is found too: linking it moves its revision (a trigger), so the next
    sync re-reads it."""
    lib = Library(tmp_path / "index.db", [root])
    assert ids(lib.search("template:portrait")) == []
    with ProjectStore.open(root, "alpha") as s, s._tx() as c:
        c.execute("INSERT INTO template_runs (id, name, prompt, created_at) VALUES (1, 'Portrait', 'p', 1)")
        c.execute("INSERT INTO template_cells (run_id, idx, prompt) VALUES (1, 0, 'p')")
        c.execute("UPDATE template_cells SET turn_id = 2 WHERE run_id = 1 AND idx = 0")
    result = lib.search("template:portrait")
    assert ids(result) == [("alpha", 2)] and result.notes == []
    assert ids(lib.search("-template:portrait project:alpha")) == [("alpha", 1)]
