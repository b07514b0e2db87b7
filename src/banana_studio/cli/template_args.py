"""The ``template`` command's arguments (argparse only: building the parser of every command must not
import the template machinery; :mod:`banana_studio.cli.template` runs it)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction, project_options: object) -> None:
    """The ``template`` command and its sub-commands (called from :func:`cli.main.build_parser`)."""
    p = sub.add_parser("template", help="prompt templates with {slots}; matrix runs (slot values × aspects × "
                                        "models × seeds)")
    tsub = p.add_subparsers(dest="template_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, *, json_out: bool = True) -> None:
        project_options(q)  # type: ignore[operator]
        q.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                       help="the demo projects (and, for run, the local Gemini server)")
        if json_out:
            q.add_argument("--json", action="store_true", help="machine-readable output")

    common(tsub.add_parser("list", help="the templates of the project and of your library"))
    q = tsub.add_parser("show", help="a template's prompt, slots, settings and references")
    q.add_argument("name")
    common(q)
    q = tsub.add_parser("new", help="write a new template (a starter, or from a turn)")
    q.add_argument("name")
    q.add_argument("--from-turn", metavar="N", type=int, help="the prompt, settings and references of turn N")
    q.add_argument("--in-project", action="store_true", help="in the project's templates/ (default: your library)")
    q.add_argument("--force", action="store_true", help="replace a template of the same name")
    q.add_argument("--edit", action="store_true", help="open it in $EDITOR afterwards")
    common(q, json_out=False)
    q = tsub.add_parser("edit", help="edit a template in $VISUAL / $EDITOR (kept only if it parses)")
    q.add_argument("name")
    common(q, json_out=False)
    q = tsub.add_parser("run", help="expand the matrix, show the grid and cost, then send it")
    q.add_argument("name")
    q.add_argument("--set", action="append", default=[], metavar="SLOT=A,B",
                   help="slot values (comma separated, \\, for a comma; @FILE for its lines); repeatable")
    q.add_argument("--aspect", "-a", help="aspect ratios, comma separated (e.g. 1:1,16:9)")
    q.add_argument("--size", "-s", help="image sizes, comma separated (e.g. 1K,2K)")
    q.add_argument("--model", "-m", help="model ids, comma separated")
    q.add_argument("--seed", help="seeds, comma separated (e.g. 1,2,3)")
    q.add_argument("--parent", metavar="TURN", type=int, help="continue every cell from this turn (siblings)")
    q.add_argument("--batch", action="store_true", help="submit to the Batch API (half price, results later)")
    q.add_argument("--no-wait", action="store_true", help="with --batch: submit and return")
    q.add_argument("--poll", type=float, default=10.0, help="with --batch: poll interval in seconds")
    q.add_argument("--yes", "-y", action="store_true", help="send without asking (and even over the budget)")
    q.add_argument("--dry-run", action="store_true", help="show the grid and cost; send nothing")
    q.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    common(q)
    common(tsub.add_parser("runs", help="the project's template runs, newest first"))
    q = tsub.add_parser("grid", help="a template run's results as an X/Y grid")
    q.add_argument("run", type=int)
    common(q)
