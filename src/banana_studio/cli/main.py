"""``banana-studio`` — argument parsing and dispatch.

Every sub-command lives in its own module exposing ``run(args) -> int``; it is imported only when
that command runs, so ``banana-studio --help`` and the studio's first paint stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from banana_studio import __version__
from banana_studio.config import normalize_model_id

ASPECTS_HELP = "aspect ratio, e.g. 1:1, 16:9, 9:16, 21:9 (default from config)"


def _add_gen_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", "-m", type=normalize_model_id,
                   help="model id (default gemini-3-pro-image or config; a models/ prefix is dropped)")
    p.add_argument("--aspect", "-a", help=ASPECTS_HELP)
    p.add_argument("--size", "-s", help="image size: 512 (some models), 1K, 2K or 4K (default from config)")
    p.add_argument("--search", action="store_true", default=None, help="ground with Google Search")
    p.add_argument("--temperature", type=float, help="sampling temperature (0-2, advisory on new models)")
    p.add_argument("--seed", type=int, help="seed (best effort; not a reproducibility guarantee)")
    p.add_argument("--system", help="system instruction")
    p.add_argument("--no-thoughts", action="store_true", help="do not request thought summaries")
    p.add_argument("--output-mime", choices=("png", "jpeg"), help="Vertex AI only: image format of the result")
    p.add_argument("--quality", type=int, help="Vertex AI only: JPEG quality 0-100 (with --output-mime jpeg)")
    p.add_argument("--person-generation", choices=("allow_all", "allow_adult", "allow_none"),
                   help="Vertex AI only: whether people may be generated")


def _add_project_options(p: argparse.ArgumentParser, *, top: bool = False) -> None:
    # Sub-commands use SUPPRESS so `banana-studio --project X history` keeps the top-level value.
    default = None if top else argparse.SUPPRESS
    p.add_argument("--project", "-p", default=default, help="project name (default: config default_project)")
    p.add_argument("--project-dir", default=default, help="folder holding projects (default: platform data dir)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="banana-studio",
        description="A keyboard-driven terminal studio for Gemini image models (Nano Banana / Pro).",
        epilog="Run without a command to open the studio.  Without an API key it offers demo mode.",
    )
    parser.add_argument("--version", action="version", version=f"banana-studio {__version__}")
    parser.add_argument("--demo", action="store_true",
                        help="use the built-in local Gemini server (no key, no cost, synthetic images)")
    _add_project_options(parser, top=True)
    parser.add_argument("--image-protocol", choices=["auto", "kitty", "sixel", "halfcell", "unicode", "none"],
                        help="force how images are drawn in the terminal")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("studio", help="open the studio (the default)")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="use the local Gemini server")
    _add_project_options(p)
    p.add_argument("--image-protocol", choices=["auto", "kitty", "sixel", "halfcell", "unicode", "none"],
                   default=argparse.SUPPRESS, help="force how images are drawn in the terminal")

    p = sub.add_parser("gen", help="generate headlessly: stream thoughts to stderr, save images")
    p.add_argument("prompt", help="what to make (use - to read from stdin); @name adds that named reference's images")
    p.add_argument("--ref", "-r", action="append", default=[], metavar="IMG",
                   help="reference image (repeatable, up to 14)")
    _add_gen_options(p)
    p.add_argument("--output", "-o", metavar="OUT",
                   help="output file or folder (default: the project's images folder)")
    p.add_argument("--parent", metavar="TURN", help="continue (edit) from this turn id of the project")
    p.add_argument("--from-image", metavar="TURN",
                   help="continue from the image alone: a new root turn with TURN's final image as a reference "
                        "(the conversation is not carried over; works across demo / Gemini API / Vertex)")
    p.add_argument("--mix-demo", action="store_true",
                   help="with --demo: allow adding demo turns to a real project (they are marked demo)")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="use the local Gemini server")
    p.add_argument("--quiet", "-q", action="store_true", help="do not stream thoughts")
    p.add_argument("--yes", "-y", action="store_true", help="send even if it exceeds the configured budget")
    _add_project_options(p)

    p.add_argument("--region", metavar="X,Y,W,H[,...]",
                   help="region edit: change only inside these rectangles (fractions 0-1 of the image, or "
                        "pixels) of the --parent turn's picture (or of the first --ref)")
    p.add_argument("--protect", action=argparse.BooleanOptionalAction, default=None,
                   help="with --region/--outpaint: keep every pixel outside the region from the source "
                        "(default on; the model's own output is kept too)")
    p.add_argument("--feather", type=int, metavar="PX", help="width of the blended edge in pixels (default 12)")
    p.add_argument("--outpaint", metavar="RATIO[:SIDE]",
                   help="extend the picture to RATIO, growing towards SIDE (left|right|top|bottom|center), "
                        "e.g. 16:9:left; or by a zoom at its own ratio, e.g. 1.5x (1.5x:top keeps the bottom "
                        "edge); the original area is protected")

    p = sub.add_parser("diff", help="change map of two turns: a heat map and the changed area in/out of the region")
    p.add_argument("turns", nargs="+", metavar="TURN", help="TURN_A TURN_B, or just TURN_B (vs its parent)")
    p.add_argument("--output", "-o", metavar="PNG", help="write the heat map here")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the demo projects (the folder demo mode uses, next to the real one)")
    _add_project_options(p)

    p = sub.add_parser("serve-fake", help="run the local protocol-faithful Gemini server")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--latency", type=float, default=None, help="base think time per step in seconds")
    p.add_argument("--small", action="store_true",
                   help="small answers (~100 KB images, 500-byte signatures) instead of real-sized ones")
    p.add_argument("--secret", metavar="TEXT",
                   help="sign thought signatures with this secret instead of the one demo mode uses, so this "
                        "server rejects demo branches (and any other server's) as Google would")

    p = sub.add_parser("serve", help="a read-only web gallery of the projects on 127.0.0.1 (link with a token)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: any free port)")
    p.add_argument("--project-dir", default=argparse.SUPPRESS, help="folder holding projects")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the demo projects (the folder demo mode uses, next to the real one)")

    p = sub.add_parser("history", help="list a project's turns, or search them (all projects with --all)")
    p.add_argument("query", nargs="*", help="a search: words, \"phrases\", tag:x, model:pro, size:2K, aspect:16:9, "
                   "status:done, starred, cost>0.2, after:2026-11-01, before:..., has:refs, project:NAME, "
                   "template:NAME; -x excludes (put -- before a query that starts with -)")
    p.add_argument("--all", action="store_true", help="search every project (the library), not only one")
    _add_project_options(p)
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the demo projects (the folder demo mode uses, next to the real one)")
    p.add_argument("--search", help="full-text search over prompts")
    p.add_argument("--starred", action="store_true", help="only starred turns")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("tag", help="add or remove tags on turns: tag 12 14 --add hero --remove draft")
    p.add_argument("turns", nargs="*", metavar="TURN", help="turn ids")
    p.add_argument("--add", "-a", action="append", metavar="TAGS", help="tags to add (comma-separated; repeatable)")
    p.add_argument("--remove", "-r", action="append", metavar="TAGS", help="tags to remove (comma-separated)")
    p.add_argument("--list", action="store_true", help="list the project's tags with their counts")
    _add_project_options(p)
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the demo projects (the folder demo mode uses, next to the real one)")

    p = sub.add_parser("export", help="export a turn's branch: images + JSON (+ storyboard)")
    p.add_argument("turn", help="turn id")
    p.add_argument("--output", "-o", required=True, metavar="DIR")
    p.add_argument("--storyboard", action="store_true", help="also write a contact sheet PNG and HTML/Markdown page")
    _add_project_options(p)
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the demo projects (the folder demo mode uses, next to the real one)")

    p = sub.add_parser("projects", help="list projects and recent turns across them")
    p.add_argument("--project-dir", default=argparse.SUPPRESS, help="folder holding projects")
    p.add_argument("--recent", type=int, default=0, metavar="N", help="also list the N most recent turns")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                   help="the demo projects (the folder demo mode uses, next to the real one)")

    p = sub.add_parser("open", help="open the studio at the turn that made IMAGE")
    p.add_argument("image")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS)
    p.add_argument("--project-dir", default=argparse.SUPPRESS, help="folder holding projects")
    p.add_argument("--image-protocol", choices=["auto", "kitty", "sixel", "halfcell", "unicode", "none"],
                   default=argparse.SUPPRESS, help="force how images are drawn in the terminal")

    p = sub.add_parser("recipe", help="print the recipe embedded in an image the studio made")
    p.add_argument("image")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("batch", help="submit prompts as a Gemini Batch API job (half price) and import results")
    p.add_argument("source", nargs="?", help="prompts file (.jsonl or .txt, one prompt a line)")
    _add_gen_options(p)
    p.add_argument("--resume", action="store_true", help="resume polling of the project's unfinished jobs")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="use the local Gemini server")
    p.add_argument("--mix-demo", action="store_true",
                   help="with --demo: allow adding demo turns to a real project (they are marked demo)")
    p.add_argument("--poll", type=float, default=10.0, help="poll interval in seconds")
    p.add_argument("--no-wait", action="store_true", help="submit and return (resume later with --resume)")
    p.add_argument("--list", action="store_true", help="list the project's batch jobs")
    p.add_argument("--cancel", metavar="JOB", help="cancel a batch job (batches/ID)")
    p.add_argument("--name", help="display name of the job")
    p.add_argument("--yes", "-y", action="store_true", help="submit even if it exceeds the configured budget")
    _add_project_options(p)

    p = sub.add_parser("mcp", help="run a Model Context Protocol server on stdio (for coding agents)")
    p.add_argument("--demo", action="store_true", default=argparse.SUPPRESS, help="use the local Gemini server")
    p.add_argument("--mix-demo", action="store_true",
                   help="with --demo: allow adding demo turns to a real project (they are marked demo)")
    _add_project_options(p)

    from banana_studio.cli.template_args import add_parser as add_template_parser

    add_template_parser(sub, _add_project_options)

    from banana_studio.cli.ref import add_parser as add_ref_parser

    add_ref_parser(sub)

    p = sub.add_parser("config", help="show where config, data and logs live; set the API key")
    p.add_argument("--set-key", action="store_true", help="read an API key from stdin and store it (mode 0600)")
    return parser


COMMANDS = {
    None: "banana_studio.cli.studio",
    "studio": "banana_studio.cli.studio",
    "gen": "banana_studio.cli.gen",
    "serve-fake": "banana_studio.cli.serve",
    "serve": "banana_studio.cli.web",
    "history": "banana_studio.cli.history",
    "export": "banana_studio.cli.history",
    "projects": "banana_studio.cli.history",
    "tag": "banana_studio.cli.history",
    "open": "banana_studio.cli.studio",
    "recipe": "banana_studio.cli.recipe",
    "batch": "banana_studio.cli.batch",
    "config": "banana_studio.cli.configcmd",
    "mcp": "banana_studio.cli.mcp",
    "diff": "banana_studio.cli.diff",
    "template": "banana_studio.cli.template",
    "ref": "banana_studio.cli.ref",
}
TLS_AHEAD = frozenset({"gen", "batch"})
"""Commands whose first request is on their critical path right after start-up."""


def main(argv: Sequence[str] | None = None) -> int:
    from banana_studio.cli.output import install_excepthook, safe_output
    from banana_studio.malloc_tuning import tune_malloc

    tune_malloc()  # before any big buffer: freed answers go back to the system (malloc_tuning)
    install_excepthook()
    with safe_output():  # every command's output (argparse errors included) passes the one boundary
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command in TLS_AHEAD:
            from banana_studio.engine.tls_ahead import start

            start()  # the SDK client's TLS contexts, on another core while this process loads (tls_ahead)
        module = importlib.import_module(COMMANDS[args.command])
        try:
            code = int(module.run(args) or 0)
            sys.stdout.flush()  # a closed pipe shows up here, inside the handler, not at interpreter exit
            return code
        except KeyboardInterrupt:
            print("Interrupted.", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # `banana-studio recipe IMG | head -2`: the reader went away.  Quietly stop, like any Unix filter
            # killed by SIGPIPE (exit status 128 + 13); point stdout at /dev/null so the exit flush is silent.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.__stdout__.fileno())  # type: ignore[union-attr]
            return 141


if __name__ == "__main__":
    raise SystemExit(main())
