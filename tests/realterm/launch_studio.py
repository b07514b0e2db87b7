"""Runs the real studio (``banana-studio ARGS``, the same CLI entry point) inside a real terminal, and
keeps a small JSON file up to date with where its pictures are, so a test can look at exactly those
pixels of a screenshot.

    python launch_studio.py LAYOUT.json -- --demo -p demo

The file says, about twice a second: the active screen, the terminal size in cells, the cell size in
pixels, the image protocol, and for every image widget showing a file: its source path and its
visible region in cells.  Only *where* to look comes from here; *what* is on screen is read from the
screenshot.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def layout(app: Any) -> dict[str, Any]:
    from banana_studio.tui import images as im

    cell = im.get_cell_size()
    pictures = []
    screen = app.screen
    for preview in screen.query(im.ImagePreview):
        widget = preview._image_widget
        if widget is None or not widget.display or preview.source is None or not preview.is_on_screen:
            continue
        if isinstance(widget, im.StableSixelImage):
            inner = list(widget.query(im.StableSixelImpl))
            widget = inner[0] if inner else widget
        try:
            region = screen.find_widget(widget).visible_region
        except Exception:
            continue
        if not region.area:
            continue
        try:
            box = screen.find_widget(preview).region.shrink(preview.styles.gutter)
        except Exception:
            continue
        pictures.append({"id": preview.id or "", "kind": type(preview).__name__, "source": str(preview.source),
                         "region": [region.x, region.y, region.width, region.height],
                         "box": [box.x, box.y, box.width, box.height]})
    return {"screen": type(screen).__name__, "modal": len(app.screen_stack) > 1 and screen.is_modal,
            "size": [app.size.width, app.size.height], "cell": [cell.width, cell.height],
            "protocol": im.current_protocol(), "pictures": pictures}


def main() -> int:
    out = Path(sys.argv[1])
    argv = sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
    import banana_studio.tui.app as tui_app  # imports tui.images: the terminal probe, before App.run

    original = tui_app.make_app

    async def report(pilot: Any) -> None:
        app = pilot.app

        def write() -> None:
            try:
                data = json.dumps(layout(app))
            except Exception as exc:  # a screen being switched: try again at the next tick
                print(f"layout: {exc!r}", file=sys.stderr)
                return
            tmp = out.with_suffix(".tmp")
            tmp.write_text(data)
            os.replace(tmp, out)

        write()
        app.set_interval(0.25, write)

    def make_app(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        run = app.run
        app.run = lambda *a, **k: run(*a, auto_pilot=report, **k)
        return app

    tui_app.make_app = make_app
    from banana_studio.cli.main import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
