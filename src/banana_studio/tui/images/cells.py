"""Kitty (graphics protocol drawn with Unicode placeholders) and greyscale Unicode block images.

Both are textual-image's widgets, made to reuse their renderable while nothing that shapes it changed
(upstream builds a new one on every ``render()``).  The kitty widget also never scales and PNG-encodes
its upload on the event loop (tens of milliseconds for a preview, ~100 ms under load): the upload is
prepared by :func:`kitty_payload` -- in :class:`~banana_studio.tui.images.preview.ImagePreview`'s
decode thread for the size the widget will get, or in a thread of its own after a resize -- and the
widget paints once it is ready.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any

import textual_image._pixeldata as _ti_pixeldata
import textual_image.renderable.tgp as _ti_tgp
import textual_image.widget as _ti_widget
from PIL import Image as PILImage
from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual_image._geometry import ImageSize
from textual_image._terminal import get_cell_size

from banana_studio.tui.images.background import prepare_then_repaint
from banana_studio.tui.images.stats import STATS


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


class StableUnicodeImage(_StableRenderMixin, _ti_widget.UnicodeImage, Renderable=_ti_widget.UnicodeRenderable):
    """Greyscale block-character image widget."""


# -- kitty ----------------------------------------------------------------------------------------

_KITTY_CACHE: OrderedDict[tuple[int, int, int], tuple[weakref.ref[PILImage.Image], str]] = OrderedDict()
_KITTY_LOCK = threading.Lock()
_KITTY_MAX = 8


def kitty_pixels(image_size: tuple[int, int], styled: tuple[Any, Any], content: Size) -> tuple[int, int]:
    """The pixel size textual-image's kitty renderable uploads for a widget of ``content`` cells."""
    size = ImageSize(image_size[0], image_size[1], *styled)
    return size.get_pixel_size(content.width, content.height, get_cell_size())


def kitty_cached(image: PILImage.Image, pixels: tuple[int, int]) -> str | None:
    """The :func:`kitty_payload` result if already built (never builds)."""
    with _KITTY_LOCK:
        hit = _KITTY_CACHE.get((id(image), *pixels))
        if hit is not None and hit[0]() is image:
            return hit[1]
    return None


def kitty_payload(image: PILImage.Image, pixels: tuple[int, int]) -> str:
    """The base64 PNG the kitty renderable uploads for ``image`` at ``pixels`` (exactly upstream's
    scaling and encoding).  Thread-safe and cached; blocking: call it in a thread."""
    hit = kitty_cached(image, pixels)
    if hit is not None:
        return hit
    payload: str = _ti_pixeldata.PixelData(image).scaled(*pixels).to_base64()
    with _KITTY_LOCK:
        _KITTY_CACHE[(id(image), *pixels)] = (weakref.ref(image), payload)
        while len(_KITTY_CACHE) > _KITTY_MAX:
            _KITTY_CACHE.popitem(last=False)
    return payload


def write_terminal(sequence: str) -> None:
    """Write to the terminal outside Textual's output, as textual-image's kitty renderable does."""
    out = sys.__stdout__
    if out is None:
        raise _ti_tgp.TerminalError("sys.__stdout__ is None")
    out.write(sequence)
    out.flush()


class _PreparedTGPRenderable(_ti_widget.TGPRenderable):
    """textual-image's kitty renderable, uploading the payload prepared by :func:`kitty_payload`."""

    _bs_source: PILImage.Image | None = None
    _bs_strips: tuple[Size, list[Strip]] | None = None

    def _send_image_to_terminal(self, width: int, height: int) -> None:
        payload = kitty_cached(self._bs_source, (width, height)) if self._bs_source is not None else None
        if payload is None:  # a size nobody predicted: encode here, as upstream does
            super()._send_image_to_terminal(width, height)
            return
        self.terminal_image_id = next(type(self)._image_id_counter)
        # Upstream's messages (4096-byte chunks, m=1 until the last), written at once: one write and
        # one flush instead of one per chunk (hundreds for a preview, ~30 ms on the event loop).
        ident = self.terminal_image_id
        n = len(payload)
        sequence = "".join(
            f"{_ti_tgp._TGP_MESSAGE_START}i={ident},m={1 if start + 4096 < n else 0},f=100,q=2;"
            f"{payload[start:start + 4096]}{_ti_tgp._TGP_MESSAGE_END}" for start in range(0, n, 4096))
        write_terminal(sequence)


