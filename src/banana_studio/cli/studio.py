"""``banana-studio`` / ``banana-studio studio`` / ``banana-studio open IMAGE`` — the Textual studio.

Order matters: the terminal is probed for image support (importing :mod:`banana_studio.tui.images`)
before the App is created and run, so the probe's replies are not read as key presses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def is_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def run(args: argparse.Namespace) -> int:
    from banana_studio.config import load_config, redact

    config = load_config()
    project_dir = Path(args.project_dir).expanduser() if getattr(args, "project_dir", None) else None
    project = getattr(args, "project", None) or config.default_project
    open_turn: int | None = None
    demo = bool(getattr(args, "demo", False))

    if getattr(args, "command", None) == "open":
        from banana_studio.store import find_turn_for_image

        image = Path(args.image).expanduser()
        if not image.is_file():
            from banana_studio.domain.words import folder_not_image, missing_file

            return _fail(folder_not_image(image) if image.is_dir() else missing_file(image))
        from banana_studio.paths import demo_projects_root

        # An image made in demo mode lives in the demo projects folder, next to the real one.
        demo_root = demo_projects_root(config.projects_root())
        roots = [project_dir] if project_dir else [config.projects_root(), demo_root]
        found = find_turn_for_image(image, roots)
        if found is None:
            return _fail(f"{image.name} was not made by a Banana Studio project under {roots[0]} "
                         "(no recipe in the file and no matching image on record).")
        found_dir, open_turn = found
        project = found_dir.name
        project_dir = found_dir.parent
        demo = demo or project_dir == demo_root  # a demo image continues in demo mode

    if not is_terminal():
        return _fail("the studio needs an interactive terminal. For scripts use `banana-studio gen` "
                     "(see `banana-studio --help`).")

    # No garbage collection while the heavy imports and the first screen are built (the whole start-up
    # heap is long-lived); StudioApp re-enables it, frozen and tuned, after the first paint (gc_tuning).
    import gc

    gc.disable()
    protocol_pref = getattr(args, "image_protocol", None) or config.image_protocol
    # Probe the terminal BEFORE the app exists (see module docstring).
    from banana_studio.tui.images import select_image_protocol

    select_image_protocol(protocol_pref)

    from banana_studio.services import Studio
    from banana_studio.store import ProjectError

    try:
        studio = Studio.open(config, project=project, project_dir=project_dir, demo=demo)
    except ProjectError as exc:
        return _fail(redact(str(exc)))

    from banana_studio.tui.app import make_app

    app = make_app(studio, open_turn=open_turn, project_dir=project_dir)
    app.run()
    return int(app.return_code or 0)
