"""The import-time terminal probe.  THE ONE MODULE WITH AN IMPORT-ORDER RULE.

Importing this module imports ``textual_image.widget`` at top level, and that import *probes the
terminal* (DA1 for sixel, an APC query for the kitty graphics protocol, and the cell size in pixels).
The probe reads the terminal's replies from stdin, so it must happen **before** ``App.run()`` starts
Textual's input thread; a later (lazy) import races Textual and can hang or inject the replies as key
presses.  ``cli/studio.py`` therefore imports :mod:`banana_studio.tui.images` (whose ``__init__``
imports this module before any other) and calls ``select_image_protocol`` before the app is created.
Every other module of the package imports textual-image freely: the package is always initialised,
and so the probe done, first.

What this module makes safe:

* A 0×0 pty (``script … </dev/null``) no longer crashes the import (textual-image divides by the
  column count).
* Inside tmux the graphics probes are skipped (their replies leak into the window title and tmux
  cannot show either protocol); the cell size is still learnt (ioctl), and numpy -- needed only by
  the sixel encoder -- is not imported.
* After the graphics probes, one more question on the same rules: does the terminal take images on
  the clipboard (kitty's OSC 5522: DECRQM 5522, then DA1)?  The answer sets
  ``tui.clipboard_image.supported`` (the hand-off's ``y``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

# -- make the probe safe, then import textual_image (which probes) -------------------------------

PROBE_NOTES: list[str] = []
"""What happened during the import-time probe (for `banana-studio config`/debug output)."""


def _fallback_cell_size() -> tuple[int, int]:
    w = os.environ.get("TEXTUAL_CELL_WIDTH", "")
    h = os.environ.get("TEXTUAL_CELL_HEIGHT", "")
    if w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0:
        return int(w), int(h)
    return 10, 20


def _prepare_probe() -> bool:
    """Runs before textual_image is imported.  Returns True when the graphics probes must be skipped."""
    from textual_image import _terminal

    out = sys.__stdout__
    is_tty = bool(out and out.isatty())
    if is_tty:
        # textual-image computes ``pixels / columns`` without guarding against a 0×0 window.
        try:
            rows, cols, _px_w, _px_h = _terminal.get_tiocgwinsz()
        except Exception:  # any failure: let textual-image decide
            rows = cols = 1
        if rows == 0 or cols == 0:
            cw, ch = _fallback_cell_size()
            _terminal.get_cell_size._result = _terminal.CellSize(cw, ch)  # type: ignore[attr-defined]
            PROBE_NOTES.append(f"terminal reports a 0x0 window; assuming {cw}x{ch} px cells")
    forced = os.environ.get("BANANA_STUDIO_IMAGE_PROTOCOL", "").strip().lower()
    in_tmux = bool(os.environ.get("TMUX"))
    skip = is_tty and in_tmux and forced in ("", "auto", "halfcell", "unicode", "none")
    if skip:
        PROBE_NOTES.append("inside tmux: sixel/kitty probes skipped (half-cell is used)")
    return skip


class _NoTtyStdout:
    """Stand-in for ``sys.__stdout__`` while textual-image probes, making it see "not a tty"."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _import_textual_image(skip_probe: bool) -> None:
    if not skip_probe:
        import textual_image.widget  # this import IS the probe

        return
    # tmux: still learn the real cell size (ioctl), but send no graphics queries.
    from textual_image import _terminal

    if not hasattr(_terminal.get_cell_size, "_result"):
        _terminal.get_cell_size()
    real = sys.__stdout__
    sys.__stdout__ = _NoTtyStdout(real)  # type: ignore[misc]
    # Half-cell needs no numpy; textual-image imports it only to speed up its sixel encoder, and it is
    # the biggest single import of the start-up (~100 ms).  Hide it here; if sixel is forced later
    # anyway, select_image_protocol() re-imports the encoder with numpy (_ensure_fast_sixel).
    hide_numpy = "numpy" not in sys.modules
    if hide_numpy:
        sys.modules["numpy"] = None  # type: ignore[assignment]
    try:
        import textual_image.widget  # noqa: F401
    finally:
        sys.__stdout__ = real  # type: ignore[misc]
        if hide_numpy and sys.modules.get("numpy", 0) is None:
            del sys.modules["numpy"]


def _probe_clipboard_images(skip: bool) -> None:
    """Ask whether the terminal takes any data type on the clipboard (kitty's OSC 5522; see
    tui/clipboard_image.py).  Same rules as the graphics probes: a terminal only, never inside tmux."""
    from banana_studio.tui import clipboard_image

    out, stdin = sys.__stdout__, sys.__stdin__
    if skip or os.environ.get("TMUX") or not (out and out.isatty() and stdin and stdin.isatty()):
        return
    from textual_image._terminal import capture_terminal_response

    try:
        # 0.5 s, not the graphics probes' 0.1: over SSH the answer takes a round trip, and one that came
        # late would be read by Textual as key presses; every terminal answers DA1, so this rarely waits.
        with capture_terminal_response("\x1b[?", "c", timeout=0.5) as response:
            out.write(clipboard_image.QUERY)
            out.flush()
    except Exception:  # no answer, or not one we know: no image on the clipboard
        return
    clipboard_image.supported = clipboard_image.supports(response.sequence)
    if clipboard_image.supported:
        PROBE_NOTES.append("the terminal takes images on the clipboard (OSC 5522)")


SKIP_PROBE = _prepare_probe()
_import_textual_image(SKIP_PROBE)
"""True when the graphics probes were skipped (tmux): ``auto`` then means half-cell."""
_probe_clipboard_images(SKIP_PROBE)


def probe_notes() -> list[str]:
    return list(PROBE_NOTES)
