"""Templates and matrix runs: the one place the CLI and the studio plan, price and run them.

    lib = TemplateLibrary.for_store(studio.store)
    tpl = lib.get("portrait")
    plan = await plan_run(studio, tpl, RunOptions({"subject": ["fox", "owl"]}, aspects=["1:1", "16:9"]),
                          base=config.defaults)
    plan.total, plan.batch_total, plan.problems      # shown before anything is sent
    async for v in run_interactive(studio, plan): ...   # parallel, like variations; or:
    run, records = await submit_batch(studio, plan)     # one Batch API job per model (half price)

Every run is recorded in the project (:mod:`banana_studio.store.template_runs`) before its first
request goes out.  Sync store/file work runs in threads; no Textual, no SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio import paths
from banana_studio.domain.events import TurnStarted
from banana_studio.domain.matrix import Layout, Matrix, expand, layout
from banana_studio.domain.settings import GenerationSettings, validate_settings
from banana_studio.domain.template import (
    Template,
    TemplateError,
    TemplateRef,
    escape_braces,
    parse_template,
    render_template,
)
from banana_studio.domain.turn import Reference
from banana_studio.services.budget import request_estimate
from banana_studio.services.turn_request import GenerateRequest
from banana_studio.services.variations import VariationEvent, generate_many
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store import template_runs as runs
from banana_studio.store import templates as files
from banana_studio.store.batch_jobs import load_records
from banana_studio.store.templates import PROJECT, USER, Entry

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.domain.batch_job import BatchRecord
    from banana_studio.services.studio import Studio

CONCURRENCY = 4
"""Interactive cells in flight at once (the rest wait their turn)."""
MAX_INTERACTIVE = 100
"""Cells of one interactive run at most (each is a live stream and a picture on the grid); bigger
matrices go to the Batch lane, which takes up to the batch limit at half the price."""
KIND = "template"

__all__ = ["KIND", "PROJECT", "USER", "Entry", "RunOptions", "RunPlan", "TemplateError", "TemplateLibrary",
           "grid_of_run", "plan_run", "run_for_turn", "run_interactive", "submit_batch", "sync_batch_cells"]


class TemplateLibrary:
    """The user's template folder plus the open project's ``templates/`` (the project wins)."""

    def __init__(self, project_path: Path | None, user_dir: Path | None = None) -> None:
        self.project_path = project_path
        self.user_dir = user_dir or paths.templates_dir()

    @classmethod
    def for_store(cls, store: ProjectStore | None) -> TemplateLibrary:
        return cls(store.path if store is not None else None)

    def entries(self) -> list[Entry]:
        return files.list_entries(self.project_path, self.user_dir)

    def get(self, name: str) -> Template:
        return files.find(name, self.project_path, self.user_dir)

    def locate(self, name: str) -> Path:
        """The file of template ``name`` even when it does not parse (to edit it)."""
        return files.locate(name, self.project_path, self.user_dir)[1]

    def path_for(self, name: str, origin: str = USER) -> Path:
        return files.path_for(name, origin, self.project_path, self.user_dir)

    def save(self, name: str, text: str, origin: str = USER, *, overwrite: bool = False) -> Path:
        """Write ``text`` as template ``name`` after checking that it parses."""
        path = self.path_for(name, origin)
        parse_template(text, name, source=str(path))
        return files.write(path, text, overwrite=overwrite)

    def from_turn(self, store: ProjectStore, turn_id: int, name: str, origin: str = USER, *,
                  overwrite: bool = False) -> Path:
        """Save turn ``turn_id``'s prompt, settings and references as a template (no slots yet: the
        prompt's braces are kept literal; put ``{slot}`` where the variable parts go)."""
        return self.save(name, template_text_of_turn(store, turn_id), origin, overwrite=overwrite)


