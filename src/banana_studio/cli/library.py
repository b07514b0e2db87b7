"""``banana-studio history [--all] QUERY`` (the query language, across projects) and
``banana-studio tag TURN... --add x --remove y``."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from banana_studio.cli.exits import EXIT_INVALID, error
from banana_studio.cli.output import print_json
from banana_studio.config import Config
from banana_studio.domain.query import QueryError, parse
from banana_studio.domain.safetext import display_text
from banana_studio.domain.tags import TagError
from banana_studio.domain.words import plural
from banana_studio.services.library import LibraryHit, LibraryService, edit_tags_now

STATUS_MARK = {"done": "done", "failed": "FAIL", "cancelled": "cncl", "interrupted": "intr",
               "pending": "pend", "running": "run."}


def _safe(text: str) -> str:
    return display_text(text, one_line=True)


def hit_json(hit: LibraryHit) -> dict[str, Any]:
    out = asdict(hit)
    out["id"] = hit.turn_id
    out["is_demo"] = hit.is_demo
    return out


def hit_line(hit: LibraryHit) -> str:
    star = "★" if hit.starred else " "
    when = datetime.fromtimestamp(hit.created_at).strftime("%Y-%m-%d %H:%M") if hit.created_at else "-"
    model = hit.model.removeprefix("gemini-").removesuffix("-preview") or "?"
    model = f"{model}/{hit.image_size}" if hit.image_size else model
    tags = "".join(f"#{_safe(t)} " for t in hit.tags)
    label = f"[{_safe(hit.label)}] " if hit.label else ""
    demo = "DEMO " if hit.is_demo else ""
    return (f"{_safe(hit.project)[:16]:<16} {hit.turn_id:>5} {STATUS_MARK.get(hit.status, hit.status[:4]):<4} "
            f"{star} {when} {model:<22} ${hit.cost:6.3f}  {demo}{label}{tags}{_safe(hit.prompt)}")


def query_text(args: argparse.Namespace) -> str:
    """The query words, plus ``--search`` and ``--starred`` (with ``--all`` they would be ignored)."""
    parts = list(getattr(args, "query", None) or [])
    if getattr(args, "search", None):
        parts.append(args.search)
    if getattr(args, "starred", False):
        parts.append("starred")
    return " ".join(parts)


def run_history_query(args: argparse.Namespace, cfg: Config, root: Path) -> int:
    """``history --all [QUERY]`` across every project under ``root``; ``history QUERY`` in one project."""
    text = query_text(args)
    try:
        query = parse(text)
    except QueryError as exc:
        return error(f"{exc.message}\n{exc.pointer(text)}", EXIT_INVALID)
    limit = max(1, int(args.limit))
    project_path = None
    if not getattr(args, "all", False):
        name = getattr(args, "project", None) or cfg.default_project
        project_path = root / name
        if not (project_path / "project.db").is_file():
            return error(f"No project {name!r} in {root}.", EXIT_INVALID)
    service = LibraryService([root])
    try:
        result = service.search_now(query, limit=limit, project_path=project_path)
    finally:
        service.close()
    if args.json:
        print_json({"query": text, "all_projects": project_path is None, "root": str(root),
                    "turns": [hit_json(h) for h in result.hits], "more": result.more, "notes": result.notes},
                   indent=2)
        return 0
    for note in result.notes:
        print(f"note: {note}")
    if not result.hits:
        print("No matching turns.")
        return 0
    for hit in result.hits:
        print(hit_line(hit))
    more = f" (more match: --limit {limit * 2})" if result.more else ""
    where = "all projects" if project_path is None else f"project {project_path.name}"
    print(f"-- {plural(len(result.hits), 'turn')} shown{more} · {where} · query: {_safe(text) or '(everything)'}")
    return 0


def run_tag(args: argparse.Namespace, store: Any) -> int:
    """``tag TURN... --add x --remove y`` (comma-separated lists or repeated options); ``--list``."""
    if getattr(args, "list", False) and not args.turns:
        rows = store.all_tags()
        if not rows:
            print(f"Project {store.name!r} has no tags yet.")
        for tag, n in rows:
            print(f"{n:>6}  {_safe(tag)}")
        return 0
    try:
        turn_ids = [int(str(t).lstrip("#")) for t in args.turns]
    except ValueError:
        return error(f"turns are numbers, got {' '.join(args.turns)!r}.")
    if not turn_ids:
        return error("name at least one turn: banana-studio tag 12 14 --add hero")
    add, remove = list(args.add or []), list(args.remove or [])
    if not add and not remove:
        tags = store.tags_of(turn_ids)
        for tid in turn_ids:
            print(f"{tid:>5}  {', '.join(_safe(t) for t in tags.get(tid, [])) or '(no tags)'}")
        return 0
    try:
        changed = edit_tags_now(store, turn_ids, add=add, remove=remove)
    except TagError as exc:
        return error(str(exc))
    tags = store.tags_of(turn_ids)
    print(f"{plural(len(turn_ids), 'turn')} updated ({plural(changed, 'tag change')}).")
    for tid in turn_ids:
        print(f"{tid:>5}  {', '.join(_safe(t) for t in tags.get(tid, [])) or '(no tags)'}")
    return 0
