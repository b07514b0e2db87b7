"""Terminal images: protocol selection, cached pre-scaled previews, thumbnails.

IMPORTANT -- import order: importing this package probes the terminal (:mod:`.probe`, imported
first, is the one module with that rule; its docstring says why it must run before ``App.run()``).
``cli/studio.py`` imports this package and calls :func:`select_image_protocol` before the app is
created.

One module per concern, the way textual-image keeps one per protocol:

* :mod:`.probe` -- the import-time terminal probe made safe (0×0 pty, tmux).
* :mod:`.patches` -- every global change to Textual / textual-image: the xterm sixel register fix in
  textual-image's encoder, the compositor journal that lets a sixel picture stay on the terminal, the
  border title that repaints one row.
* :mod:`.protocol` -- which renderer this process uses; pixels per cell; the size a picture takes.
* :mod:`.decode` -- Pillow decoding + the LRU of pre-scaled images (no Textual).
* :mod:`.halfcell`, :mod:`.sixel`, :mod:`.cells` -- the renderers: half-cell strips, sixel data,
  kitty / Unicode renderables; each built once per size, in a thread where it is expensive.
* :mod:`.preview` -- the widgets the screens use: :class:`ImagePreview`, :class:`Thumbnail`,
  :class:`ThumbStrip`.
* :mod:`.stats` -- counters for tests and benchmarks.
"""

from __future__ import annotations

from banana_studio.tui.images import probe  # noqa: F401  (the terminal probe: FIRST, before textual-image)

# isort: split
from banana_studio.tui.images import patches  # noqa: F401  (installs the patches)
from banana_studio.tui.images.cells import StableTGPImage, StableUnicodeImage
from banana_studio.tui.images.decode import (
    CACHE,
    FULL_SIZE,
    Decoded,
    ImageDecodeError,
    PreviewCache,
    decode_scaled,
    load_scaled,
)
from banana_studio.tui.images.halfcell import StableHalfcellImage, halfcell_strips
from banana_studio.tui.images.patches import hoist_colour_registers
from banana_studio.tui.images.preview import ImagePreview, Thumbnail, ThumbStrip, image_widget_class, prerender
from banana_studio.tui.images.probe import probe_notes
from banana_studio.tui.images.protocol import (
    PROTOCOLS,
    cell_pixels,
    current_protocol,
    detected_protocol,
    fitted_cells,
    get_cell_size,
    kitty_placeholders_supported,
    select_image_protocol,
)
from banana_studio.tui.images.sixel import StableSixelImage, StableSixelImpl, presixel
from banana_studio.tui.images.stats import STATS, RenderStats

__all__ = [
    "CACHE",
    "FULL_SIZE",
    "PROTOCOLS",
    "STATS",
    "Decoded",
    "ImageDecodeError",
    "ImagePreview",
    "PreviewCache",
    "RenderStats",
    "StableHalfcellImage",
    "StableSixelImage",
    "StableSixelImpl",
    "StableTGPImage",
    "StableUnicodeImage",
    "ThumbStrip",
    "Thumbnail",
    "cell_pixels",
    "current_protocol",
    "decode_scaled",
    "detected_protocol",
    "fitted_cells",
    "get_cell_size",
    "halfcell_strips",
    "hoist_colour_registers",
    "image_widget_class",
    "kitty_placeholders_supported",
    "load_scaled",
    "prerender",
    "presixel",
    "probe_notes",
    "select_image_protocol",
]
