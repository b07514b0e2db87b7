"""Terminal images: protocol selection, cached pre-scaled previews, thumbnails.

IMPORTANT — import order: importing this module imports ``textual_image.widget`` at top level, and
that import *probes the terminal* (DA1 for sixel, an APC query for the kitty graphics protocol, and
the cell size in pixels).  The probe reads the terminal's replies from stdin, so it must happen
**before** ``App.run()`` starts Textual's input thread; a later (lazy) import races Textual and can
hang or inject the replies as key presses.  ``cli/studio.py`` therefore imports this module and calls
:func:`select_image_protocol` before the app is created.

What this module adds on top of textual-image:

* :func:`select_image_protocol` — "auto" keeps textual-image's detection but prefers half-cell
  inside tmux, and in kitty older than 0.28 (its graphics protocol lacks the Unicode placeholders
  textual-image draws with: tofu boxes); "sixel" / "kitty" / "halfcell" / "unicode" / "none"
  force a renderer.
* A 0×0 pty (``script … </dev/null``) no longer crashes the import (textual-image divides by the
  column count); inside tmux the graphics probes are skipped (their replies leak into the window
  title and tmux cannot show either protocol).
* The xterm sixel fix: xterm mis-paints colour registers that are defined part-way through an
  image, so every ``#N;2;r;g;b`` definition is moved to the start of the sixel data.
* :class:`ImagePreview` — decodes with Pillow in a thread, downscales ONCE to the largest size the
  widget can fill, keeps the result in a bounded LRU cache, and hands the small PIL image to the
  chosen image widget.  The widgets are wrapped so an unrelated repaint never rebuilds the
  renderable (nor re-uploads / re-encodes the image), and the expensive paint data — half-cell
  strips (our own line-API widget) and sixel data — is prepared in threads, never on the event
  loop (a size change repaints once the new data is ready).
* The sixel widget puts the cursor back where Textual expects it after the picture (upstream
  leaves it one row low: a stale row after screens/modals, textual-image #146).
* A sixel picture already on the terminal is not written again when Textual repaints its region
  for nothing (a layout pass around it, its size settling a frame later): only when its data or
  place changed, a widget was drawn over it, or the whole screen was redrawn (resize, modal).
* :class:`Thumbnail` / :class:`ThumbStrip` — small previews (drafts, gallery) on the same machinery.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import re
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image as PILImage

# -- make the probe safe, then import textual_image (which probes) -------------------------------

_PROBE_NOTES: list[str] = []
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
            _PROBE_NOTES.append(f"terminal reports a 0x0 window; assuming {cw}x{ch} px cells")
    forced = os.environ.get("BANANA_STUDIO_IMAGE_PROTOCOL", "").strip().lower()
    in_tmux = bool(os.environ.get("TMUX"))
    skip = is_tty and in_tmux and forced in ("", "auto", "halfcell", "unicode", "none")
    if skip:
        _PROBE_NOTES.append("inside tmux: sixel/kitty probes skipped (half-cell is used)")
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


_SKIP_PROBE = _prepare_probe()
_import_textual_image(_SKIP_PROBE)

import textual_image._pixeldata as _ti_pixeldata  # noqa: E402
import textual_image._sixel as _ti_sixel  # noqa: E402
import textual_image.renderable as _ti_renderable  # noqa: E402
import textual_image.renderable.sixel as _ti_renderable_sixel  # noqa: E402
import textual_image.widget as _ti_widget  # noqa: E402
import textual_image.widget.sixel as _ti_widget_sixel  # noqa: E402
from rich.color import Color  # noqa: E402
from rich.console import RenderableType  # noqa: E402
from rich.control import Control  # noqa: E402
from rich.segment import ControlType, Segment  # noqa: E402
from rich.style import Style  # noqa: E402
from rich.text import Text  # noqa: E402
from textual._compositor import Compositor  # noqa: E402
from textual.app import ComposeResult  # noqa: E402
from textual.containers import HorizontalScroll  # noqa: E402
from textual.content import Content  # noqa: E402
from textual.css.query import NoMatches  # noqa: E402
from textual.dom import NoScreen  # noqa: E402
from textual.geometry import Region, Size  # noqa: E402
from textual.message import Message  # noqa: E402
from textual.strip import Strip  # noqa: E402
from textual.widget import Widget, _BorderTitle  # noqa: E402
from textual.widgets import Static  # noqa: E402
from textual_image._geometry import ImageSize  # noqa: E402
from textual_image._terminal import get_cell_size  # noqa: E402

PROTOCOLS = ("sixel", "kitty", "halfcell", "unicode", "none")


@dataclass
class RenderStats:
    """Counters used by tests and benchmarks (never reset by the app)."""

    decodes: int = 0
    """Full decodes + downscales done (cache misses)."""
    renderables: int = 0
    """Renderables built by the cell/kitty widgets (each one rescales; kitty re-uploads)."""
    sixel_encodes: int = 0
    """Calls of the sixel encoder."""
    sixel_writes: int = 0
    """Sixel pictures handed to Textual to write to the terminal."""
    sixel_skips: int = 0
    """Repaints of a sixel picture that was already on the terminal, untouched (nothing written)."""


STATS = RenderStats()

# -- the xterm sixel colour-register fix ----------------------------------------------------------

_ORIGINAL_IMAGE_TO_SIXELS: Callable[..., str] = _ti_sixel.image_to_sixels
_REGISTER_DEF = re.compile(r"#(\d+);2;(\d+);(\d+);(\d+)")


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

    body = _REGISTER_DEF.sub(to_select, sixel[body_start:])
    if conflict or not definitions:
        return sixel
    return sixel[:body_start] + "".join(definitions.values()) + body


def _fixed_image_to_sixels(image: PILImage.Image, options: Any = None, background: Any = None) -> str:
    STATS.sixel_encodes += 1
    return hoist_colour_registers(_ORIGINAL_IMAGE_TO_SIXELS(image, options, background))


for _mod in (_ti_sixel, _ti_renderable_sixel, _ti_widget_sixel):
    _mod.image_to_sixels = _fixed_image_to_sixels  # type: ignore[attr-defined]


def _ensure_fast_sixel() -> None:
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
        module.image_to_sixels = _fixed_image_to_sixels  # type: ignore[attr-defined]


# -- widgets that do not rebuild their renderable on every render --------------------------------


class _StableRenderMixin:
    """Reuse the renderable while (image, styled size, content size) stay the same.

    textual-image's base widget builds a new renderable on every ``render()`` — a full copy and
    rescale of the image, and for kitty a re-upload of the whole PNG.
    """

    _bs_key: tuple[Any, ...] | None = None

    def render(self) -> RenderableType:
        widget: Any = self
        if not widget._image:
            return ""
        key = (id(widget._image), widget._get_styled_size(), widget.content_size)
        if widget._renderable is not None and key == self._bs_key:
            return widget._renderable  # type: ignore[no-any-return]
        if widget._renderable is not None:
            widget._renderable.cleanup()
            widget._renderable = None
        STATS.renderables += 1
        widget._renderable = widget._Renderable(widget._image, *widget._get_styled_size())
        self._bs_key = key
        return widget._renderable  # type: ignore[no-any-return]


_NULL_STYLE = Style()

_HALFCELL_CACHE: OrderedDict[tuple[int, int, int], tuple[weakref.ref[PILImage.Image], list[Strip]]] = OrderedDict()
_HALFCELL_LOCK = threading.Lock()
_HALFCELL_MAX = 24
# The render caches are keyed by id(image) (hashing pixels would cost as much as rendering).  Each
# entry keeps a weak reference to its image and only counts as a hit while that very image is
# alive, so an id reused by a later image can never bring back another picture's strips/sixels.


def _halfcell_cached(image: PILImage.Image, width: int, height: int) -> list[Strip] | None:
    """The :func:`halfcell_strips` result if already built (never builds)."""
    with _HALFCELL_LOCK:
        hit = _HALFCELL_CACHE.get((id(image), width, height))
        if hit is not None and hit[0]() is image:
            return hit[1]
    return None


def halfcell_strips(image: PILImage.Image, width: int, height: int) -> list[Strip]:
    """``height`` rows of ``width`` ``▀`` cells (fg = upper pixel, bg = lower pixel).

    Thread-safe and cached per (image, size): :class:`ImagePreview` calls it in its decode thread
    for the size the widget will get, so painting in the event loop only looks the strips up.
    """
    key = (id(image), width, height)
    with _HALFCELL_LOCK:
        hit = _HALFCELL_CACHE.get(key)
        if hit is not None and hit[0]() is image:
            _HALFCELL_CACHE.move_to_end(key)
            return hit[1]
    STATS.renderables += 1
    if width <= 0 or height <= 0:
        return []
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if rgb.size != (width, height * 2):
        rgb = rgb.resize((width, height * 2), PILImage.Resampling.BILINEAR)
    data = rgb.tobytes()
    row_bytes = width * 3
    styles: dict[bytes, Style] = {}
    strips: list[Strip] = []
    for y in range(height):
        top = data[2 * y * row_bytes:(2 * y + 1) * row_bytes]
        bottom = data[(2 * y + 1) * row_bytes:(2 * y + 2) * row_bytes]
        segments: list[Segment] = []
        run_key = b""
        run = 0
        for x in range(0, row_bytes, 3):
            cell = top[x:x + 3] + bottom[x:x + 3]
            if cell == run_key:
                run += 1
                continue
            if run:
                segments.append(Segment("▀" * run, styles[run_key]))
            style = styles.get(cell)
            if style is None:
                style = Style(color=Color.from_rgb(cell[0], cell[1], cell[2]),
                              bgcolor=Color.from_rgb(cell[3], cell[4], cell[5]))
                styles[cell] = style
            run_key, run = cell, 1
        if run:
            segments.append(Segment("▀" * run, styles[run_key]))
        strips.append(Strip(segments, width))
    with _HALFCELL_LOCK:
        _HALFCELL_CACHE[key] = (weakref.ref(image), strips)
        while len(_HALFCELL_CACHE) > _HALFCELL_MAX:
            _HALFCELL_CACHE.popitem(last=False)
    return strips


def fitted_cells(image_size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The cell size an ``auto``/``auto`` image widget takes inside a ``box`` of cells (the same
    two-step computation Textual does: width from the box, then height from that width)."""
    cell = get_cell_size()
    size = ImageSize(image_size[0], image_size[1], "auto", "auto")
    w, _ = size.get_cell_size(box[0], box[1] or 2**32, cell)
    _, h = size.get_cell_size(w, box[1] or 2**32, cell)
    return max(0, w), max(0, h)


