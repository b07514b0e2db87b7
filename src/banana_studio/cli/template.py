"""``banana-studio template``: prompt templates with slots, and matrix runs of them.

    banana-studio template list [--json]
    banana-studio template show NAME [--json]
    banana-studio template new NAME [--from-turn N] [--in-project] [--force] [--edit]
    banana-studio template edit NAME                       # in $VISUAL / $EDITOR, checked before it is kept
    banana-studio template run NAME --set subject=fox,owl --aspect 1:1,16:9 [--model A,B] [--seed 1,2]
                                     [--size 1K,2K] [--parent TURN] [--batch [--no-wait]] [--yes] [--dry-run] [--json]
    banana-studio template runs [--json]                   # the project's template runs
    banana-studio template grid RUN [--json]               # a run's results as an X/Y grid

Exit codes as everywhere: 0 ok, 1 a request or job failed, 2 bad input (a broken template names its
file and line), 3 over budget without --yes, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from banana_studio.cli.exits import error
from banana_studio.cli.output import print_json
from banana_studio.domain.template import TemplateError, parse_template, render_template

STARTER = render_template("A {style} portrait of a {subject}, soft window light",
                          slots={"subject": ["red fox", "snowy owl"], "style": ["watercolour"]},
                          settings={"aspect_ratio": "1:1", "image_size": "1K"})


def _project(args: argparse.Namespace) -> tuple[Path, str]:
    """(projects root, project name) the command is about; nothing is opened or created."""
    from banana_studio.config import load_config
    from banana_studio.paths import demo_projects_root
    from banana_studio.store import validate_project_name

    cfg = load_config()
    root = cfg.projects_root()
    if getattr(args, "demo", False):
        root = demo_projects_root(root)
    if getattr(args, "project_dir", None):
        root = Path(args.project_dir).expanduser()
    name = getattr(args, "project", None) or cfg.default_project or "default"
    validate_project_name(name)
    return root, name


def _library(args: argparse.Namespace) -> Any:
    """The template library of the project (its ``templates/`` only if the project exists) + yours."""
    from banana_studio.services.templates import TemplateLibrary

    root, name = _project(args)
    project = root / name
    return TemplateLibrary(project if project.is_dir() else None)


def _cmd_list(args: argparse.Namespace) -> int:
    lib = _library(args)
    entries = lib.entries()
    if args.json:
        print_json({"templates": [{
            "name": e.name, "origin": e.origin, "path": str(e.path), "shadowed": e.shadowed, "error": e.error,
            "description": e.template.description if e.template else "",
            "slots": e.template.slot_names if e.template else []} for e in entries]})
        return 0
    if not entries:
        print(f"No templates yet. Make one: banana-studio template new NAME [--from-turn N]  "
              f"(your library: {lib.user_dir}; a project's: <project>/templates/)")
        return 0
    for e in entries:
        mark = " (hidden by the project's)" if e.shadowed else ""
        if e.template is None:
            print(f"{e.name:<24} {e.origin:<8} BROKEN: {e.error}")
            continue
        slots = ", ".join("{" + s + "}" for s in e.template.slot_names)
        print(f"{e.name:<24} {e.origin:<8} {slots:<30} {e.template.description}{mark}")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    tpl = _library(args).get(args.name)
    if args.json:
        print_json({"name": tpl.name, "origin": tpl.origin, "path": str(tpl.path), "description": tpl.description,
                    "prompt": tpl.prompt, "slots": {s: tpl.slots.get(s, []) for s in tpl.slot_names},
                    "settings": tpl.settings, "references": [{"path": r.path, "sha256": r.sha256}
                                                             for r in tpl.references],
                    "warnings": tpl.warnings})
        return 0
    print(f"{tpl.name}  ({tpl.origin}: {tpl.path})")
    if tpl.description:
        print(tpl.description)
    print(f"prompt: {tpl.prompt}")
    for s in tpl.slot_names:
        values = tpl.slots.get(s) or []
        print(f"  {{{s}}} = {', '.join(values) if values else '(no default: give --set ' + s + '=...)'}")
    for k, v in tpl.settings.items():
        print(f"  {k}: {v}")
    for r in tpl.references:
        print(f"  reference: {r.path or r.sha256}")
    for w in tpl.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return 0


def editor_command() -> list[str] | None:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    return shlex.split(editor) if editor else None


def edit_file(path: Path, name: str) -> int:
    """Edit a copy of ``path`` in the editor; keep it only if it parses (ask again on a terminal)."""
    from banana_studio.store import templates as files

    cmd = editor_command()
    if cmd is None:
        return error(f"Set $EDITOR (or $VISUAL) to edit templates, or edit {path} directly.")
    text = files.read_text(path) if path.exists() else STARTER
    fd, tmp_name = tempfile.mkstemp(prefix=f"banana-template-{name}-", suffix=".toml")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        while True:
            result = subprocess.run([*cmd, str(tmp)], check=False)
            if result.returncode != 0:
                return error(f"The editor exited with status {result.returncode}; {path} was not changed.", 1)
            new = files.read_text(tmp)
            try:
                parse_template(new, name, source=str(path))
            except TemplateError as exc:
                print(f"error: {exc}", file=sys.stderr)
                if sys.stdin.isatty():
                    print("Edit again? [Y/n] ", end="", file=sys.stderr, flush=True)
                    if input().strip().lower() in ("", "y", "yes"):
                        continue
                return error(f"{path} was not changed.")
            if new != text:
                files.write(path, new, overwrite=True)
                print(f"Saved {path}", file=sys.stderr)
            else:
                print(f"{path} unchanged.", file=sys.stderr)
            return 0
    except OSError as exc:
        return error(f"Could not run the editor: {exc.strerror or exc}.", 1)
    finally:
        tmp.unlink(missing_ok=True)


def _cmd_new(args: argparse.Namespace) -> int:
    from banana_studio.services.templates import PROJECT, USER, TemplateLibrary, template_text_of_turn
    from banana_studio.store import ProjectStore

    root, name = _project(args)
    origin = PROJECT if args.in_project else USER
    text = STARTER
    if args.from_turn is not None or args.in_project:
        with ProjectStore.open(root, name, create=False) as store:  # reading never creates a project
            if args.from_turn is not None:
                text = template_text_of_turn(store, args.from_turn)
    lib = TemplateLibrary(root / name if (root / name).is_dir() else None)
    path = lib.save(args.name, text, origin, overwrite=args.force)
    print(path)
    return edit_file(path, args.name) if args.edit else 0


def _cmd_edit(args: argparse.Namespace) -> int:
    path = _library(args).locate(args.name)  # a broken template can be edited (that is how it is fixed)
    return edit_file(path, args.name)


def run(args: argparse.Namespace) -> int:
    from banana_studio.store import ProjectError

    action = args.template_command
    try:
        if action in ("run", "runs", "grid"):
            from banana_studio.cli import template_run

            return template_run.run(args)
        return {"list": _cmd_list, "show": _cmd_show, "new": _cmd_new, "edit": _cmd_edit}[action](args)
    except (TemplateError, ProjectError) as exc:
        return error(str(exc))