def template_text_of_turn(store: ProjectStore, turn_id: int) -> str:
    turn = store.get_turn(turn_id)
    s = turn.settings
    settings: dict[str, Any] = {"model": s.model, "aspect_ratio": s.aspect_ratio, "image_size": s.image_size}
    if s.system_instruction:
        settings["system_instruction"] = s.system_instruction
    if s.seed is not None:
        settings["seed"] = s.seed
    if s.google_search:
        settings["google_search"] = True
    if s.thinking_level:
        settings["thinking_level"] = s.thinking_level
    # References a @name in the prompt brought stay out: the prompt keeps the @name, which expands again
    # when the template runs (listing its images too would send them twice).
    refs = [TemplateRef(path=str(store.abs_path(r.path)), sha256=r.sha256) for r in turn.references
            if not r.named]
    return render_template(escape_braces(turn.prompt), settings=settings, references=refs,
                           note=f"Made from turn #{turn.id} of project {store.name}.")


@dataclass(slots=True)
class RunOptions:
    slot_values: dict[str, list[str]] = field(default_factory=dict)
    aspects: list[str] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    parent_id: int | None = None
    """Continue every cell from this turn (siblings under it); None: new root turns."""


@dataclass(slots=True)
class RunPlan:
    template: Template
    matrix: Matrix
    requests: list[GenerateRequest]
    estimates: list[float]
    batch_estimates: list[float]
    problems: list[str] = field(default_factory=list)
    """Fatal: nothing may be sent while there are any."""
    warnings: list[str] = field(default_factory=list)
    options: RunOptions = field(default_factory=RunOptions)

    @property
    def count(self) -> int:
        return len(self.requests)

    @property
    def total(self) -> float:
        return round(sum(self.estimates), 6)

    @property
    def batch_total(self) -> float:
        return round(sum(self.batch_estimates), 6)

    @property
    def interactive_problem(self) -> str:
        """Why this plan cannot run interactively ("" = it can)."""
        return self.too_many_text(batch=True)

    def too_many_text(self, *, batch: bool) -> str:
        """Why this plan cannot run interactively; ``batch``: the target has the Batch lane (not Vertex AI)."""
        if self.count <= MAX_INTERACTIVE:
            return ""
        if not batch:
            return (f"{self.count} cells are more than {MAX_INTERACTIVE} at once: use fewer values (batch jobs need "
                    "the Gemini API, not Vertex AI).")
        return (f"{self.count} cells are more than {MAX_INTERACTIVE} at once: submit them to the Batch lane "
                "(half price) or use fewer values.")

    @property
    def layout(self) -> Layout:
        return layout(self.matrix.axes, len(self.matrix.cells))

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(r.settings.model for r in self.requests))

    def summary(self, *, batch: bool = True) -> str:
        """``4 requests (2 subject × 2 aspect) · est. $0.536 · Batch lane $0.268 (half price)``; without
        ``batch`` (Vertex AI) the Batch lane is named as unavailable instead of priced."""
        n = self.count
        shape = " × ".join(f"{len(a.values)} {a.name}" for a in self.matrix.varying)
        lane = (f"Batch lane ${self.batch_total:.3f} (half price)" if batch else
                "no Batch lane (it needs the Gemini API)")
        return f"{n} request{'s' if n != 1 else ''}{f' ({shape})' if shape else ''} · est. ${self.total:.3f} · {lane}"


def _slot_values(tpl: Template, given: dict[str, list[str]]) -> dict[str, list[str]]:
    """``@file`` values (in the template or given) replaced by the file's lines."""
    base = tpl.path.parent if tpl.path is not None else Path.cwd()
    out: dict[str, list[str]] = {}
    for name in tpl.slot_names:
        given_values = given.get(name)
        values = given_values or tpl.slots.get(name, [])
        expanded: list[str] = []
        for v in values:
            if v.startswith("@") and len(v) > 1:
                expanded += files.read_values(Path(v[1:]), None if given_values else base)
            else:
                expanded.append(v)
        if expanded:
            out[name] = expanded
    out.update({k: v for k, v in given.items() if k not in out})  # unknown slots: expand() names them
    return out


