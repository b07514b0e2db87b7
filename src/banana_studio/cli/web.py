"""``banana-studio serve``: the read-only web gallery of the projects, on 127.0.0.1, until Ctrl-C."""

from __future__ import annotations

import argparse

from banana_studio.cli.exits import EXIT_FAILED, error, warning
from banana_studio.cli.foreground import run_until_stopped
from banana_studio.cli.history import _root
from banana_studio.config import load_config
from banana_studio.domain.safetext import display_text
from banana_studio.web import Gallery
from banana_studio.web.reach import remote, tunnel_line


def usage_text(gallery: Gallery, tunnel: str, from_ssh: bool) -> str:
    reach = (f"From your own machine, open the tunnel first:\n  {tunnel}\nthen open the link there."
             if from_ssh else f"Over SSH from another machine:\n  {tunnel}")
    return (f"Gallery of {display_text(str(gallery.root), one_line=True)} (read-only):\n"
            f"  {gallery.url}\n"
            f"{reach}\n"
            "Anyone with the link can look at the pictures; nobody can change a project through it.\n"
            "Press Ctrl-C to stop.")


def run(args: argparse.Namespace) -> int:
    root = _root(args, load_config())
    port = int(getattr(args, "port", 0) or 0)
    try:
        gallery = Gallery(root, port=port)
    except OSError as exc:
        return error(f"Cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}. Try --port 0 for any free port.",
                     EXIT_FAILED)
    if not root.is_dir():
        warning(f"{root} does not exist (yet): the gallery stays empty until a project is made there.")
    where = remote()
    gallery.start()
    print(usage_text(gallery, tunnel_line(gallery.port, where), where.from_ssh), flush=True)

    return run_until_stopped(gallery.stop)
