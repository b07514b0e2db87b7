"""Which renderer this process uses, and how many pixels a terminal cell shows with it.

:func:`select_image_protocol` -- "auto" keeps textual-image's detection (made by
:mod:`~banana_studio.tui.images.probe`) but prefers half-cell inside tmux, and in kitty older than
0.28 (its graphics protocol lacks the Unicode placeholders textual-image draws with: tofu boxes);
"sixel" / "kitty" / "halfcell" / "unicode" / "none" force a renderer.
"""

from __future__ import annotations

import os
import re
import sys

import textual_image.renderable as _ti_renderable
from textual_image._geometry import ImageSize
from textual_image._terminal import get_cell_size

from banana_studio.tui.images import patches, probe

__all__ = ["PROTOCOLS", "cell_pixels", "current_protocol", "detected_protocol", "fitted_cells",
           "get_cell_size", "kitty_placeholders_supported", "select_image_protocol"]

PROTOCOLS = ("sixel", "kitty", "halfcell", "unicode", "none")


_chosen_protocol: str = ""


def detected_protocol() -> str:
    """What textual-image's import-time probe found ("sixel", "kitty", "halfcell" or "unicode")."""
    auto = _ti_renderable.Image
    if auto is _ti_renderable.SixelImage:
        return "sixel"
    if auto is _ti_renderable.TGPImage:
        return "kitty"
    if auto is _ti_renderable.HalfcellImage:
        return "halfcell"
    return "unicode"


def select_image_protocol(pref: str = "auto") -> str:
    """Choose the image renderer for this process and return its name.

    ``pref`` is ``config.image_protocol`` (which already honours ``BANANA_STUDIO_IMAGE_PROTOCOL``)
    or the CLI's ``--image-protocol``: "auto", "sixel", "kitty", "halfcell", "unicode" or "none".
    "auto" keeps textual-image's detection (done when this module was imported), except that inside
    tmux half-cell is preferred.  Unknown values behave like "auto".
    """
    global _chosen_protocol
    pref = (pref or "auto").strip().lower()
    if pref == "tgp":
        pref = "kitty"
    if pref in PROTOCOLS:
        _chosen_protocol = pref
        if pref == "sixel":
            patches.ensure_fast_sixel()
        return pref
    detected = detected_protocol()
    out = sys.__stdout__
    is_tty = out is not None and out.isatty()
    if probe.SKIP_PROBE or (os.environ.get("TMUX") and is_tty and detected != "unicode"):
        detected = "halfcell"
    elif detected == "kitty" and is_tty and not kitty_placeholders_supported():
        probe.PROBE_NOTES.append("kitty graphics detected, but this kitty predates Unicode placeholders "
                                 "(0.28): using half-cell")
        detected = "halfcell"
    _chosen_protocol = detected
    return detected


XTVERSION_TIMEOUT = 0.5
"""Longest wait for each byte of the terminal's XTVERSION reply (only kitty-graphics terminals are asked)."""
_XTVERSION_RE = re.compile(r"kitty\((\d+)\.(\d+)")


def kitty_placeholders_supported(reply: str | None = None) -> bool:
    """False for kitty < 0.28, whose graphics protocol lacks the Unicode placeholders textual-image's
    kitty widget draws with (it shows tofu boxes).  Asks the terminal its version (XTVERSION) unless
    ``reply`` is given; any other or no answer counts as supported (Ghostty, newer kitty).
    Must run before ``App.run()`` (it reads the reply from stdin)."""
    if reply is None:
        try:
            from textual_image._terminal import TerminalError, capture_terminal_response

            # The wait ends as soon as the reply is in; 0.1 s was too short on a busy machine (the reply
            # came late, kitty 0.26 was taken for a newer one and drew tofu boxes).
            with capture_terminal_response("\x1bP>|", "\x1b\\", XTVERSION_TIMEOUT) as response:
                sys.__stdout__.write("\x1b[>q")  # type: ignore[union-attr]
                sys.__stdout__.flush()  # type: ignore[union-attr]
            reply = response.sequence
        except (TerminalError, TimeoutError, OSError, ValueError, AttributeError):
            return True
    m = _XTVERSION_RE.search(reply or "")
    if not m:
        return True
    return (int(m.group(1)), int(m.group(2))) >= (0, 28)


def current_protocol() -> str:
    """The protocol chosen by :func:`select_image_protocol` (auto-selects on first use)."""
    if not _chosen_protocol:
        return select_image_protocol("auto")
    return _chosen_protocol


def cell_pixels(protocol: str | None = None) -> tuple[int, int]:
    """How many source pixels one terminal cell can show with ``protocol``."""
    protocol = protocol or current_protocol()
    if protocol in ("halfcell", "unicode"):
        return 1, 2
    size = get_cell_size()
    return max(1, size.width), max(1, size.height)


def fitted_cells(image_size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The cell size an ``auto``/``auto`` image widget takes inside a ``box`` of cells (the same
    two-step computation Textual does: width from the box, then height from that width)."""
    cell = get_cell_size()
    size = ImageSize(image_size[0], image_size[1], "auto", "auto")
    w, _ = size.get_cell_size(box[0], box[1] or 2**32, cell)
    _, h = size.get_cell_size(w, box[1] or 2**32, cell)
    return max(0, w), max(0, h)