class StableTGPImage(_ti_widget.TGPImage, Renderable=_PreparedTGPRenderable):
    """Kitty graphics protocol image widget (needs Unicode placeholders: kitty ≥ 0.28, Ghostty).

    Reuses its renderable like the other widgets; a renderable for a new image or size is built --
    and its upload scaled and PNG-encoded -- in a thread, and painted when ready."""

    _bs_key: tuple[Any, ...] | None = None
    _bs_pending: tuple[Any, ...] | None = None
    _bs_failed: tuple[Any, ...] | None = None

    def render(self) -> RenderableType:
        widget: Any = self
        image = widget._image
        if not image:
            return ""
        styled = widget._get_styled_size()
        size = widget.content_size
        key = (id(image), styled, size)
        if widget._renderable is not None and key == self._bs_key:
            return widget._renderable  # type: ignore[no-any-return]
        pixels = kitty_pixels(image.size, styled, size) if isinstance(image, PILImage.Image) else None
        if pixels is not None and pixels[0] > 0 and pixels[1] > 0 and kitty_cached(image, pixels) is None:
            if self._bs_pending != key:
                self._bs_pending = key
                self.run_worker(prepare_then_repaint(self, key, kitty_payload, image, pixels),
                                group="kitty-encode", exclusive=True, exit_on_error=False)
            return ""
        self._bs_pending = None
        if widget._renderable is not None:
            widget._renderable.cleanup()
            widget._renderable = None
        STATS.renderables += 1
        renderable = widget._Renderable(image, *styled)
        renderable._bs_source = image
        widget._renderable = renderable
        self._bs_key = key
        return renderable  # type: ignore[no-any-return]

    def render_line(self, y: int) -> Strip:
        """The placeholder cells of the uploaded picture, built once per upload and size.

        Rendering the renderable through Rich for every paint cost ~20 ms for a 100x38-cell preview
        (each row is ~400 code points, mostly zero-width diacritics, measured one by one): the
        slowest part of a frame that shows a new picture.  The rows are the renderable's own
        (upload, placement, then ``_render_diacritics``), on the widget's style as Textual puts them."""
        renderable = self.render()
        if not isinstance(renderable, _PreparedTGPRenderable):
            return super().render_line(y)  # nothing to show yet, or no image: Textual's blank line
        size = self.content_size
        strips = renderable._bs_strips
        if strips is None or strips[0] != size:
            strips = (size, _placeholder_rows(renderable, size, self.rich_style))
            renderable._bs_strips = strips
        rows = strips[1]
        return rows[y] if y < len(rows) else Strip.blank(size.width, self.rich_style)


def _placeholder_rows(renderable: _PreparedTGPRenderable, size: Size, base: Style) -> list[Strip]:
    """What ``renderable.__rich_console__`` yields for ``size`` cells (uploading on the first call),
    as one strip of ``size.width`` cells per row."""
    cells = get_cell_size()
    width, height = renderable._render_size.get_cell_size(size.width, size.height, cells)
    if not renderable.terminal_image_id:
        renderable._send_image_to_terminal(*renderable._render_size.get_pixel_size(size.width, size.height, cells))
        renderable._create_virtual_placement(width, height)
    rows = []
    for segment in renderable._render_diacritics(width, height):
        strip = Strip([Segment(segment.text.rstrip("\n"), base + segment.style)], width)
        rows.append(strip.extend_cell_length(size.width, base) if width < size.width else strip)
    return rows