class StableHalfcellImage(Widget):
    """Half-cell (``▀`` with truecolour fg/bg) image widget using the line API.

    Same sizing rules as textual-image's widgets (``width``/``height: auto`` keep the aspect
    ratio), but the strips are built once per size — in a thread when :class:`ImagePreview`
    can predict the size — instead of a Rich renderable per paint.
    """

    DEFAULT_CSS = """
    StableHalfcellImage { width: auto; height: auto; }
    """

    def __init__(self, image: PILImage.Image | None = None, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._image: PILImage.Image | None = image

    @property
    def image(self) -> PILImage.Image | None:
        return self._image

    @image.setter
    def image(self, value: PILImage.Image | None) -> None:
        self._image = value
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        if self._image is None:
            return 0
        return fitted_cells(self._image.size, (container.width, container.height))[0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self._image is None:
            return 0
        size = ImageSize(self._image.width, self._image.height, "auto", "auto")
        return size.get_cell_size(width, container.height or 2**32, get_cell_size())[1]

    _bs_pending: tuple[int, int, int] | None = None

    def render_line(self, y: int) -> Strip:
        size = self.content_size
        image = self._image
        if image is None or not size.area:
            return Strip.blank(size.width)
        strips = _halfcell_cached(image, size.width, size.height)
        if strips is None:
            # Not prepared for this size (e.g. after a resize): build in a thread, paint when ready.
            key = (id(image), size.width, size.height)
            if self._bs_pending != key:
                self._bs_pending = key

                async def build() -> None:
                    await asyncio.to_thread(halfcell_strips, image, size.width, size.height)
                    if self._bs_pending == key:
                        self._bs_pending = None
                        self.refresh()

                self.run_worker(build(), group="halfcell-build", exclusive=True, exit_on_error=False)
            return Strip.blank(size.width)
        return strips[y] if y < len(strips) else Strip.blank(size.width)


class StableUnicodeImage(_StableRenderMixin, _ti_widget.UnicodeImage, Renderable=_ti_widget.UnicodeRenderable):
    """Greyscale block-character image widget."""


class StableTGPImage(_StableRenderMixin, _ti_widget.TGPImage, Renderable=_ti_widget.TGPRenderable):
    """Kitty graphics protocol image widget (needs Unicode placeholders: kitty ≥ 0.28, Ghostty)."""


_SIXEL_CACHE: OrderedDict[tuple[Any, ...], tuple[weakref.ref[PILImage.Image], str]] = OrderedDict()
_SIXEL_LOCK = threading.Lock()
_SIXEL_MAX = 16


def _sixel_key(image: PILImage.Image, cells: tuple[int, int], background: Any, options: Any) -> tuple[Any, ...]:
    return (id(image), image.size, cells, get_cell_size(), tuple(background) if background else None, options)


def _presixel_cached(image: PILImage.Image, cells: tuple[int, int], background: Any,
                     options: Any = None) -> str | None:
    """The :func:`presixel` result if it is already cached (never encodes)."""
    key = _sixel_key(image, cells, background, options)
    with _SIXEL_LOCK:
        hit = _SIXEL_CACHE.get(key)
        if hit is not None and hit[0]() is image:
            _SIXEL_CACHE.move_to_end(key)
            return hit[1]
    return None


def presixel(image: PILImage.Image, cells: tuple[int, int], background: Any, options: Any = None) -> str:
    """The sixel string showing all of ``image`` in ``cells`` (columns, rows), cached per (image, cells,
    cell size, background, options) and thread-safe, exactly as :class:`_StableSixelImpl` would encode
    it for an unclipped widget of that size.  :class:`ImagePreview` calls it in its decode thread so the
    event loop only looks the result up (a sixel encode of a preview takes tens of milliseconds)."""
    key = _sixel_key(image, cells, background, options)
    with _SIXEL_LOCK:
        hit = _SIXEL_CACHE.get(key)
        if hit is not None and hit[0]() is image:
            _SIXEL_CACHE.move_to_end(key)
            return hit[1]
    cw, ch = key[3]
    data = _ti_pixeldata.PixelData(image).scaled(max(1, cells[0] * cw), max(1, cells[1] * ch))
    data = data.cropped(0, 0, cells[0] * cw, cells[1] * ch)
    sixel = _fixed_image_to_sixels(data.pil_image, options, background)
    with _SIXEL_LOCK:
        _SIXEL_CACHE[key] = (weakref.ref(image), sixel)
        while len(_SIXEL_CACHE) > _SIXEL_MAX:
            _SIXEL_CACHE.popitem(last=False)
    return sixel


class _Frames:
    """What the terminal may have lost since a sixel picture was written: bumped when a frame repaints
    the whole screen (resize, screen switch, full refresh) or comes from another screen's compositor
    (a modal drawn over this one).  A sixel widget re-sends its picture only after such a change, or
    when its own data / place changed, or when a widget painted over it (``_StableSixelImpl``)."""

    epoch = 0
    frames = 0
    last_compositor: int = 0


_ORIGINAL_RENDER_UPDATE = Compositor.render_update


_ON_TERMINAL: weakref.WeakSet[_StableSixelImpl] = weakref.WeakSet()
"""Sixel widgets whose picture is believed to be on the terminal (see ``_bs_on_terminal``)."""


def _journalled_render_update(self: Compositor, full: bool = False, screen_stack: Any = None,
                              simplify: bool = False) -> Any:
    _Frames.frames += 1
    if full or self.size.region in self._dirty_regions or id(self) != _Frames.last_compositor:
        _Frames.epoch += 1
    _Frames.last_compositor = id(self)
    if _ON_TERMINAL:
        # A picture that left its place (hidden, scrolled out of view, moved) may have been painted
        # over by then, even if it comes back to the very same cells later: it is sent again.
        visible = self.visible_widgets
        for widget in list(_ON_TERMINAL):
            record = widget._bs_on_terminal
            geometry = visible.get(widget)
            if (record is None or geometry is None or record[0][1] != geometry[0]
                    or record[0][2] != geometry[0].intersection(geometry[1])):
                widget._bs_on_terminal = None
                _ON_TERMINAL.discard(widget)
    return _ORIGINAL_RENDER_UPDATE(self, full, screen_stack, simplify)


Compositor.render_update = _journalled_render_update  # type: ignore[method-assign]


class _StableSixelImpl(_ti_widget_sixel._ImageSixelImpl):
    """Sixel painting without the upstream widget's repaint costs and its stale row.

    * Encodes the whole visible part once; partial repaints (hover, one row) reuse that encoding
      (the picture is drawn at the visible region's top-left whatever rows were asked for).
    * An unclipped widget uses :func:`presixel` (usually already encoded in the decode thread).
    * After the picture the cursor goes back to the end of the strip that carries it, i.e. the
      last *requested* row, so the cells Textual writes after it on that row land where they
      belong.  Upstream moves to the row *below* the image (textual-image #146): the rest of that
      row is drawn one row too low and a stale row of the previous screen is left behind.
    """

    def render_lines(self, crop: Region) -> list[Strip]:
        try:
            if not self.image or not self.screen.is_active:
                return []
            placement = self.screen.find_widget(self)
        except (NoScreen, Exception):  # not placed yet: nothing to draw
            return []
        if not crop.height or not crop.width:
            return []
        region = placement.region
        visible = placement.visible_region.translate((-region.x, -region.y))
        encode = visible if visible.area and visible.contains_region(crop) else crop
        sixel = self._encode(encode)
        if sixel is None:  # being encoded in a thread; this area is repainted when it is ready
            self._bs_on_terminal = None
            return [Strip.blank(crop.width)] * crop.height
        # Already on the terminal, untouched since: write nothing (the cells keep the picture).  A
        # repaint of this region that changes nothing for it (a layout pass around it, its own size
        # being settled a frame later, a finished background encode of the same data) must not send
        # the whole image again.
        shown = (id(self.screen), region, placement.visible_region, encode, _Frames.epoch)
        previous = self._bs_on_terminal
        covered = self._covered(placement.visible_region)
        self._bs_on_terminal = None if covered else (shown, sixel)
        if not covered:
            _ON_TERMINAL.add(self)
        if (previous is not None and not covered and previous[0] == shown and previous[1] is sixel
                and not self._cut_inside(placement.visible_region, region.y + crop.y, region.y + crop.bottom)):
            STATS.sixel_skips += 1
            # Every row must still be *claimed* with a strip as wide as the crop that writes nothing:
            # an empty Strip([]) claims no cell, so Textual paints the widget underneath (blank
            # cells) there instead -- over the picture -- and only one band of it would be left.
            # The cursor move at the end of each row keeps the rest of a full-screen line in place.
            return [Strip([_move_segment(region.x + crop.right, region.y + y)], cell_length=crop.width)
                    for y in range(crop.y, crop.bottom)]
        STATS.sixel_writes += 1
        segments = [
            _move_segment(region.x + encode.x, region.y + encode.y),
            Segment(sixel, style=_NULL_STYLE, control=((ControlType.CURSOR_FORWARD, 0),)),
            _move_segment(region.x + crop.right, region.y + crop.bottom - 1),
        ]
        return [Strip([])] * (crop.height - 1) + [Strip(segments, cell_length=crop.width)]

    _bs_pending: tuple[Any, ...] | None = None
    _bs_on_terminal: tuple[tuple[Any, ...], str] | None = None
    """(where and in which screen epoch, data) of the picture last written to the terminal."""

    def _cut_inside(self, visible: Region, top: int, bottom: int) -> bool:
        """True when another widget's edge falls inside the picture on a screen row in [top, bottom).

        Textual divides each row at such edges and a strip that writes nothing can only claim the
        first part of a divided row (the rest would be painted by the widget underneath), so the
        picture is then written again rather than left in place."""
        try:
            cuts = self.screen._compositor.cuts
        except Exception:
            return True
        left, right = visible.x, visible.right
        rows = range(max(0, top), min(bottom, len(cuts)))
        return any(left < cut < right for y in rows for cut in cuts[y])

    def _covered(self, visible: Region) -> bool:
        """True when a widget painted above this one (toast, tooltip, overlay) overlaps it."""
        try:
            widgets = self.screen._compositor.visible_widgets
        except Exception:  # not on a screen any more
            return True
        for widget, (region, clip) in widgets.items():
            if widget is self:
                return False
            if region.intersection(clip).overlaps(visible):
                return True
        return True  # not found: being laid out; assume the worst

    def _encode(self, encode: Region) -> str | None:
        """Sixel data for the ``encode`` part of the widget (content coordinates), cached.  A miss
        is encoded in a thread (a sixel encode takes tens of milliseconds; the event loop must not
        stall): None is returned meanwhile and the widget repaints when the data is ready."""
        size = self.content_size
        cells = get_cell_size()
        background = self._get_background_rgba()
        options = self._sixel_options
        image = self.image
        cached = self._cached_sixels
        if cached is not None and cached.is_hit(image, encode, size, cells, options, background):
            self._bs_pending = None
            return cached.sixel_data
        full = encode == Region(0, 0, size.width, size.height) and isinstance(image, PILImage.Image)
        if full:
            hit = _presixel_cached(image, (size.width, size.height), background, options)  # type: ignore[arg-type]
            if hit is not None:
                self._bs_pending = None  # an encode still running for this widget must not repaint it
                self._cached_sixels = _ti_widget_sixel._CachedSixels(
                    image, encode, size, cells, options, background, hit)
                return hit
        key = (id(image), encode, size, cells, options, background)
        if self._bs_pending != key:
            self._bs_pending = key

            def compute() -> str:
                if full:
                    return presixel(image, (size.width, size.height), background, options)  # type: ignore[arg-type]
                data = _ti_pixeldata.PixelData(image)
                data = _scale_to(data, size, cells)
                data = self._crop_image(data, encode, cells)
                return _fixed_image_to_sixels(data.pil_image, options, background)

            async def run() -> None:
                sixel = await asyncio.to_thread(compute)
                if self._bs_pending != key or self.image is not image:
                    return
                self._bs_pending = None
                self._cached_sixels = _ti_widget_sixel._CachedSixels(
                    image, encode, size, cells, options, background, sixel)
                self.refresh()

            self.run_worker(run(), group="sixel-encode", exclusive=True, exit_on_error=False)
        return None

    def _scale_image(self, image_data: Any, terminal_sizes: Any) -> Any:
        return _scale_to(image_data, self.content_size, terminal_sizes)


def _move_segment(x: int, y: int) -> Segment:
    """A cursor move to screen cell (x, y) as a segment of no width (never split by Textual)."""
    return Segment(Control.move_to(x, y).segment.text, style=_NULL_STYLE,
                   control=((ControlType.CURSOR_MOVE_TO, x + 1, y + 1),))


def _scale_to(image_data: Any, size: Size, terminal_sizes: Any) -> Any:
    # Fill the widget exactly.  The parent was already sized to the image's aspect ratio; the
    # upstream code recomputes "auto" from scratch and its rounding can leave a one-cell column
    # unpainted (black) beside the image.
    width = max(1, size.width * terminal_sizes.width)
    height = max(1, size.height * terminal_sizes.height)
    return image_data.scaled(width, height)


class StableSixelImage(_ti_widget.SixelImage, Renderable=_ti_widget_sixel._NoopRenderable):
    """Sixel image widget with the crop-insensitive cache and the xterm register fix."""

    def compose(self) -> ComposeResult:
        yield _StableSixelImpl(self.image, self._sixel_options)


_WIDGETS: dict[str, type[Widget]] = {
    "sixel": StableSixelImage,
    "kitty": StableTGPImage,
    "halfcell": StableHalfcellImage,
    "unicode": StableUnicodeImage,
}

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
            _ensure_fast_sixel()
        return pref
    detected = detected_protocol()
    out = sys.__stdout__
    is_tty = out is not None and out.isatty()
    if _SKIP_PROBE or (os.environ.get("TMUX") and is_tty and detected != "unicode"):
        detected = "halfcell"
    elif detected == "kitty" and is_tty and not kitty_placeholders_supported():
        _PROBE_NOTES.append("kitty graphics detected, but this kitty predates Unicode placeholders "
                            "(0.28): using half-cell")
        detected = "halfcell"
    _chosen_protocol = detected
    return detected


_XTVERSION_RE = re.compile(r"kitty\((\d+)\.(\d+)")


def kitty_placeholders_supported(reply: str | None = None) -> bool:
    """False for kitty < 0.28, whose graphics protocol lacks the Unicode placeholders textual-image's
    kitty widget draws with (it shows tofu boxes).  Asks the terminal its version (XTVERSION) unless
    ``reply`` is given; any other or no answer counts as supported (Ghostty, newer kitty).
    Must run before ``App.run()`` (it reads the reply from stdin)."""
    if reply is None:
        try:
            from textual_image._terminal import TerminalError, capture_terminal_response

            with capture_terminal_response("\x1bP>|", "\x1b\\", 0.1) as response:
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


def image_widget_class(protocol: str | None = None) -> type[Widget] | None:
    """The textual-image widget class for ``protocol`` (None for "none")."""
    return _WIDGETS.get(protocol or current_protocol())


def probe_notes() -> list[str]:
    return list(_PROBE_NOTES)


def cell_pixels(protocol: str | None = None) -> tuple[int, int]:
    """How many source pixels one terminal cell can show with ``protocol``."""
    protocol = protocol or current_protocol()
    if protocol in ("halfcell", "unicode"):
        return 1, 2
    size = get_cell_size()
    return max(1, size.width), max(1, size.height)


# -- decoding + LRU cache ---------------------------------------------------------------------------


class ImageDecodeError(Exception):
    """The bytes/file are not a decodable image (message is user-facing)."""


@dataclass(slots=True)
class Decoded:
    image: PILImage.Image
    source_size: tuple[int, int]
    """Width × height of the original image."""
    nbytes: int


class PreviewCache:
    """A thread-safe LRU of pre-scaled images, bounded by total pixel memory."""

    def __init__(self, max_bytes: int = 96 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], Decoded] = OrderedDict()
        self._lock = threading.Lock()
        self.bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[Any, ...]) -> Decoded | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item

    def put(self, key: tuple[Any, ...], item: Decoded) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old.nbytes
            self._items[key] = item
            self.bytes += item.nbytes
            while self.bytes > self.max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                self.bytes -= dropped.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)


