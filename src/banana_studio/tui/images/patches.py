"""Every global change this package makes to Textual and textual-image, in one place.

Importing this module installs them (once; the package ``__init__`` does it):

* **The xterm sixel fix** -- textual-image's ``image_to_sixels`` is replaced, in each module that
  bound the name, by :func:`fixed_image_to_sixels`: xterm mis-paints colour registers that are
  defined part-way through an image, so every ``#N;2;r;g;b`` definition is moved to the start of the
  sixel data (and each encode is counted in ``STATS``).  :func:`ensure_fast_sixel` re-imports the
  encoder with numpy when the tmux start-up imported it without.  Two of the encoder's steps that are
  single GIL-holding C calls over every pixel (a useless ``set`` of the bytes, a ``Counter`` of the
  palette indices) are replaced by equivalents with the same output, so a sixel encode in a thread no
  longer freezes the event loop for 100-200 ms.
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


_ORIGINAL_PREPARE_IMAGE: Callable[..., PILImage.Image] = _ti_sixel._prepare_image


def _prepare_image(image: PILImage.Image, options: Any, background: Any) -> PILImage.Image:
    """textual-image's ``_prepare_image`` without its ``len(set(image.tobytes()))``: with 256 colours (the
    default) an 8-bit image never has more distinct byte values than that, so the test is always true,
    yet building the set is one C call holding the GIL for ~100 ms on a preview -- the event loop stood
    still while a thread encoded.  Same result; other colour counts take the original path."""
    if options.colors < _ti_sixel.MAX_COLORS or image.mode not in ("RGB", "P", "L"):
        return _ORIGINAL_PREPARE_IMAGE(image, options, background)
    match image.mode:
        case "P" if "transparency" not in image.info:
            result = image
        case "L":
            result = image.convert("P")
        case "RGB":
            result = _ti_sixel._quantize_rgb_image(image, options)
        case _:
            return _ORIGINAL_PREPARE_IMAGE(image, options, background)
    if smooth := options.smooth:
        from PIL import ImageFilter

        result = result.filter(ImageFilter.ModeFilter(size=smooth))
    return result


def _compact_palette(image: PILImage.Image, data: bytes) -> tuple[bytes, tuple[bytes, ...]]:
    """textual-image's ``_compact_palette`` counting palette indices with Pillow's histogram instead of
    ``Counter(data)`` (one C loop over every pixel holding the GIL, ~85 ms on a preview).  The remap
    ranks colours by (count, colour), so the counts' order does not matter: same output."""
    palette = image.getpalette() or []
    counts = image.histogram() if image.mode == "P" else None
    if counts is None or len(counts) != _ti_sixel.MAX_COLORS:
        return _ORIGINAL_COMPACT_PALETTE(image, data)
    freq = {i: n for i, n in enumerate(counts) if n}
    remap, registers = _ti_sixel._build_palette_map(palette, freq)
    table = bytearray(_ti_sixel.MAX_COLORS)
    for idx, new_idx in remap.items():
        table[idx] = new_idx
    return data.translate(bytes(table)), registers


_ORIGINAL_COMPACT_PALETTE: Callable[..., tuple[bytes, tuple[bytes, ...]]] = _ti_sixel._compact_palette


def _install_encoder_fixes() -> None:
    _ti_sixel._prepare_image = _prepare_image  # type: ignore[assignment]
    _ti_sixel._compact_palette = _compact_palette  # type: ignore[assignment]


_install_encoder_fixes()


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
    _install_encoder_fixes()
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
    update: list[Region] | None = None
    """The regions the frame being rendered writes to the terminal (None: all of it).  Textual renders
    every widget inside the *bounding box* of a partial update's regions but writes only the regions:
    a picture painted there, outside them, never reaches the terminal."""

    @classmethod
    def touches(cls, area: Region) -> bool:
        """True when the frame being rendered writes any cell of ``area`` (screen coordinates)."""
        return cls.update is None or any(r.overlaps(area) for r in cls.update)

    @classmethod
    def writes_row(cls, y: int, x1: int, x2: int) -> bool:
        """True when the frame being rendered writes all of screen row ``y`` from ``x1`` to ``x2``."""
        if cls.update is None:
            return True
        spans = sorted((r.x, r.right) for r in cls.update if r.y <= y < r.bottom)
        reach = x1
        for left, right in spans:
            if left > reach:
                break
            reach = max(reach, right)
        return reach >= x2


_ORIGINAL_RENDER_UPDATE = Compositor.render_update


ON_TERMINAL: weakref.WeakSet[Any] = weakref.WeakSet()
"""Sixel widgets whose picture is believed to be on the terminal (see ``_bs_on_terminal``)."""


def _journalled_render_update(self: Compositor, full: bool = False, screen_stack: Any = None,
                              simplify: bool = False) -> Any:
    Frames.frames += 1
    whole = full or self.size.region in self._dirty_regions
    if whole or id(self) != Frames.last_compositor:
        Frames.epoch += 1
    Frames.last_compositor = id(self)
    Frames.update = None if whole else list(self._dirty_regions)
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
    try:
        return _ORIGINAL_RENDER_UPDATE(self, full, screen_stack, simplify)
    finally:
        Frames.update = None


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

