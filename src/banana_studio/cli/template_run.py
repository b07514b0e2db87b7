"""``banana-studio template run|runs|grid``: a matrix run from the shell, and its results as a grid.

Before anything is sent the grid, the count and the total cost (and the Batch lane's half price)
are printed; without ``--yes`` the run asks on the terminal, and refuses when stdin is not one.
Image paths go to stdout (one per line), progress to stderr; ``--json`` prints one document at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from banana_studio.cli.exits import EXIT_BUDGET, EXIT_CANCELLED, EXIT_FAILED, EXIT_INVALID, error, warning
from banana_studio.cli.output import print_json
from banana_studio.domain.events import Failed, TurnSaved
from banana_studio.domain.matrix import grid_lines, split_values
from banana_studio.domain.safetext import display_text
from banana_studio.domain.template import TemplateError
from banana_studio.domain.words import plural


def options_from_args(args: argparse.Namespace) -> Any:
    from banana_studio.config import normalize_model_id
    from banana_studio.services.templates import RunOptions

    slots: dict[str, list[str]] = {}
    for item in args.set:
        name, eq, raw = item.partition("=")
        if not eq or not name.strip():
            raise TemplateError(f"--set {item!r}: write SLOT=VALUE[,VALUE...] (or SLOT=@FILE).")
        values = [raw.strip()] if raw.strip().startswith("@") else split_values(raw)
        if not values:
            raise TemplateError(f"--set {item!r} gives no value.")
        slots.setdefault(name.strip(), []).extend(values)
    try:
        seeds = [int(s) for s in split_values(args.seed or "")]
    except ValueError:
        raise TemplateError(f"--seed {args.seed!r}: seeds are whole numbers, comma separated.") from None
    return RunOptions(slots, aspects=split_values(args.aspect or ""), sizes=split_values(args.size or ""),
                      models=[normalize_model_id(m) for m in split_values(args.model or "")], seeds=seeds,
                      parent_id=args.parent)


def print_plan(plan: Any, file: Any = None, *, batch: bool = True) -> None:
    file = file or sys.stderr
    tpl = plan.template
    print(f"Template {tpl.name} ({tpl.origin}: {tpl.path})", file=file)
    print(f"  {display_text(tpl.prompt, one_line=True)}", file=file)
    print(plan.summary(batch=batch), file=file)
    lay = plan.layout
    if lay.x is not None:
        print("", file=file)
        for line in grid_lines(lay, lambda i: f"#{i + 1} ${plan.estimates[i]:.3f}"):
            print(line, file=file)
    for w in plan.warnings:
        print(f"warning: {w}", file=file)
    for p in plan.problems:
        print(f"error: {p}", file=file)


def _plan_json(plan: Any) -> dict[str, Any]:
    lay = plan.layout
    return {"template": plan.template.name, "origin": plan.template.origin, "count": plan.count,
            "estimate": plan.total, "batch_estimate": plan.batch_total, "problems": plan.problems,
            "warnings": plan.warnings,
            "grid": {"x": lay.x.name if lay.x else None, "y": [a.name for a in lay.y], "columns": lay.columns,
                     "rows": lay.rows, "cells": lay.grid},
            "cells": [{"index": c.index, "slots": c.slots, "axes": c.axes, "prompt": c.prompt,
                       "settings": r.settings.to_json(), "estimate": e}
                      for c, r, e in zip(plan.matrix.cells, plan.requests, plan.estimates, strict=True)]}


def _confirm(plan: Any, args: argparse.Namespace, studio: Any) -> int | None:
    """None to go on; else the exit code (budget, refusal, no)."""
    batch = bool(args.batch)
    estimate = plan.batch_total if batch else plan.total
    verdict = studio.check_budget(plan.requests[0].settings, plan.count, batch=batch, estimate=estimate)
    if not verdict.ok and not args.yes:
        print(f"error: {verdict.message}", file=sys.stderr)
        print("Nothing was sent. Pass --yes to send anyway, or raise [budget] in the config.", file=sys.stderr)
        return EXIT_BUDGET
    if args.yes:
        return None
    if not sys.stdin.isatty():
        return error(f"{plural(plan.count, 'request')} for ~${estimate:.3f}: not sent without --yes when stdin "
                     "is not a terminal (nothing to ask). Check the grid with --dry-run, then add --yes.")
    lane = "submit to the Batch API" if batch else "send"
    print(f"{lane.capitalize()} {plural(plan.count, 'request')} for ~${estimate:.3f}"  # stderr: stdout stays paths/JSON
          f"{' (demo: simulated)' if studio.demo else ''}? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = input().strip().lower()
    return None if answer in ("y", "yes") else error("Not sent.", EXIT_FAILED)


def _cell_json(store: Any, cell: Any, turn: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"index": cell.index, "slots": cell.slots, "axes": cell.axes, "prompt": cell.prompt,
                           "turn": cell.turn_id, "status": "not yet" if cell.turn_id is None else "deleted"}
    if turn is not None:
        out.update(status=turn.status, cost=turn.cost, error=turn.error,
                   images=[str(store.abs_path(i.path)) for i in turn.final_images])
    return out


def _grid_report(store: Any, run_id: int, as_json: bool) -> int:
    from banana_studio.services.templates import grid_of_run

    g = grid_of_run(store, run_id)
    if as_json:
        print_json({"run": g.run.id, "template": g.run.name, "lane": g.run.lane, "estimate": g.run.estimate,
                    "axes": [{"name": a.name, "values": list(a.values)} for a in g.run.axes],
                    "grid": {"columns": g.layout.columns, "rows": g.layout.rows, "cells": g.layout.grid},
                    "cells": [_cell_json(store, c, g.turns.get(c.index)) for c in g.run.cells]})
        return 0

    def text(i: int) -> str:
        cell = g.run.cells[i]
        if cell.index not in g.turns:
            return "… not yet"
        t = g.turns[cell.index]
        if t is None:
            return f"#{cell.turn_id} deleted"
        return f"#{t.id} ✓ ${t.cost:.3f}" if t.status == "done" else f"#{t.id} {t.status}"

    print(f"Run {g.run.id}: template {g.run.name}, {plural(len(g.run.cells), 'cell')}, {g.run.lane}")
    for line in grid_lines(g.layout, text):
        print(line)
    return 0


async def _interactive(studio: Any, plan: Any, args: argparse.Namespace) -> int:
    from banana_studio.services.templates import run_interactive

    failed = 0
    done = 0
    run_box: list[Any] = []
    async for v in run_interactive(studio, plan, on_run=run_box.append):
        cell = plan.matrix.cells[v.index]
        ev = v.event
        where = f"[{v.index + 1}/{plan.count}] {cell.title()}"
        if isinstance(ev, TurnSaved):
            turn = ev.turn
            if turn.status == "done":
                done += 1
                price = f"demo: ${turn.cost:.3f} simulated" if turn.is_demo else f"${turn.cost:.3f}"
                if not args.quiet:
                    print(f"{where}: #{turn.id} done, {price}", file=sys.stderr)
                if not args.json:
                    for im in turn.final_images:
                        print(studio.store.abs_path(im.path), flush=True)
            else:
                failed += 1
                print(f"{where}: #{turn.id} {turn.status}: {turn.error}", file=sys.stderr)
        elif isinstance(ev, Failed) and ev.error.kind == "validation":
            failed += 1
            print(f"{where}: not sent: {ev.error.message}", file=sys.stderr)
    run = run_box[0]
    print(f"Run {run.id} of template {plan.template.name}: {done} done, {failed} failed "
          f"(`banana-studio template grid {run.id}{' --demo' if studio.demo else ''}`).", file=sys.stderr)
    if args.json:
        _grid_report(studio.store, run.id, True)
    return 0 if failed == 0 else EXIT_FAILED


async def _batch(studio: Any, plan: Any, args: argparse.Namespace) -> int:
    from banana_studio.cli.batch import ProgressPrinter
    from banana_studio.services.batch import BatchLane
    from banana_studio.services.templates import submit_batch

    run, records = await submit_batch(studio, plan)
    for r in records:
        print(f"Submitted {r.name}: {plural(len(r.items), 'request')}, ~${r.estimate:.3f} at the batch price "
              f"({r.mode_reason or r.input_mode}).", file=sys.stderr)
    if args.no_wait:
        print(f"Run {run.id}: results land with `banana-studio batch --resume`; then "
              f"`banana-studio template grid {run.id}{' --demo' if studio.demo else ''}`.", file=sys.stderr)
        if args.json:
            print_json({"run": run.id, "jobs": [r.name for r in records]})
        return 0
    lane = BatchLane(studio)
    code = 0
    for record in records:
        printer = ProgressPrinter()
        record = await lane.wait(record, interval=max(0.0, args.poll), progress=printer)
        printer.finish()
        if not record.imported or any(i.status != "done" for i in record.items):
            code = EXIT_FAILED
    await asyncio.to_thread(_grid_report, studio.store, run.id, bool(args.json))
    return code


def _read_runs(args: argparse.Namespace, cfg: Any, project_dir: Path | None) -> int:
    """``runs`` / ``grid``: read the project (never created by reading)."""
    from banana_studio.paths import demo_projects_root
    from banana_studio.store import ProjectStore
    from banana_studio.store.template_runs import list_runs

    root = project_dir or (demo_projects_root(cfg.projects_root()) if getattr(args, "demo", False)
                           else cfg.projects_root())
    with ProjectStore.open(root, getattr(args, "project", None) or cfg.default_project or "default",
                           create=False) as store:
        if args.template_command == "grid":
            return _grid_report(store, args.run, args.json)
        found = list_runs(store)
        if args.json:
            print_json({"runs": [{"id": r.id, "template": r.name, "lane": r.lane, "estimate": r.estimate,
                                  "created_at": r.created_at} for r in found]})
            return 0
        if not found:
            print(f"No template runs in project {store.name!r}.")
        for r in found:
            print(f"{r.id:>4}  {r.name:<24} {r.lane:<11} ~${r.estimate:.3f}  "
                  f"{display_text(r.prompt, one_line=True)}")
    return 0


def run(args: argparse.Namespace) -> int:
    from banana_studio.config import load_config
    from banana_studio.services import Studio
    from banana_studio.services.batch import BatchError
    from banana_studio.services.templates import TemplateLibrary, build_plan
    from banana_studio.store import ProjectError

    cfg = load_config()
    for problem in cfg.problems:
        warning(problem)
    project_dir = Path(args.project_dir).expanduser() if getattr(args, "project_dir", None) else None
    if args.template_command in ("runs", "grid"):
        try:
            return _read_runs(args, cfg, project_dir)
        except ProjectError as exc:
            return error(str(exc))
    try:
        studio = Studio.open(cfg, project=getattr(args, "project", None), project_dir=project_dir,
                             demo=bool(getattr(args, "demo", False)))
    except ProjectError as exc:
        return error(str(exc))
    try:
        tpl = TemplateLibrary.for_store(studio.store).get(args.name)
        plan = build_plan(studio.store, tpl, options_from_args(args), cfg.defaults)
        if args.json and args.dry_run:
            print_json(_plan_json(plan))
        else:
            print_plan(plan, batch=not studio.target.vertex)
        if plan.problems:
            return EXIT_INVALID
        if args.dry_run:
            return 0
        if studio.needs_demo:
            from banana_studio.cli.gen import NO_KEY_MESSAGE

            print(NO_KEY_MESSAGE, file=sys.stderr)
            return EXIT_INVALID
        if studio.demo and studio.demo_into_real:
            return error(f"project {studio.store.name!r} is a real project ({studio.demo_into_real}); demo turns "
                         "belong in the demo projects folder (the default with --demo).")
        if args.batch and studio.target.vertex:  # said before any confirmation or request
            from banana_studio.services.batch import VERTEX_BATCH_TEXT

            return error(VERTEX_BATCH_TEXT)
        too_many = plan.too_many_text(batch=not studio.target.vertex)
        if not args.batch and too_many:
            return error(too_many)
        stop = _confirm(plan, args, studio)
        if stop is not None:
            return stop
        go = _batch if args.batch else _interactive

        async def main() -> int:
            try:
                return await go(studio, plan, args)
            finally:
                await studio.aclose()

        return asyncio.run(main())
    except KeyboardInterrupt:
        print("Interrupted; cells still running were cancelled (their turns say so).", file=sys.stderr)
        return EXIT_CANCELLED
    except BatchError as exc:
        return error(str(exc), exc.exit_code)
    except (TemplateError, ProjectError) as exc:
        return error(str(exc))
    finally:
        studio.store.close()