CACHE = PreviewCache()



def decode_scaled(source: Path | bytes, max_size: tuple[int, int]) -> Decoded:
    """Decode ``source`` and downscale it to fit ``max_size`` (never upscales).  Blocking: call
    it in a thread.  Raises :class:`ImageDecodeError` with a readable reason."""
    max_w, max_h = max(1, max_size[0]), max(1, max_size[1])
    try:
        fp: Any = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        with PILImage.open(fp) as img:
            src_size = img.size
            if img.format == "JPEG":
                img.draft("RGB", (max_w, max_h))
            img.load()
            has_alpha = "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info)
            out = img.convert("RGBA" if has_alpha else "RGB")
    except FileNotFoundError as exc:
        raise ImageDecodeError(f"file not found: {exc.filename}") from exc
    except PILImage.DecompressionBombError as exc:
        raise ImageDecodeError("image is too large to preview") from exc
    except (OSError, SyntaxError, ValueError, PILImage.UnidentifiedImageError) as exc:
        reason = str(exc) or type(exc).__name__
        if isinstance(exc, PILImage.UnidentifiedImageError):
            reason = "not an image file"
        raise ImageDecodeError(reason) from exc
    if out.width > max_w or out.height > max_h:
        out.thumbnail((max_w, max_h), PILImage.Resampling.BILINEAR, reducing_gap=2.0)
    STATS.decodes += 1
    return Decoded(out, src_size, out.width * out.height * len(out.getbands()))


