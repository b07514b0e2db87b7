"""Kitty (graphics protocol drawn with Unicode placeholders) and greyscale Unicode block images.

Both are textual-image's widgets, made to reuse their renderable while nothing that shapes it changed
(upstream builds a new one on every ``render()``).
"""

from __future__ import annotations

from typing import Any

import textual_image.widget as _ti_widget
from rich.console import RenderableType

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


class StableTGPImage(_StableRenderMixin, _ti_widget.TGPImage, Renderable=_ti_widget.TGPRenderable):
    """Kitty graphics protocol image widget (needs Unicode placeholders: kitty ≥ 0.28, Ghostty)."""