def _template_refs(store: ProjectStore, tpl: Template) -> list[Path | Reference]:
    base = tpl.path.parent if tpl.path is not None else Path.cwd()
    out: list[Path | Reference] = []
    for r in tpl.references:
        if r.sha256:
            found = sorted((store.path / "refs").glob(f"{r.sha256}.*"))
            if found:
                out.append(found[0])
                continue
            if not r.path:
                raise TemplateError(f"Reference {r.sha256[:12]}… of template {tpl.name!r} is not in project "
                                    f"{store.name!r}; give its file as path = \"...\".")
        p = Path(os.path.expanduser(r.path))
        out.append(p if p.is_absolute() else base / p)
    return out


def build_plan(store: ProjectStore, tpl: Template, options: RunOptions, base: GenerationSettings) -> RunPlan:
    """The requests, costs and problems of a run (sync: reads value files; no references copied yet)."""
    matrix = expand(tpl, _slot_values(tpl, options.slot_values), aspects=options.aspects, sizes=options.sizes,
                    models=options.models, seeds=options.seeds)
    settings0 = base.copy(**tpl.settings)
    refs = _template_refs(store, tpl)
    requests: list[GenerateRequest] = []
    estimates: list[float] = []
    batch: list[float] = []
    problems: list[str] = []
    warnings = list(tpl.warnings)
    for cell in matrix.cells:
        st = settings0.copy(**cell.settings)
        for p in validate_settings(st):
            text = f"{cell.title()}: {p.message}" if matrix.varying else p.message
            (problems if p.fatal else warnings).append(text)
        requests.append(GenerateRequest(prompt=cell.prompt, parent_id=options.parent_id, references=list(refs),
                                        settings=st, kind=KIND))
        estimates.append(request_estimate(st, 1, len(refs)))
        batch.append(request_estimate(st, 1, len(refs), batch=True))
    for r in refs:
        if isinstance(r, Path) and not r.is_file():
            problems.append(f"Reference {r} of template {tpl.name!r} does not exist.")
    return RunPlan(tpl, matrix, requests, estimates, batch, list(dict.fromkeys(problems)),
                   list(dict.fromkeys(warnings)), options)


async def plan_run(studio: Studio, tpl: Template, options: RunOptions, base: GenerationSettings) -> RunPlan:
    return await asyncio.to_thread(build_plan, studio.store, tpl, options, base)


async def _resolved(studio: Studio, plan: RunPlan) -> list[GenerateRequest]:
    """The requests with their references copied into the project once (not once per cell)."""
    refs: list[Path | Reference] = []
    for r in plan.requests[0].references if plan.requests else []:
        refs.append(r if isinstance(r, Reference) else await asyncio.to_thread(studio.store.add_reference, Path(r)))
    return [replace(r, references=list(refs)) for r in plan.requests]


def _check(plan: RunPlan) -> None:
    if plan.problems:
        raise TemplateError("Nothing was sent; fix these first:\n" + "\n".join(plan.problems[:10]))
    if not plan.requests:
        raise TemplateError("The matrix has no cells.")


async def _record(studio: Studio, plan: RunPlan, lane: str, keys: list[str] | None = None) -> runs.TemplateRun:
    tpl = plan.template
    estimate = plan.batch_total if lane == "batch" else plan.total
    return await asyncio.to_thread(runs.create_run, studio.store, name=tpl.name, origin=tpl.origin,
                                   template_text=tpl.text, prompt=tpl.prompt, matrix=plan.matrix, lane=lane,
                                   estimate=estimate, batch_keys=keys)


