"""``banana-studio ref`` — the named-reference libraries: save, list, show, rm.

``ref save NAME IMAGE...`` points ``@name`` at images (files, or ``--turn N`` final images of a
project's turns) in the user library, or with ``--project P`` in that project's own library (looked up
first).  Saving a name again re-points it; ``ref show`` lists what it pointed to before.  Names and
file names are untrusted text: shown through the one sanitising boundary.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from banana_studio.cli.exits import EXIT_OK, error
from banana_studio.cli.output import print_json
from banana_studio.config import Config, load_config
from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural


def add_parser(sub: Any) -> None:
    p = sub.add_parser("ref", help="named references: save images as @name, list, show, remove")
    refs = p.add_subparsers(dest="ref_command", metavar="ACTION", required=True)

    def where(q: argparse.ArgumentParser, verb: str) -> None:
        # SUPPRESS: `banana-studio --project X ref list` keeps the top-level values.
        keep = argparse.SUPPRESS
        q.add_argument("--project", "-p", default=keep,
                       help=f"{verb} the project's own library (looked up before the user's)")
        q.add_argument("--user", action="store_true", help=f"{verb} the user library (the default)")
        q.add_argument("--project-dir", default=keep, help="folder holding projects (default: platform data dir)")
        q.add_argument("--demo", action="store_true", default=keep, help="the demo projects (demo mode's folder)")

    q = refs.add_parser("save", help="point @NAME at IMAGE files (or --turn final images); re-points a saved name")
    q.add_argument("name", metavar="NAME", help="@ and lowercase letters, digits, _ or - (e.g. @hero)")
    q.add_argument("images", nargs="*", metavar="IMAGE", help="image files")
    q.add_argument("--turn", action="append", default=[], metavar="TURN",
                   help="the final image of this turn of --project (repeatable)")
    where(q, "save in")
    q = refs.add_parser("list", help="every saved name (the project's first, then the user's)")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    where(q, "also list")
    q = refs.add_parser("show", help="a name's images and what it pointed to before")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    where(q, "look in")
    q = refs.add_parser("rm", help="remove a name (its history is kept; turns that used it keep their images)")
    q.add_argument("name", metavar="NAME")
    where(q, "remove from")


def _project_path(args: argparse.Namespace, cfg: Config) -> Path:
    for name in ("project", "project_dir", "demo"):
        if not hasattr(args, name):
            setattr(args, name, None)
    root = Path(args.project_dir).expanduser() if args.project_dir else cfg.projects_root()
    if args.demo and not args.project_dir:
        from banana_studio.paths import demo_projects_root

        root = demo_projects_root(cfg.projects_root())
    from banana_studio.store.names import validate_project_name

    return root / validate_project_name(args.project or cfg.default_project or "default")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _ref_json(ref: Any) -> dict[str, Any]:
    return {"name": ref.name, "scope": ref.scope, "version": ref.version,
            "saved_at": datetime.fromtimestamp(ref.created_at).astimezone().isoformat(timespec="seconds"),
            "images": [{"sha256": i.sha256, "mime_type": i.mime_type, "label": i.label, "path": str(i.path)}
                       for i in ref.images]}


def run(args: argparse.Namespace) -> int:
    from banana_studio.services.named_refs import NamedReferences
    from banana_studio.store import ProjectError

    cfg = load_config()
    try:
        project = _project_path(args, cfg)
        lib = NamedReferences(project)
        return _ACTIONS[args.ref_command](args, cfg, lib, project)
    except ProjectError as exc:
        return error(str(exc))


def _save(args: argparse.Namespace, cfg: Config, lib: Any, project: Path) -> int:
    scope = "project" if args.project and not args.user else "user"
    if not args.images and not args.turn:
        return error("give one or more IMAGE files, or --turn TURN (with --project).")
    if args.images and args.turn:
        return error("give IMAGE files or --turn, not both (a name points at one set of images).")
    if (scope == "project" or args.turn) and not project.is_dir():
        return error(f"there is no project {project.name!r} in {project.parent} (a project library lives in its "
                     "project; save in the user library with --user).")
    previous = lib.library(scope).get(args.name) if _valid(args.name) else None
    if args.turn:
        saved = _save_turns(args, lib, project, scope)
    else:
        saved = lib.save_files(args.name, [Path(p) for p in args.images], scope)
    what = plural(len(saved.images), "image")
    where = f"the project {project.name!r}" if scope == "project" else "the user library"
    if previous is not None:
        print(f"{saved.name} re-pointed in {where}: {what} (was {plural(len(previous.images), 'image')}; "
              f"`banana-studio ref show {saved.name}` keeps the history).")
    else:
        print(f"{saved.name} saved in {where}: {what}.")
    meant = lib.resolve(saved.name)
    if meant is not None and meant.scope != scope:
        print(f"note: in the project {project.name!r}, {saved.name} still means the project's own {saved.name} "
              f"(`banana-studio ref rm {saved.name} --project {project.name}` to use the user one there).")
    return EXIT_OK


def _valid(name: str) -> bool:
    from banana_studio.domain.named_refs import is_name

    return is_name(name)


def _save_turns(args: argparse.Namespace, lib: Any, project: Path, scope: str) -> Any:
    from banana_studio.store import ProjectError, ProjectStore
    from banana_studio.store.named_refs import RefLibrary

    store = ProjectStore.open(project.parent, project.name)
    try:
        images: list[tuple[bytes, str]] = []
        for raw in args.turn:
            try:
                turn_id = int(str(raw).lstrip("#"))
            except ValueError:
                shown = display_text(raw, one_line=True)
                raise ProjectError(f"--turn expects a turn id (a number), got {shown!r}.") from None
            finals = store.get_turn(turn_id).final_images
            if not finals:
                raise ProjectError(f"Turn #{turn_id} has no final image.")
            images.append((store.blob_bytes(finals[0].sha256), f"turn #{turn_id} of {store.name}"))
        library: RefLibrary = lib.library(scope)
        from banana_studio.services.named_refs import check_name

        return library.save(check_name(args.name), images, note="turns")
    finally:
        store.close()


def _list(args: argparse.Namespace, cfg: Config, lib: Any, project: Path) -> int:
    refs = lib.all()
    if args.json:
        print_json([_ref_json(r) for r in refs], indent=2)
        return EXIT_OK
    if not refs:
        print("No named references yet. Save one: banana-studio ref save @hero IMAGE...")
        return EXIT_OK
    for r in refs:
        labels = ", ".join(display_text(i.label, one_line=True) for i in r.images[:3])
        more = " …" if len(r.images) > 3 else ""
        print(f"{r.name:<24} {r.scope:<8} {plural(len(r.images), 'image'):<10} {_when(r.created_at)}  {labels}{more}")
    return EXIT_OK


def _show(args: argparse.Namespace, cfg: Config, lib: Any, project: Path) -> int:
    from banana_studio.services.named_refs import check_name

    current = lib.resolve(args.name)
    history = lib.history(args.name)
    if current is None and not history:  # never saved: unknown input, like an unknown turn
        return error(f"there is no named reference {check_name(args.name)} (and there never was).")
    if args.json:
        print_json({"current": _ref_json(current) if current else None,
                    "history": [_ref_json(h) for h in history]}, indent=2)
        return EXIT_OK
    if current is None:
        print(f"{history[0].name}: removed (its history follows).")
    else:
        print(f"{current.name} ({current.scope} library, saved {_when(current.created_at)}): "
              f"{plural(len(current.images), 'image')}")
        for i, img in enumerate(current.images, 1):
            print(f"  {i}. {display_text(img.label, one_line=True) or '-'}  {img.mime_type}  {img.sha256[:16]}…  "
                  f"{img.path}")
    earlier = [h for h in history if current is None or h.version != current.version or h.scope != current.scope]
    if earlier:
        print("History (newest first):")
        for h in earlier:
            state = "removed" if h.removed else plural(len(h.images), "image") + ": " + ", ".join(
                i.sha256[:12] for i in h.images)
            print(f"  {_when(h.created_at)}  {h.scope:<8} {state}")
    return EXIT_OK


def _rm(args: argparse.Namespace, cfg: Config, lib: Any, project: Path) -> int:
    scope = "project" if args.project and not args.user else ("user" if args.user else None)
    removed = lib.remove(args.name, scope)
    print(f"{removed.name} removed from the {removed.scope} library (turns that used it keep their images; "
          "`ref show` keeps its history).")
    return EXIT_OK


_ACTIONS = {"save": _save, "list": _list, "show": _show, "rm": _rm}
