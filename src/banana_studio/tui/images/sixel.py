"""Sixel images: encoded once per (image, size) in a thread, written to the terminal only when needed.

* :func:`presixel` encodes a whole picture for a widget size (thread-safe, cached):
  :class:`~banana_studio.tui.images.preview.ImagePreview` calls it in its decode thread, so the event
  loop only looks the data up.
* :class:`StableSixelImpl` paints it: partial repaints reuse the encoding, a miss is encoded in a
  thread, the cursor is put back where Textual expects it (textual-image #146), and a picture already
  on the terminal is not written again when Textual repaints its region for nothing (a layout pass
  around it, its size settling a frame later): only when its data or place changed, a widget was
  drawn over it, or the whole screen was redrawn -- the journal kept by
  :mod:`~banana_studio.tui.images.patches`.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Any

import textual_image._pixeldata as _ti_pixeldata
import textual_image.widget as _ti_widget
import textual_image.widget.sixel as _ti_widget_sixel
from PIL import Image as PILImage
from rich.control import Control
from rich.segment import ControlType, Segment
from rich.style import Style
from textual.app import ComposeResult
from textual.dom import NoScreen
from textual.geometry import Region, Size
from textual.strip import Strip
from textual_image._terminal import get_cell_size

from banana_studio.tui.images.background import in_background
from banana_studio.tui.images.patches import ON_TERMINAL, Frames, fixed_image_to_sixels
from banana_studio.tui.images.stats import STATS

_NULL_STYLE = Style()

_SIXEL_CACHE: OrderedDict[tuple[Any, ...], tuple[weakref.ref[PILImage.Image], str]] = OrderedDict()
_SIXEL_LOCK = threading.Lock()
_SIXEL_MAX = 16
_RECENT_MAX = 4


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
    cell size, background, options) and thread-safe, exactly as :class:`StableSixelImpl` would encode
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
    sixel = fixed_image_to_sixels(data.pil_image, options, background)
    with _SIXEL_LOCK:
        _SIXEL_CACHE[key] = (weakref.ref(image), sixel)
        while len(_SIXEL_CACHE) > _SIXEL_MAX:
            _SIXEL_CACHE.popitem(last=False)
    return sixel

class StableSixelImpl(_ti_widget_sixel._ImageSixelImpl):
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
        shown = (id(self.screen), region, placement.visible_region, encode, Frames.epoch)
        previous = self._bs_on_terminal
        if not Frames.touches(placement.visible_region):
            # Asked for only because it lies inside the bounding box of this frame's updates: nothing
            # of it is written, so what the terminal shows there (and what we believe of it) stays.
            return [Strip([_move_segment(region.x + crop.right, region.y + y)], cell_length=crop.width)
                    for y in range(crop.y, crop.bottom)]
        covered = self._covered(placement.visible_region)
        # The picture travels in the strip of the last row asked for; a frame that does not write that
        # row (this widget only lies inside the bounding box of other updates) never sends it.
        sent = Frames.writes_row(region.y + crop.bottom - 1, placement.visible_region.x,
                                 placement.visible_region.right)
        self._bs_on_terminal = None if covered or not sent else (shown, sixel)
        if not covered and sent:
            ON_TERMINAL.add(self)
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
    _bs_pending_image: Any = None
    _bs_recent: OrderedDict[tuple[Any, ...], tuple[weakref.ref[Any], str]] | None = None
    """The last few encodes of this widget (key -> (image, sixel data))."""
    _bs_failed: tuple[Any, ...] | None = None
    """The last key whose encode failed (retried once, on the next paint)."""
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
        # Same image *object* (upstream's ``is_hit`` compares PIL images with ``==``: both copied to
        # bytes and compared, tens of milliseconds on the event loop at every repaint).
        if cached is not None and cached.image is image and cached[1:6] == (encode, size, cells, options, background):
            self._bs_pending = self._bs_pending_image = None
            return cached.sixel_data
        key = (id(image), encode, size, cells, options, background)
        recent = self._bs_recent.get(key) if self._bs_recent is not None else None
        if recent is not None and recent[0]() is image:
            # A part encoded a moment ago (a clipped picture whose visible part and asked-for rows
            # alternate between two shapes): use it, do not start the encode of the other shape over.
            self._bs_pending = self._bs_pending_image = None
            self._cached_sixels = _ti_widget_sixel._CachedSixels(
                image, encode, size, cells, options, background, recent[1])
            return recent[1]
        full = encode == Region(0, 0, size.width, size.height) and isinstance(image, PILImage.Image)
        if full:
            hit = _presixel_cached(image, (size.width, size.height), background, options)  # type: ignore[arg-type]
            if hit is not None:
                # An encode still running for this widget must not repaint it.
                self._bs_pending = self._bs_pending_image = None
                self._cached_sixels = _ti_widget_sixel._CachedSixels(
                    image, encode, size, cells, options, background, hit)
                return hit
        # The pending mark names the image object too: ``id()`` of a freed image is reused by the next
        # one, and a mark left by an encode of the old image would then read as "already being encoded".
        if self._bs_pending != key or self._bs_pending_image is not image:
            self._bs_pending = key
            self._bs_pending_image = image

            def compute() -> str:
                if full:
                    return presixel(image, (size.width, size.height), background, options)  # type: ignore[arg-type]
                data = _ti_pixeldata.PixelData(image)
                data = _scale_to(data, size, cells)
                data = self._crop_image(data, encode, cells)
                return fixed_image_to_sixels(data.pil_image, options, background)

            def mine() -> bool:
                return self._bs_pending == key and self._bs_pending_image is image

            async def run() -> None:
                try:
                    sixel = await in_background(compute)
                except BaseException as exc:
                    # A failed or cancelled encode must not leave this key pending for ever: every
                    # later paint would return "being encoded" and the picture would stay a blank box.
                    if mine():
                        self._bs_pending = self._bs_pending_image = None
                        if self._bs_failed != key and isinstance(exc, Exception):  # one more try, not a loop
                            self._bs_failed = key
                            self.refresh()
                    if not isinstance(exc, Exception):
                        raise
                    return
                if self._bs_recent is None:
                    self._bs_recent = OrderedDict()
                self._bs_recent[key] = (weakref.ref(image), sixel)
                while len(self._bs_recent) > _RECENT_MAX:
                    self._bs_recent.popitem(last=False)
                if not mine():
                    return  # a newer encode was started (it repaints when done)
                self._bs_pending = self._bs_pending_image = None
                if self.image is image:
                    self._cached_sixels = _ti_widget_sixel._CachedSixels(
                        image, encode, size, cells, options, background, sixel)
                # Repaint in both cases: with a new image the paint starts its encode (nothing else
                # would: the pending mark was this one's until now).
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
        yield StableSixelImpl(self.image, self._sixel_options)