FULL_SIZE = (1 << 16, 1 << 16)
"""Pass as ``max_size`` to decode without downscaling (1:1 viewing)."""


def _cache_key(source: Path | bytes, max_size: tuple[int, int]) -> tuple[Any, ...]:
    if isinstance(source, bytes | bytearray):
        return ("sha256", hashlib.sha256(source).hexdigest(), max_size)
    try:
        st = source.stat()
        return ("path", str(source.resolve()), st.st_mtime_ns, st.st_size, max_size)
    except OSError:
        return ("path", str(source), 0, 0, max_size)


def load_scaled(source: Path | bytes, max_size: tuple[int, int], *, digest: str = "") -> Decoded:
    """Cached :func:`decode_scaled` (blocking; call in a thread).

    A file is also looked up by the hash of its content, so the final image shown from the stream's
    bytes and then again from its saved file is the same cached image: not decoded, encoded and sent
    to the terminal a second time (benchmarks/bench_terminal_bytes.py).  ``digest`` is the sha256 of
    the image bytes the file was written from (``ImageFile.sha256``); the store embeds the recipe in
    final images, so the file's own bytes differ from the streamed ones while the pixels do not."""
    key = _cache_key(source, max_size)
    hit = CACHE.get(key)
    if hit is not None:
        return hit
    if isinstance(source, Path) and digest:
        hit = CACHE.get(("sha256", digest.lower(), max_size))
        if hit is not None:
            CACHE.put(key, hit)
            return hit
    if isinstance(source, Path):
        try:
            data = source.read_bytes()
        except OSError:
            data = None  # decode_scaled reports the problem with the file's name
        if data is not None:
            content_key = _cache_key(data, max_size)
            decoded = CACHE.get(content_key) or decode_scaled(data, max_size)
            CACHE.put(content_key, decoded)
            CACHE.put(key, decoded)
            return decoded
    decoded = decode_scaled(source, max_size)
    CACHE.put(key, decoded)
    return decoded


