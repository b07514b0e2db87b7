"""The image widgets the screens use: :class:`ImagePreview`, :class:`Thumbnail`, :class:`ThumbStrip`.

:class:`ImagePreview` decodes with Pillow in a thread, downscales ONCE to the largest size the widget
can fill, keeps the result in a bounded LRU cache (:mod:`~banana_studio.tui.images.decode`), and hands
the small PIL image to the chosen protocol's widget.  Those widgets never rebuild their renderable (nor
re-upload / re-encode the image) for an unrelated repaint, and the expensive paint data -- half-cell
strips and sixel data -- is prepared in threads, never on the event loop (a size change repaints once
the new data is ready).  :class:`Thumbnail` / :class:`ThumbStrip` are small previews (drafts, gallery)
on the same machinery.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import HorizontalScroll
from textual.css.query import NoMatches
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static

from banana_studio.tui.images import cells as cells_mod
from banana_studio.tui.images import halfcell, sixel
from banana_studio.tui.images.background import in_background
from banana_studio.tui.images.cells import StableTGPImage, StableUnicodeImage
from banana_studio.tui.images.decode import Decoded, ImageDecodeError, load_scaled
from banana_studio.tui.images.halfcell import StableHalfcellImage
from banana_studio.tui.images.patches import BorderRowTitle
from banana_studio.tui.images.protocol import cell_pixels, current_protocol, fitted_cells
from banana_studio.tui.images.sixel import StableSixelImage

_WIDGETS: dict[str, type[Widget]] = {
    "sixel": StableSixelImage,
    "kitty": StableTGPImage,
    "halfcell": StableHalfcellImage,
    "unicode": StableUnicodeImage,
}


def image_widget_class(protocol: str | None = None) -> type[Widget] | None:
    """The textual-image widget class for ``protocol`` (None for "none")."""
    return _WIDGETS.get(protocol or current_protocol())


def prerender(image: PILImage.Image, cells: tuple[int, int], protocol: str,
              background: tuple[int, int, int, float] | None = None) -> None:
    """Build (and cache) what the ``protocol`` widget will paint for ``image`` at ``cells``: half-cell
    strips, sixel data or the kitty upload.  Blocking and thread-safe: call it in a thread.  Other protocols: no-op."""
    if protocol == "halfcell":
        halfcell.halfcell_strips(image, *cells)
    elif protocol == "sixel" and background is not None:
        sixel.presixel(image, cells, background)
    elif protocol == "kitty":
        cells_mod.kitty_payload(image, cells_mod.kitty_pixels(image.size, ("auto", "auto"), Size(*cells)))


class ImagePreview(Widget):
    """Shows one image, scaled to fit, with a text placeholder / error state.

    ``await show_path(path)`` / ``await show_bytes(data)`` decode in a thread; the newest call wins
    if several overlap.  They return True when the image is shown.
    """

    border_title = BorderRowTitle()  # type: ignore[assignment]
    border_subtitle = BorderRowTitle(bottom=True)  # type: ignore[assignment]

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
                decoded = await in_background(load_scaled, source, (64, 64))
            except ImageDecodeError as exc:
                return self._failed(seq, label_name, str(exc))
            if seq != self._seq:
                return False
            w, h = decoded.source_size
            self.source, self.source_size, self.error = path, (w, h), ""
            self._show_text(f"{label_name}\n{w}×{h} (image previews are off)", error=False)
            return True
        await self._after_layout()
        target = self.target_pixels()
        box = (self.content_size.width, self.content_size.height)
        warm = self.protocol in ("halfcell", "sixel", "kitty") and box[0] > 0 and box[1] > 0
        background: tuple[int, int, int, int] | None = None
        if warm and self.protocol == "sixel":
            colour = self.background_colors[1]
            background = (colour.r, colour.g, colour.b, colour.a)

        def prepare() -> Decoded:
            decoded = load_scaled(source, target, digest=digest)
            if warm:  # build the half-cell strips / sixel data / kitty upload for the size the widget will get
                cells = fitted_cells(decoded.image.size, box)
                if background is not None:
                    sixel.presixel(decoded.image, cells, background)
                else:
                    prerender(decoded.image, cells, self.protocol)
            return decoded

        try:
            decoded = await in_background(prepare)
        except ImageDecodeError as exc:
            return self._failed(seq, label_name, str(exc))
        if seq != self._seq or not self.is_attached:
            return False
        self.source, self.source_size, self.error = path, decoded.source_size, ""
        self._last_source, self._loaded_target = source, target
        await self._set_image(decoded.image)
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
            await in_background(prerender, image, cells, self.protocol, self._sixel_background())
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


