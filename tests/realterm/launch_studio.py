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


def _state(widget: Any) -> dict[str, Any]:
    """What a sixel widget believes (for the failure message only; the checks read pixels)."""
    if not hasattr(widget, "_bs_on_terminal"):
        return {}
    return {"pending": widget._bs_pending is not None, "failed": widget._bs_failed is not None,
            "on_terminal": widget._bs_on_terminal is not None, "cached": widget._cached_sixels is not None,
            "paints": getattr(widget, "_bs_paints", None)}


def _record_sixel_paints() -> None:
    """Keep, per sixel widget, what its last paints did (w: picture written, s: skipped as already on
    the terminal, p: blank while being encoded, -: nothing), for a failure message."""
    from banana_studio.tui.images import sixel

    original = sixel.StableSixelImpl.render_lines

    def render_lines(self: Any, crop: Any) -> Any:
        writes, skips = sixel.STATS.sixel_writes, sixel.STATS.sixel_skips
        strips = original(self, crop)
        kind = ("w" if sixel.STATS.sixel_writes != writes else "s" if sixel.STATS.sixel_skips != skips
                else "p" if strips else "-")
        batching = "B" if getattr(self.app, "_batch_count", 0) else ""  # a frame Textual will not display
        self._bs_paints = (getattr(self, "_bs_paints", "") + f"{kind}{batching}{crop.y}:{crop.height} ")[-80:]
        return strips

    sixel.StableSixelImpl.render_lines = render_lines  # type: ignore[method-assign]


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
            placed = screen.find_widget(widget)
        except Exception:
            continue
        region, whole = placed.visible_region, placed.region
        if not region.area:
            continue
        try:
            box = screen.find_widget(preview).region.shrink(preview.styles.gutter)
        except Exception:
            continue
        pictures.append({"id": preview.id or "", "kind": type(preview).__name__, "source": str(preview.source),
                         "region": [region.x, region.y, region.width, region.height],
                         "box": [box.x, box.y, box.width, box.height],
                         "whole": [whole.x, whole.y, whole.width, whole.height], "state": _state(widget)})
    return {"screen": type(screen).__name__, "modal": len(app.screen_stack) > 1 and screen.is_modal,
            "size": [app.size.width, app.size.height], "cell": [cell.width, cell.height],
            "protocol": im.current_protocol(), "pictures": pictures}


def main() -> int:
    out = Path(sys.argv[1])
    argv = sys.argv[3:] if sys.argv[2:3] == ["--"] else sys.argv[2:]
    import banana_studio.tui.app as tui_app  # imports tui.images: the terminal probe, before App.run

    _record_sixel_paints()

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