class _BorderRowTitle(_BorderTitle):
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


# -- widgets ---------------------------------------------------------------------------------------


def prerender(image: PILImage.Image, cells: tuple[int, int], protocol: str,
              background: tuple[int, int, int, float] | None = None) -> None:
    """Build (and cache) what the ``protocol`` widget will paint for ``image`` at ``cells``: half-cell
    strips or sixel data.  Blocking and thread-safe: call it in a thread.  Other protocols: no-op."""
    if protocol == "halfcell":
        halfcell_strips(image, *cells)
    elif protocol == "sixel" and background is not None:
        presixel(image, cells, background)


class ImagePreview(Widget):
    """Shows one image, scaled to fit, with a text placeholder / error state.

    ``await show_path(path)`` / ``await show_bytes(data)`` decode in a thread; the newest call wins
    if several overlap.  They return True when the image is shown.
    """

    border_title = _BorderRowTitle()  # type: ignore[assignment]
    border_subtitle = _BorderRowTitle(bottom=True)  # type: ignore[assignment]

    DEFAULT_CSS = """
    ImagePreview {
        align: center middle;
        height: 1fr;
        width: 1fr;
    }
    ImagePreview > .image-preview--image {
        width: auto;
        height: auto;
    }
    ImagePreview > .image-preview--placeholder {
        width: 100%;
        height: auto;
        content-align: center middle;
        text-align: center;
        color: $text-muted;
    }
    ImagePreview > .image-preview--placeholder.-error {
        color: $error;
    }
    """

    class Shown(Message):
        """An image is now displayed."""

        def __init__(self, preview: ImagePreview, source: Path | None, size: tuple[int, int]) -> None:
            super().__init__()
            self.preview = preview
            self.source = source
            self.size = size

        @property
        def control(self) -> ImagePreview:
            return self.preview

    max_cells: ClassVar[tuple[int, int] | None] = None
    """Upper bound of the area (in cells) to prescale for; None = the terminal size."""

    def __init__(self, placeholder: str = "No image", *, protocol: str | None = None, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._protocol = protocol
        self._placeholder_text = placeholder
        self._image_widget: Widget | None = None
        self._seq = 0
        self.source: Path | None = None
        """Path of the image shown (None for bytes or nothing)."""
        self.source_size: tuple[int, int] | None = None
        self.error: str = ""
        self._last_source: Path | bytes | None = None
        self._loaded_target: tuple[int, int] = (0, 0)

    @property
    def protocol(self) -> str:
        return self._protocol or current_protocol()

    def compose(self) -> ComposeResult:
        yield Static(self._placeholder_text, classes="image-preview--placeholder", markup=False)

    @property
    def _label(self) -> Static | None:
        try:
            return self.query_one(".image-preview--placeholder", Static)
        except NoMatches:  # being removed
            return None

    def target_pixels(self) -> tuple[int, int]:
        """The largest pixel size this widget could ever need (cells × pixels per cell)."""
        if self.max_cells is not None:
            cols, rows = self.max_cells
        else:
            try:
                size = self.app.size
            except Exception:  # not attached to an app
                size = Size(0, 0)
            cols, rows = (size.width or 200), (size.height or 60)
        pw, ph = cell_pixels(self.protocol)
        return max(8, cols * pw), max(8, rows * ph)

    def set_placeholder(self, text: str) -> None:
        """Show ``text`` instead of an image (the image, if any, is hidden)."""
        self._seq += 1
        self._placeholder_text = text
        self.error = ""
        self._show_text(text, error=False)

    def clear(self) -> None:
        """Remove the image and show the default placeholder."""
        self._seq += 1
        self.source = None
        self.source_size = None
        self.error = ""
        if self._image_widget is not None:
            self._image_widget.image = None  # type: ignore[attr-defined]
        self._show_text(self._placeholder_text, error=False)

    def _show_text(self, text: str, *, error: bool) -> None:
        if self._image_widget is not None:
            self._image_widget.display = False
        if not self.is_mounted:
            self._placeholder_text = text
            return
        label = self._label
        if label is None:
            return
        label.update(text)
        label.set_class(error, "-error")
        label.display = True

    async def show_path(self, path: Path | str, *, digest: str = "") -> bool:
        """Show the image file ``path``.  ``digest``: the sha256 of the image bytes it was saved from
        (``ImageFile.sha256``), so a file whose bytes were just shown with :meth:`show_bytes` reuses
        that decoded image and is not sent to the terminal again."""
        path = Path(path)
        return await self._show(path, path, digest=digest)

    async def show_bytes(self, data: bytes, *, name: str = "") -> bool:
        return await self._show(bytes(data), None, name=name)

    async def _show(self, source: Path | bytes, path: Path | None, *, name: str = "", digest: str = "") -> bool:
        self._seq += 1
        seq = self._seq
        label_name = path.name if path else (name or "image")
        if self.protocol == "none":
            try:
                decoded = await asyncio.to_thread(load_scaled, source, (64, 64))
            except ImageDecodeError as exc:
                return self._failed(seq, label_name, str(exc))
            if seq != self._seq:
                return False
            w, h = decoded.source_size
            self.source, self.source_size, self.error = path, (w, h), ""
            self._show_text(f"{label_name}\n{w}×{h} (image previews are off)", error=False)
            self.post_message(self.Shown(self, path, (w, h)))
            return True
        await self._after_layout()
        target = self.target_pixels()
        box = (self.content_size.width, self.content_size.height)
        warm = self.protocol in ("halfcell", "sixel") and box[0] > 0 and box[1] > 0
        background: tuple[int, int, int, int] | None = None
        if warm and self.protocol == "sixel":
            colour = self.background_colors[1]
            background = (colour.r, colour.g, colour.b, colour.a)

        def prepare() -> Decoded:
            decoded = load_scaled(source, target, digest=digest)
            if warm:  # build the half-cell strips / sixel data for the size the widget is about to get
                cells = fitted_cells(decoded.image.size, box)
                if background is None:
                    halfcell_strips(decoded.image, *cells)
                else:
                    presixel(decoded.image, cells, background)
            return decoded

        try:
            decoded = await asyncio.to_thread(prepare)
        except ImageDecodeError as exc:
            return self._failed(seq, label_name, str(exc))
        if seq != self._seq or not self.is_attached:
            return False
        self.source, self.source_size, self.error = path, decoded.source_size, ""
        self._last_source, self._loaded_target = source, target
        await self._set_image(decoded.image)
        self.post_message(self.Shown(self, path, decoded.source_size))
        return True

    async def show_image(self, image: PILImage.Image, *, source: Path | None = None,
                         source_size: tuple[int, int] | None = None,
                         cells: tuple[int, int] | None = None) -> bool:
        """Show an already decoded (and already sized) PIL image, e.g. a 1:1 crop.  No decode cache;
        the caller keeps ownership of sizing.  With ``cells`` (the widget size the image will get)
        the half-cell strips / sixel data are built in a thread first, not while painting."""
        self._seq += 1
        seq = self._seq
        if self.protocol == "none":
            w, h = source_size or image.size
            self._show_text(f"{source.name if source else 'image'}\n{w}×{h} (image previews are off)", error=False)
            return True
        if cells is not None and cells[0] > 0 and cells[1] > 0:
            await asyncio.to_thread(prerender, image, cells, self.protocol, self._sixel_background())
            if seq != self._seq:
                return False
        self.source, self.source_size, self.error = source, source_size or image.size, ""
        self._last_source = None
        await self._set_image(image)
        return True

    async def _after_layout(self) -> None:
        """A widget shown right after mounting has no size yet; wait (briefly) for one layout so the
        paint data can be prepared in the decode thread for the real size."""
        if self.content_size.area or not self.is_mounted:
            return
        if any(isinstance(node, Widget) and not node.display for node in self.ancestors_with_self):
            return  # hidden (e.g. a ContentSwitcher page): no layout is coming
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def laid_out() -> None:
            if not done.done():
                done.set_result(None)

        self.call_after_refresh(laid_out)
        try:
            await asyncio.wait_for(done, 0.5)
        except TimeoutError:
            pass

    def _sixel_background(self) -> tuple[int, int, int, float] | None:
        if self.protocol != "sixel":
            return None
        colour = self.background_colors[1]
        return (colour.r, colour.g, colour.b, colour.a)

    def on_resize(self) -> None:
        """Re-decode (in the background) only if the widget can now show clearly more pixels than the
        cached copy holds and the source has them."""
        if self._last_source is None or self.source_size is None or self.error:
            return
        want_w, want_h = self.target_pixels()
        have_w, have_h = self._loaded_target
        src_w, src_h = self.source_size
        grow = (want_w > have_w * 1.15 and src_w > have_w) or (want_h > have_h * 1.15 and src_h > have_h)
        if grow:
            source = self._last_source
            if isinstance(source, Path):
                self.run_worker(self.show_path(source), group="image-preview-reload", exclusive=True)
            else:
                self.run_worker(self.show_bytes(source), group="image-preview-reload", exclusive=True)

    def _failed(self, seq: int, name: str, reason: str) -> bool:
        if seq != self._seq:
            return False
        self.source = None
        self.source_size = None
        self.error = f"Cannot decode image {name}: {reason}"
        self._show_text(f"⚠ {self.error}", error=True)
        return False

    async def _set_image(self, image: PILImage.Image) -> None:
        label = self._label if self.is_mounted else None
        if label is not None:
            label.display = False
        if not self.is_attached:
            return
        if self._image_widget is None:
            cls = image_widget_class(self.protocol) or StableUnicodeImage
            self._image_widget = cls(image, classes="image-preview--image")  # type: ignore[call-arg]
            await self.mount(self._image_widget)
        else:
            if self._image_widget.image is not image:  # type: ignore[attr-defined]
                self._image_widget.image = image  # type: ignore[attr-defined]
            self._image_widget.display = True

    @property
    def image_widget(self) -> Widget | None:
        """The textual-image widget in use (None until the first image)."""
        return self._image_widget


class Thumbnail(ImagePreview):
    """A small preview; loads its source when :meth:`load` is called (e.g. when scrolled into view)."""

    DEFAULT_CSS = """
    Thumbnail {
        width: 24;
        height: 12;
    }
    """

    def __init__(self, source: Path | bytes | None = None, *, caption: str = "", protocol: str | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(caption or "…", protocol=protocol, name=name, id=id, classes=classes)
        self.pending_source = source
        self.loaded = False

    def target_pixels(self) -> tuple[int, int]:
        size = self.size
        if not size.area:  # not laid out yet: use the CSS size when it is in cells
            w, h = self.styles.width, self.styles.height
            size = Size(int(w.value) if w is not None and w.is_cells else 24,
                        int(h.value) if h is not None and h.is_cells else 12)
        pw, ph = cell_pixels(self.protocol)
        return max(8, size.width * pw), max(8, size.height * ph)

    async def load(self) -> bool:
        """Decode and show the pending source once (no-op when already loaded)."""
        if self.loaded or self.pending_source is None:
            return self.loaded
        self.loaded = True
        source = self.pending_source
        if isinstance(source, bytes | bytearray):
            return await self.show_bytes(bytes(source))
        return await self.show_path(source)


class ThumbStrip(HorizontalScroll):
    """A horizontal row of thumbnails (draft images while generating, a turn's finals, …)."""

    DEFAULT_CSS = """
    ThumbStrip {
        height: 8;
        width: 1fr;
    }
    ThumbStrip > Thumbnail {
        width: 16;
        height: 8;
        margin-right: 1;
    }
    """

    async def add_bytes(self, data: bytes, caption: str = "") -> Thumbnail:
        thumb = Thumbnail(data, caption=caption)
        await self.mount(thumb)
        self.scroll_end(animate=False)
        await thumb.load()
        return thumb

    async def add_path(self, path: Path, caption: str = "") -> Thumbnail:
        thumb = Thumbnail(path, caption=caption or path.name)
        await self.mount(thumb)
        await thumb.load()
        return thumb

    async def clear(self) -> None:
        await self.remove_children()

    @property
    def thumbnails(self) -> list[Thumbnail]:
        return list(self.query_children(Thumbnail))


__all__ = [
    "CACHE",
    "FULL_SIZE",
    "PROTOCOLS",
    "STATS",
    "ImageDecodeError",
    "ImagePreview",
    "PreviewCache",
    "StableHalfcellImage",
    "StableSixelImage",
    "StableTGPImage",
    "StableUnicodeImage",
    "ThumbStrip",
    "Thumbnail",
    "cell_pixels",
    "current_protocol",
    "decode_scaled",
    "detected_protocol",
    "hoist_colour_registers",
    "image_widget_class",
    "kitty_placeholders_supported",
    "load_scaled",
    "prerender",
    "probe_notes",
    "select_image_protocol",
]

