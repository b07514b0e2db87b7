"""Half-cell images: ``▀`` cells with truecolour foreground (upper pixel) and background (lower pixel).

The strips are built once per (image, size) by :func:`halfcell_strips` -- in a thread, cached -- and
:class:`StableHalfcellImage` (a line-API widget) only looks them up while painting.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence

from PIL import Image as PILImage
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.filter import ANSIToTruecolor, LineFilter
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
from textual_image._geometry import ImageSize
from textual_image._terminal import get_cell_size

from banana_studio.tui.images.background import prepare_then_repaint
from banana_studio.tui.images.protocol import fitted_cells
from banana_studio.tui.images.stats import STATS

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
        old, self._image = self._image, value
        # The next draft (or the final image) of a generation has the same pixel size: same cells, so a
        # repaint is enough -- a layout pass would lay out the whole screen.
        self.refresh(layout=old is None or value is None or old.size != value.size)

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
    _bs_failed: tuple[int, int, int] | None = None

    def get_line_filters(self) -> Sequence[LineFilter]:
        """The app's filters, without ``ANSIToTruecolor`` while the picture's strips fill every line.

        That filter turns ANSI colours into truecolour, segment by segment, on every line a frame
        paints: 10-15 ms of a frame showing a 100x38-cell picture (~3,800 segments), and a no-op for
        these lines, whose every segment carries a truecolour foreground and background of its own
        (:func:`halfcell_strips`).  Blank lines (no picture yet) keep it: they show the background."""
        filters = super().get_line_filters()
        size = self.content_size
        image = self._image
        if image is None or not size.area or _halfcell_cached(image, size.width, size.height) is None:
            return filters
        return [f for f in filters if not isinstance(f, ANSIToTruecolor)]

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
                self.run_worker(prepare_then_repaint(self, key, halfcell_strips, image, size.width, size.height),
                                group="halfcell-build", exclusive=True, exit_on_error=False)
            return Strip.blank(size.width)
        return strips[y] if y < len(strips) else Strip.blank(size.width)