async def run_interactive(studio: Studio, plan: RunPlan, *, concurrency: int = CONCURRENCY,
                          on_run: Any = None) -> AsyncIterator[VariationEvent]:
    """Record the run, then send its cells in parallel (``concurrency`` at a time); yields every cell's
    events tagged with its index (as variations do).  ``on_run(run)`` is called once it is recorded."""
    _check(plan)
    if plan.interactive_problem:
        raise TemplateError(plan.interactive_problem)
    try:
        requests = await _resolved(studio, plan)
    except ProjectError as exc:
        raise TemplateError(str(exc)) from None
    run = await _record(studio, plan, "interactive")
    if on_run is not None:
        on_run(run)
    async with contextlib.aclosing(generate_many(studio, requests, concurrency=concurrency)) as events:
        async for v in events:
            if isinstance(v.event, TurnStarted):
                await asyncio.to_thread(runs.set_cell_turn, studio.store, run.id, v.index, int(v.event.turn.id))
            yield v


async def submit_batch(studio: Studio, plan: RunPlan, *, display_name: str = ""
                       ) -> tuple[runs.TemplateRun, list[BatchRecord]]:
    """Record the run, then submit its cells as Batch API jobs (one per model, half price).  Each cell
    is matched with its turn once the job's results are imported (:func:`sync_batch_cells`)."""
    from banana_studio.services.batch import BatchLane, BatchPrompt

    _check(plan)
    try:
        requests = await _resolved(studio, plan)
    except ProjectError as exc:
        raise TemplateError(str(exc)) from None
    token = uuid.uuid4().hex[:8]
    keys = [f"tpl-{token}-{i}" for i in range(len(requests))]
    run = await _record(studio, plan, "batch", keys)
    lane = BatchLane(studio)
    records: list[BatchRecord] = []
    for model in plan.models:
        idx = [i for i, r in enumerate(requests) if r.settings.model == model]
        prompts = [BatchPrompt(requests[i].prompt, requests[i].settings, list(requests[i].references),  # type: ignore[arg-type]
                               key=keys[i], parent_id=requests[i].parent_id) for i in idx]
        name = display_name or f"template {plan.template.name} run {run.id}"
        try:
            record = await lane.submit(prompts, display_name=name + (f" ({model})" if len(plan.models) > 1 else ""))
        except BaseException:
            if not records:  # nothing went out: the run is not kept
                with contextlib.suppress(ProjectError):
                    await asyncio.to_thread(runs.delete_run, studio.store, run.id)
            raise
        await asyncio.to_thread(runs.set_batch_job, studio.store, run.id, [keys[i] for i in idx], record.name)
        records.append(record)
    return run, records


def sync_batch_cells(store: ProjectStore, run: runs.TemplateRun) -> runs.TemplateRun:
    """Link a batch run's cells with the turns their requests were imported as (sync)."""
    if not any(c.batch_key and c.turn_id is None for c in run.cells):
        return run
    by_key = {i.key: int(i.turn_id) for r in load_records(store.path) for i in r.items if i.turn_id is not None}
    if runs.link_batch_turns(store, run.id, by_key):
        return runs.get_run(store, run.id)
    return run


def run_for_turn(store: ProjectStore, turn_id: int) -> tuple[int, int] | None:
    """(run id, cell index) of the template run that made ``turn_id`` (batch runs linked first)."""
    found = runs.run_of_turn(store, turn_id)
    if found is None:
        for run_id in runs.unlinked_batch_runs(store):
            sync_batch_cells(store, runs.get_run(store, run_id))
        found = runs.run_of_turn(store, turn_id)
    return found


@dataclass(slots=True)
class RunGrid:
    run: runs.TemplateRun
    layout: Layout
    turns: dict[int, Any]
    """Cell index → its Turn (absent: not sent / not imported yet; None: deleted since)."""


def grid_of_run(store: ProjectStore, run_id: int) -> RunGrid:
    """A run with its X/Y layout and the turn of each cell (sync)."""
    run = sync_batch_cells(store, runs.get_run(store, run_id))
    turns: dict[int, Any] = {}
    for c in run.cells:
        if c.turn_id is None:
            continue
        try:
            turns[c.index] = store.get_turn(c.turn_id)
        except ProjectError:
            turns[c.index] = None
    return RunGrid(run, layout(run.axes, len(run.cells)), turns)
