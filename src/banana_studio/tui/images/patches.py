"""Every global change this package makes to Textual and textual-image, in one place.

Importing this module installs them (once; the package ``__init__`` does it):

* **The xterm sixel fix** -- textual-image's ``image_to_sixels`` is replaced, in each module that
  bound the name, by :func:`fixed_image_to_sixels`: xterm mis-paints colour registers that are
  defined part-way through an image, so every ``#N;2;r;g;b`` definition is moved to the start of the
  sixel data (and each encode is counted in ``STATS``).  :func:`ensure_fast_sixel` re-imports the
  encoder with numpy when the tmux start-up imported it without.
* **The compositor journal** -- ``Compositor.render_update`` is wrapped to keep :class:`Frames`: what
  the terminal may have lost since a sixel picture was written (a full repaint, a frame of another
  screen's compositor) and which pictures left their place.  The sixel widget reads it to avoid
  writing a picture that is already on the terminal again (``sixel.StableSixelImpl``).
* **The border title that repaints one row** -- :class:`BorderRowTitle` replaces Textual's
  ``border_title`` / ``border_subtitle`` descriptor on the image widgets (not globally): a title change
  repaints the border row only, not the whole image (which would send it to the terminal again).

The other Textual work-around of the studio (watcher lists of closed nodes) lives in
:mod:`banana_studio.tui.textual_fixes`.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Any

import textual_image._sixel as _ti_sixel
import textual_image.renderable.sixel as _ti_renderable_sixel
import textual_image.widget.sixel as _ti_widget_sixel
from PIL import Image as PILImage
from rich.text import Text
from textual._compositor import Compositor
from textual.content import Content
from textual.geometry import Region
from textual.widget import Widget, _BorderTitle

from banana_studio.tui.images.stats import STATS

# -- the xterm sixel colour-register fix ----------------------------------------------------------

_ORIGINAL_IMAGE_TO_SIXELS: Callable[..., str] = _ti_sixel.image_to_sixels
REGISTER_DEF = re.compile(r"#(\d+);2;(\d+);(\d+);(\d+)")


def hoist_colour_registers(sixel: str) -> str:
    """Move every colour definition ``#N;2;r;g;b`` to the start of the pixel data.

    Each definition in the body becomes a plain selection ``#N``, so the painted result is the
    same, but xterm sees every register before the first pixel (it otherwise paints some rows of a
    band with the wrong colours).  If a register were defined twice with different colours, moving
    the definitions would change the picture, so the data is then returned unchanged.
    """
    body_start = sixel.find("#")
    if body_start < 0:
        return sixel
    definitions: dict[str, str] = {}
    conflict = False

    def to_select(m: re.Match[str]) -> str:
        nonlocal conflict
        reg = m.group(1)
        colour = m.group(0)
        previous = definitions.setdefault(reg, colour)
        if previous != colour:
            conflict = True
        return f"#{reg}"

    body = REGISTER_DEF.sub(to_select, sixel[body_start:])
    if conflict or not definitions:
        return sixel
    return sixel[:body_start] + "".join(definitions.values()) + body


def fixed_image_to_sixels(image: PILImage.Image, options: Any = None, background: Any = None) -> str:
    STATS.sixel_encodes += 1
    return hoist_colour_registers(_ORIGINAL_IMAGE_TO_SIXELS(image, options, background))


for _mod in (_ti_sixel, _ti_renderable_sixel, _ti_widget_sixel):
    _mod.image_to_sixels = fixed_image_to_sixels  # type: ignore[attr-defined]


def ensure_fast_sixel() -> None:
    """Re-import textual-image's sixel encoder with numpy if it was imported without (tmux start-up)."""
    global _ORIGINAL_IMAGE_TO_SIXELS
    if getattr(_ti_sixel, "_HAS_NUMPY", True):
        return
    import importlib

    try:
        importlib.import_module("numpy")
    except ImportError:
        return
    importlib.reload(_ti_sixel)
    _ORIGINAL_IMAGE_TO_SIXELS = _ti_sixel.image_to_sixels
    for module in (_ti_sixel, _ti_renderable_sixel, _ti_widget_sixel):
        module.image_to_sixels = fixed_image_to_sixels  # type: ignore[attr-defined]

# -- the compositor journal ------------------------------------------------------------------------


class Frames:
    """What the terminal may have lost since a sixel picture was written: bumped when a frame repaints
    the whole screen (resize, screen switch, full refresh) or comes from another screen's compositor
    (a modal drawn over this one).  A sixel widget re-sends its picture only after such a change, or
    when its own data / place changed, or when a widget painted over it (``sixel.StableSixelImpl``)."""

    epoch = 0
    frames = 0
    last_compositor: int = 0


_ORIGINAL_RENDER_UPDATE = Compositor.render_update


ON_TERMINAL: weakref.WeakSet[Any] = weakref.WeakSet()
"""Sixel widgets whose picture is believed to be on the terminal (see ``_bs_on_terminal``)."""


def _journalled_render_update(self: Compositor, full: bool = False, screen_stack: Any = None,
                              simplify: bool = False) -> Any:
    Frames.frames += 1
    if full or self.size.region in self._dirty_regions or id(self) != Frames.last_compositor:
        Frames.epoch += 1
    Frames.last_compositor = id(self)
    if ON_TERMINAL:
        # A picture that left its place (hidden, scrolled out of view, moved) may have been painted
        # over by then, even if it comes back to the very same cells later: it is sent again.
        visible = self.visible_widgets
        for widget in list(ON_TERMINAL):
            record = widget._bs_on_terminal
            geometry = visible.get(widget)
            if (record is None or geometry is None or record[0][1] != geometry[0]
                    or record[0][2] != geometry[0].intersection(geometry[1])):
                widget._bs_on_terminal = None
                ON_TERMINAL.discard(widget)
    return _ORIGINAL_RENDER_UPDATE(self, full, screen_stack, simplify)


Compositor.render_update = _journalled_render_update  # type: ignore[method-assign]

# -- the border title that repaints one row ---------------------------------------------------------


class BorderRowTitle(_BorderTitle):
    """``border_title`` / ``border_subtitle`` whose change repaints only the border row it sits on.

    Textual repaints the whole widget on a title change, and repainting an image region means
    sending the whole sixel / kitty image to the terminal again (20 title changes: 1 MB of sixel,
    benchmarks/bench_terminal_bytes.py)."""

    def __init__(self, bottom: bool = False) -> None:
        self._bottom = bottom

    def __set__(self, obj: Widget, title: Any) -> None:
        # Same conversion as Textual's descriptor; only the refresh differs.
        if isinstance(title, Text):
            title = Content.from_rich_text(title)
        new = None if title is None else obj.render_str(title).expand_tabs(4).split()[0]
        before = getattr(obj, self._internal_name, None)
        setattr(obj, self._internal_name, new)
        if new == before:
            return
        outer, offset = obj.outer_size, obj.content_offset
        if not outer.area:
            obj.refresh()
            return
        row = outer.height - 1 if self._bottom else 0
        obj.refresh(Region(-offset.x, row - offset.y, outer.width, 1))

