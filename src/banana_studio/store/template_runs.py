"""Template runs in the project index: which template made which turns, cell by cell.

A run is recorded (with every cell) before its first request goes out; an interactive cell gets its
turn id the moment that turn is recorded, a batch cell carries the key of its batch request and is
matched with the imported turn later (:func:`link_batch_turns`).  A turn deleted afterwards leaves
its cell pointing at an id that no longer exists: the grid shows it as deleted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from banana_studio.domain.matrix import Axis, Matrix, axes_from_json, axes_to_json
from banana_studio.domain.safetext import valid_text

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.store.project import ProjectStore


@dataclass(slots=True)
class RunCell:
    index: int
    slots: dict[str, str]
    axes: dict[str, str]
    prompt: str
    settings: dict[str, Any]
    turn_id: int | None = None
    batch_job: str = ""
    batch_key: str = ""


@dataclass(slots=True)
class TemplateRun:
    id: int
    name: str
    origin: str
    template_text: str
    prompt: str
    axes: list[Axis]
    lane: str
    estimate: float
    created_at: float
    cells: list[RunCell] = field(default_factory=list)

    @property
    def turn_ids(self) -> list[int]:
        return [c.turn_id for c in self.cells if c.turn_id is not None]


def _loads(text: str, default: Any) -> Any:
    try:
        value = json.loads(text or "")
    except ValueError:
        return default
    return value if isinstance(value, type(default)) else default


def create_run(store: ProjectStore, *, name: str, origin: str, template_text: str, prompt: str, matrix: Matrix,
               lane: str, estimate: float, batch_keys: list[str] | None = None) -> TemplateRun:
    """Record a run and all its cells in one transaction; returns it with its id."""
    now = time.time()
    with store._tx() as c:
        cur = c.execute(
            "INSERT INTO template_runs (name, origin, template_text, prompt, axes_json, lane, estimate, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (valid_text(name), origin, valid_text(template_text), valid_text(prompt),
             json.dumps(axes_to_json(matrix.axes)), lane, float(estimate), now))
        run_id = int(cur.lastrowid or 0)
        keys = batch_keys or [""] * len(matrix.cells)
        c.executemany(
            "INSERT INTO template_cells (run_id, idx, slots_json, axes_json, prompt, settings_json, batch_key) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(run_id, cell.index, json.dumps(cell.slots), json.dumps(cell.axes), valid_text(cell.prompt),
              json.dumps(cell.settings), key) for cell, key in zip(matrix.cells, keys, strict=True)])
    return get_run(store, run_id)


def set_cell_turn(store: ProjectStore, run_id: int, index: int, turn_id: int) -> None:
    with store._tx() as c:
        c.execute("UPDATE template_cells SET turn_id = ? WHERE run_id = ? AND idx = ?", (turn_id, run_id, index))


def set_batch_job(store: ProjectStore, run_id: int, keys: list[str], job: str) -> None:
    with store._tx() as c:
        c.executemany("UPDATE template_cells SET batch_job = ? WHERE run_id = ? AND batch_key = ?",
                      [(job, run_id, k) for k in keys])


def link_batch_turns(store: ProjectStore, run_id: int, turns_by_key: dict[str, int]) -> int:
    """Give batch cells the turns their requests were imported as; returns how many were linked now."""
    if not turns_by_key:
        return 0
    with store._tx() as c:
        rows = c.execute("SELECT idx, batch_key FROM template_cells WHERE run_id = ? AND turn_id IS NULL "
                         "AND batch_key != ''", (run_id,)).fetchall()
        todo = [(turns_by_key[key], run_id, idx) for idx, key in rows if key in turns_by_key]
        c.executemany("UPDATE template_cells SET turn_id = ? WHERE run_id = ? AND idx = ?", todo)
    return len(todo)


def _run_of(row: tuple[Any, ...]) -> TemplateRun:
    rid, name, origin, text, prompt, axes, lane, estimate, created = row
    return TemplateRun(int(rid), str(name), str(origin), str(text), str(prompt), axes_from_json(_loads(axes, [])),
                       str(lane), float(estimate), float(created))


_RUN_COLS = "id, name, origin, template_text, prompt, axes_json, lane, estimate, created_at"


def get_run(store: ProjectStore, run_id: int) -> TemplateRun:
    from banana_studio.store.names import ProjectError

    rows = store._query(f"SELECT {_RUN_COLS} FROM template_runs WHERE id = ?", (run_id,))
    if not rows:
        raise ProjectError(f"Template run {run_id} does not exist in project {store.name!r}.")
    run = _run_of(rows[0])
    for idx, slots, axes, prompt, settings, turn_id, job, key in store._query(
            "SELECT idx, slots_json, axes_json, prompt, settings_json, turn_id, batch_job, batch_key "
            "FROM template_cells WHERE run_id = ? ORDER BY idx", (run_id,)):
        run.cells.append(RunCell(int(idx), _loads(slots, {}), _loads(axes, {}), str(prompt), _loads(settings, {}),
                                 int(turn_id) if turn_id is not None else None, str(job), str(key)))
    return run


def list_runs(store: ProjectStore, limit: int = 100) -> list[TemplateRun]:
    """Newest first, without their cells."""
    rows = store._query(f"SELECT {_RUN_COLS} FROM template_runs ORDER BY id DESC LIMIT ?", (int(limit),))
    return [_run_of(r) for r in rows]


def run_of_turn(store: ProjectStore, turn_id: int) -> tuple[int, int] | None:
    """(run id, cell index) of the run that made ``turn_id``, or None."""
    rows = store._query("SELECT run_id, idx FROM template_cells WHERE turn_id = ? ORDER BY run_id DESC LIMIT 1",
                        (int(turn_id),))
    return (int(rows[0][0]), int(rows[0][1])) if rows else None


def unlinked_batch_runs(store: ProjectStore) -> list[int]:
    """Runs with batch cells still waiting for their imported turns."""
    rows = store._query("SELECT DISTINCT run_id FROM template_cells WHERE turn_id IS NULL AND batch_key != ''")
    return [int(r[0]) for r in rows]


def delete_run(store: ProjectStore, run_id: int) -> None:
    """Forget a run whose requests never went out (its batch job could not be created)."""
    with store._tx() as c:
        c.execute("DELETE FROM template_cells WHERE run_id = ?", (run_id,))
        c.execute("DELETE FROM template_runs WHERE id = ?", (run_id,))


def turns_of_template(store: ProjectStore, name: str) -> list[int]:
    """Turns made by runs of template ``name`` (for a ``template:NAME`` search filter), oldest first."""
    rows = store._query("SELECT DISTINCT c.turn_id FROM template_cells c JOIN template_runs r ON r.id = c.run_id "
                        "WHERE r.name = ? AND c.turn_id IS NOT NULL ORDER BY c.turn_id", (name,))
    return [int(r[0]) for r in rows]
