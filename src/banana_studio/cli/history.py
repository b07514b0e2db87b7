"""``banana-studio history`` / ``export`` / ``projects``: look at projects from the shell."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from banana_studio.cli.exits import EXIT_FAILED, EXIT_INVALID, error, warning
from banana_studio.cli.output import print_json
from banana_studio.config import Config, load_config
from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural
from banana_studio.store import ProjectError, ProjectStore, TurnNode, list_projects, recent_turns

STATUS_MARK = {"done": "done", "failed": "FAIL", "cancelled": "cncl", "interrupted": "intr",
               "pending": "pend", "running": "run."}


def _root(args: argparse.Namespace, cfg: Config) -> Path:
    d = getattr(args, "project_dir", None)
    if d:
        return Path(d).expanduser()
    if getattr(args, "demo", False):
        from banana_studio.paths import demo_projects_root

        return demo_projects_root(cfg.projects_root())
    return cfg.projects_root()


def _short_model(model: str) -> str:
    return model.removeprefix("gemini-").removesuffix("-preview") or "?"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _safe(text: str) -> str:
    """One printable line (see :func:`banana_studio.domain.safetext.display_text`)."""
    return display_text(text, one_line=True)


def _line(n: TurnNode, depth: int = 0) -> str:
    star = "★" if n.starred else " "
    prompt = _safe(n.prompt)
    label = f"[{_safe(n.label)}] " if n.label else ""
    model = f"{_short_model(n.model)}/{n.image_size}" if n.image_size else _short_model(n.model)
    demo = "DEMO " if getattr(n, "is_demo", False) else ""
    return (f"{n.id:>5} {STATUS_MARK.get(n.status, n.status[:4]):<4} {star} {_when(n.created_at)} "
            f"{model:<22} ${n.cost:6.3f}  {'  ' * depth}{demo}{label}{prompt}")


def tree_order(nodes: list[TurnNode]) -> list[tuple[TurnNode, int]]:
    """Depth-first (pre-order) listing of ``nodes`` with their depth; orphans are treated as roots."""
    by_id = {n.id: n for n in nodes}
    kids: dict[int | None, list[TurnNode]] = {}
    for n in nodes:
        parent = n.parent_id if n.parent_id in by_id else None
        kids.setdefault(parent, []).append(n)
    out: list[tuple[TurnNode, int]] = []
    stack: list[tuple[TurnNode, int]] = [(n, 0) for n in reversed(kids.get(None, []))]
    while stack:
        node, depth = stack.pop()
        out.append((node, depth))
        stack.extend((c, depth + 1) for c in reversed(kids.get(node.id, [])))
    return out


def _open(args: argparse.Namespace, cfg: Config) -> ProjectStore:
    name = getattr(args, "project", None) or cfg.default_project
    store = ProjectStore.open(_root(args, cfg), name, create=False)
    store.spending_roots = list(dict.fromkeys([cfg.projects_root(), store.path.parent]))  # one "today"
    return store


def _history(args: argparse.Namespace, cfg: Config) -> int:
    if getattr(args, "all", False) or getattr(args, "query", None):
        from banana_studio.cli.library import run_history_query

        return run_history_query(args, cfg, _root(args, cfg))
    limit = max(1, int(args.limit))
    with _open(args, cfg) as store:
        if args.search or args.starred:
            rows = [(n, 0) for n in store.search(args.search or "", limit=limit, starred=args.starred)]
        else:
            nodes = store.tree_index()
            keep = {n.id for n in sorted(nodes, key=lambda n: n.id)[-limit:]}
            rows = [(n, d) for n, d in tree_order(nodes) if n.id in keep]
        if args.json:
            print_json({"project": store.name, "uuid": store.uuid,
                        "turns": [{**asdict(n), "depth": d} for n, d in rows]}, indent=2)
            return 0
        if not rows:
            filtered = bool(args.search or args.starred)
            print("No matching turns." if filtered else f"Project {store.name!r} has no turns yet.")
            return 0
        for n, d in rows:
            print(_line(n, d))
        costs = store.costs()
        demo = f" · demo: ${costs['demo_project']:.3f} simulated" if costs.get("demo_project") else ""
        print(f"-- {plural(len(rows), 'turn')} shown · project {store.name} · total ${costs['project']:.3f} "
              f"· today ${costs['today']:.3f} (all projects){demo}")
    return 0


def _export(args: argparse.Namespace, cfg: Config) -> int:
    try:
        turn_id = int(str(args.turn).lstrip("#"))
    except ValueError:
        return error(f"the turn must be a number, got {args.turn!r}.")
    with _open(args, cfg) as store:
        out = store.export_branch(turn_id, Path(args.output))
    print(f"Exported branch to turn {turn_id}: {out}")
    if args.storyboard:
        from banana_studio.store.storyboard import write_storyboard

        for p in write_storyboard(out):
            print(f"Storyboard: {p}")
    return 0


def _demo_note(args: argparse.Namespace, cfg: Config) -> str:
    """For the real projects folder: where demo play went, if anywhere ('' otherwise)."""
    if getattr(args, "project_dir", None) or getattr(args, "demo", False):
        return ""
    from banana_studio.paths import demo_projects_root

    demo_root = demo_projects_root(cfg.projects_root())
    n = len(list_projects(demo_root)) if demo_root.is_dir() else 0
    return (f"Demo mode keeps its own {plural(n, 'project')} in {demo_root} (list them with "
            "`banana-studio projects --demo`).") if n else ""


def _projects(args: argparse.Namespace, cfg: Config) -> int:
    root = _root(args, cfg)
    infos = list_projects(root)
    note = _demo_note(args, cfg)
    if not infos:
        print(f"No projects in {root}.")
        if note:
            print(note)
        return 0
    print(f"Projects in {root}:")
    for info in infos:
        if info.error:
            print(f"  {info.name:<24} (unreadable: {info.error})")
        else:
            demo = f"  (demo: ${info.demo_cost:.3f} simulated)" if info.demo_cost else ""
            turns = plural(info.n_turns, "turn")
            print(f"  {info.name:<24} {turns:>11}  ${info.cost:8.3f}  updated {_when(info.updated_at)}{demo}")
    if note:
        print(note)
    if args.recent:
        print(f"\nMost recent {plural(args.recent, 'turn')}:")
        for info, n in recent_turns(root, args.recent):
            print(f"  {info.name:<16}{_line(n)}")
    return 0


def _tag(args: argparse.Namespace, cfg: Config) -> int:
    from banana_studio.cli.library import run_tag

    with _open(args, cfg) as store:
        return run_tag(args, store)


def run(args: argparse.Namespace) -> int:
    cfg = load_config()
    for problem in cfg.problems:
        warning(problem)
    handlers: dict[str, Any] = {"history": _history, "export": _export, "projects": _projects, "tag": _tag}
    try:
        return int(handlers[args.command](args, cfg))
    except ProjectError as exc:  # an unknown turn, an unreadable project: invalid input (2)
        return error(str(exc), EXIT_INVALID)
    except BrokenPipeError:
        raise  # `history | head -1`: the reader went away; main() stops quietly, like recipe
    except OSError as exc:
        return error(f"cannot write {getattr(exc, 'filename', '') or 'the export'}: {exc.strerror or exc}.",
                     EXIT_FAILED)
