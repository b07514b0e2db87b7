"""Store read queries built for 100k-turn projects: results, and query plans that stay bounded by
the rows returned (no per-query aggregate over every image, index walks for LIMIT queries)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore, queries
from banana_studio.store.schema import create_v1, migrate


def _bulk(store: ProjectStore, n: int, *, starred_every: int = 0, word: str = "fox") -> None:
    """``n`` chained turns inserted with SQL (fast); every ``starred_every``-th one starred."""
    with store._tx() as c:
        for i in range(1, n + 1):
            parent = i - 1 if i > 1 else None
            star = 1 if starred_every and i % starred_every == 0 else 0
            c.execute("INSERT INTO turns (id, parent_id, prompt, status, starred, created_at, updated_at) "
                      "VALUES (?, ?, ?, 'done', ?, ?, ?)", (i, parent, f"{word} number {i}", star, float(i), float(i)))
            c.execute("INSERT INTO images (turn_id, kind, idx, sha256, mime, path) VALUES (?, 'final', 0, 'x', "
                      "'image/jpeg', 'p')", (i,))
            if i % 3 == 0:
                c.execute("INSERT INTO images (turn_id, kind, idx, sha256, mime, path) VALUES (?, 'final', 1, 'y', "
                          "'image/jpeg', 'q')", (i,))
                c.execute("INSERT INTO images (turn_id, kind, idx, sha256, mime, path) VALUES (?, 'draft', 0, 'z', "
                          "'image/jpeg', 'r')", (i,))


@pytest.fixture
def store(tmp_path: Path) -> ProjectStore:
    s = ProjectStore.open(tmp_path, "q")
    yield s
    s.close()


def _plan(store: ProjectStore, sql: str, params: tuple[object, ...]) -> str:
    return " | ".join(r[-1] for r in store._conn.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_node_rows_count_final_images_without_aggregating_the_project(store: ProjectStore) -> None:
    _bulk(store, 12)
    nodes = {n.id: n for n in store.tree_index()}
    assert nodes[3].n_final == 2 and nodes[4].n_final == 1
    assert [n.id for n in store.recent(3)] == [12, 11, 10]
    plan = _plan(store, queries.RECENT_SQL, (50,))
    assert "MATERIALIZE" not in plan and "GROUP BY" not in plan, plan
    assert "INDEX turns_created" in plan and "COVERING INDEX images_turn_kind" in plan, plan


def test_search_walks_the_full_text_index_newest_first(store: ProjectStore) -> None:
    _bulk(store, 300)
    hits = store.search("fox", limit=5)
    assert [n.id for n in hits] == [300, 299, 298, 297, 296]
    plan = _plan(store, queries.search_sql(fts=True, starred=False), (queries.fts_match(["fox"]), 5))
    # ORDER BY rowid DESC is handed to FTS5 (idxNum flag), so it stops at the LIMIT.
    assert "VIRTUAL TABLE INDEX 192" in plan or "VIRTUAL TABLE INDEX 64" in plan, plan
    assert [n.id for n in store.search("", limit=2)] == [300, 299]


def test_starred_search_pages_through_hits_in_order(store: ProjectStore) -> None:
    _bulk(store, 1200, starred_every=7)  # more hits than one page of the walk
    expected = [i for i in range(1200, 0, -1) if i % 7 == 0]
    assert [n.id for n in store.search("fox", limit=150, starred=True)] == expected[:150]
    assert [n.id for n in store.search("fox", limit=1000, starred=True)] == expected
    assert [n.id for n in store.search("", limit=3, starred=True)] == expected[:3]
    assert [n.id for n in store.search("number 14", starred=True)] == [147, 140, 14]
    assert store.search("nomatch", starred=True) == []


def test_skeleton_and_nodes_for(store: ProjectStore) -> None:
    _bulk(store, 5)
    with store._tx() as c:
        c.execute("INSERT INTO turns (id, parent_id, prompt, status, created_at, updated_at) "
                  "VALUES (9, 2, 'fork', 'done', 9, 9)")
    ids, parents = store.tree_skeleton()
    assert ids == [1, 2, 3, 4, 5, 9] and parents == [None, 1, 2, 3, 4, 2]
    rows = store.nodes_for([9, 3, 3, 42])
    assert [(n.id, n.prompt, n.n_final) for n in rows] == [(3, "fox number 3", 2), (9, "fork", 0)]
    assert len(store.nodes_for(list(range(1, 1200)))) == 6  # batched IN lists


def test_costs_read_kept_totals_and_todays_index_range(store: ProjectStore) -> None:
    t = store.create_turn(None, "a", GenerationSettings(), [], user_content("a"))
    store.complete_turn(t.id, model_content=Content("model", [Part(text="x")]), status="done")
    with store._tx() as c:
        c.execute("UPDATE turns SET cost = 0.25 WHERE id = ?", (t.id,))
        c.execute("INSERT INTO turns (id, parent_id, prompt, status, created_at, updated_at, cost, target) "
                  "VALUES (50, NULL, 'old', 'done', 1, 1, 1.5, 'gemini-api'), "
                  "(51, NULL, 'demo', 'done', 2, 2, 0.75, 'local')")
    costs = store.costs(t.id)
    assert costs["project"] == pytest.approx(1.75) and costs["today"] == pytest.approx(0.25)
    assert costs["demo_project"] == pytest.approx(0.75) and costs["demo_today"] == 0
    with store._tx() as c:  # the totals follow deletes and re-targeting too
        c.execute("DELETE FROM turns WHERE id = 50")
        c.execute("UPDATE turns SET target = 'gemini-api' WHERE id = 51")
    costs = store.costs(t.id)
    assert costs["project"] == pytest.approx(1.0) and costs["demo_project"] == 0
    plan = _plan(store, "SELECT coalesce(sum(cost), 0) FROM turns WHERE created_at >= ?", (0.0,))
    assert "COVERING INDEX turns_created_target_cost" in plan, plan


def test_kept_totals_are_rebuilt_when_a_migration_dropped_their_triggers(tmp_path: Path) -> None:
    s = ProjectStore.open(tmp_path, "t")
    t = s.create_turn(None, "a", GenerationSettings(), [], user_content("a"))
    with s._tx() as c:
        c.execute("DROP TRIGGER cost_totals_update")
        c.execute("UPDATE turns SET cost = 2.5 WHERE id = ?", (t.id,))
    assert s.costs()["project"] == pytest.approx(2.5)  # not trusted without its triggers: summed
    s.close()
    with ProjectStore.open(tmp_path, "t") as s:
        assert s.costs()["project"] == pytest.approx(2.5)
        assert s._query("SELECT total FROM cost_totals WHERE local = 0")[0][0] == pytest.approx(2.5)


def test_query_indexes_are_added_to_an_existing_project_without_a_schema_bump(tmp_path: Path) -> None:
    project = tmp_path / "old"
    project.mkdir()
    conn = sqlite3.connect(project / "project.db")
    create_v1(conn)
    version = migrate(conn, 1)
    conn.commit()
    conn.close()
    ProjectStore.open_path(project).close()
    ProjectStore.open_path(project).close()  # idempotent
    conn = sqlite3.connect(project / "project.db")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert conn.execute("PRAGMA user_version").fetchone()[0] == version
    conn.close()
    assert {"images_turn_kind", "turns_starred", "turns_created_target_cost", "turns_parent_id",
            "turns_live"} <= names


def test_budget_live_turn_lookup_uses_the_live_index(tmp_path: Path) -> None:
    """Every budget check looks up each project's running turns: through the partial index, not a scan."""
    from banana_studio.store.ledger import LIVE_SQL, peek_spending

    with ProjectStore.open(tmp_path, "t") as store:
        live = store.create_turn(None, "a", GenerationSettings(), [], user_content("a"))
        plan = _plan(store, f"SELECT settings_json FROM turns WHERE {LIVE_SQL} AND target != 'local'", ())
        assert "USING INDEX turns_live" in plan, plan
        db = store.path / "project.db"
        assert len(peek_spending(db, 0.0).in_flight) == 1  # the same query finds the pending turn
        store.set_status(live.id, "failed", error="x")
        assert peek_spending(db, 0.0).in_flight == []
