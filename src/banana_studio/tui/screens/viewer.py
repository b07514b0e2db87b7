"""Full-screen image viewer: fit to the terminal, or 1:1 (native pixels) with keyboard panning.

1:1 never hands the full-resolution image to the terminal renderer: the full image is decoded once
in a thread (and cached), and only the crop that fits the viewport is shown, so panning costs a
crop + one small render regardless of the source size.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from banana_studio.tui.images import FULL_SIZE, ImageDecodeError, ImagePreview, cell_pixels, load_scaled


class ViewerScreen(Screen[None]):
    """Shows ``paths[index]``; ←/→ (or n/p) browse, ``z`` toggles fit ↔ 1:1, arrows pan in 1:1."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="viewer.close"),
        Binding("z,1", "toggle_zoom", "Fit / 1:1", id="viewer.zoom"),
        Binding("n,pagedown", "next", "Next", id="viewer.next"),
        Binding("p,pageup", "prev", "Prev", id="viewer.prev"),
        Binding("left", "left", "◀", show=False, id="viewer.left"),
        Binding("right", "right", "▶", show=False, id="viewer.right"),
        Binding("up", "pan(0, -1)", "Pan up", show=False, id="viewer.pan_up"),
        Binding("down", "pan(0, 1)", "Pan down", show=False, id="viewer.pan_down"),
        Binding("shift+left", "pan(-4, 0)", "Pan far left", show=False, id="viewer.pan_far_left"),
        Binding("shift+right", "pan(4, 0)", "Pan far right", show=False, id="viewer.pan_far_right"),
        Binding("shift+up", "pan(0, -4)", "Pan far up", show=False, id="viewer.pan_far_up"),
        Binding("shift+down", "pan(0, 4)", "Pan far down", show=False, id="viewer.pan_far_down"),
        Binding("home", "center", "Centre", show=False, id="viewer.center"),
    ]

    PAN_STEPS = 8
    """An arrow press moves 1/PAN_STEPS of the viewport."""

    def __init__(self, paths: list[Path], index: int = 0, *, titles: list[str] | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.paths = [Path(p) for p in paths]
        self.titles = titles or []
        self.index = max(0, min(index, len(self.paths) - 1)) if self.paths else 0
        self.one_to_one = False
        self.offset = (0, 0)
        """Top-left pixel of the 1:1 viewport."""
        self._full_size: tuple[int, int] | None = None
        self._pan_lock = asyncio.Lock()

    def compose(self) -> ComposeResult:
        with Vertical(id="viewer-body"):
            yield Static("", id="viewer-title", markup=False)
            yield ImagePreview("No image", id="viewer-image")
            yield Static("", id="viewer-info", markup=False)
        yield Footer()

    @property
    def preview(self) -> ImagePreview:
        return self.query_one("#viewer-image", ImagePreview)

    @property
    def current(self) -> Path | None:
        return self.paths[self.index] if self.paths else None

    def on_mount(self) -> None:
        # Not awaited here: the preview first needs a layout (so its paint data can be prepared in
        # the decode thread for its real size), and layout waits for this handler to return.
        self.run_worker(self._show(), group="viewer-show", exclusive=True)

    async def _show(self) -> None:
        path = self.current
        if path is None:
            self.preview.set_placeholder("Nothing to show.")
            self._update_info()
            return
        if self.one_to_one:
            await self._show_crop()
        else:
            self._reset_image_size()
            await self.preview.show_path(path)
        self._update_info()

    def _update_info(self) -> None:
        path = self.current
        title = ""
        if path is not None:
            title = self.titles[self.index] if self.index < len(self.titles) else path.name
        count = f"{self.index + 1}/{len(self.paths)}" if self.paths else "0/0"
        self.query_one("#viewer-title", Static).update(Content(f"{count}  {title}"))  # text, not markup
        size = self.preview.source_size or self._full_size
        mode = "1:1" if self.one_to_one else "fit"
        parts = [f"mode {mode}"]
        if size:
            parts.append(f"{size[0]}×{size[1]} px")
        if self.one_to_one and size:
            vw, vh = self._viewport_pixels()
            x, y = self.offset
            parts.append(f"x {x}–{min(size[0], x + vw)}  y {y}–{min(size[1], y + vh)}")
        if self.preview.error:
            parts.append(self.preview.error)
        elif path is not None:
            parts.append(str(path))
        self.query_one("#viewer-info", Static).update("  ·  ".join(parts))

    # -- fit / 1:1 -----------------------------------------------------------------------------

    def _viewport_pixels(self) -> tuple[int, int]:
        size = self.preview.size
        pw, ph = cell_pixels(self.preview.protocol)
        return max(1, size.width * pw), max(1, size.height * ph)

    def _reset_image_size(self) -> None:
        widget = self.preview.image_widget
        if widget is not None:
            widget.styles.width = "auto"
            widget.styles.height = "auto"

    async def _show_crop(self) -> None:
        path = self.current
        if path is None:
            return
        async with self._pan_lock:
            try:
                decoded = await asyncio.to_thread(load_scaled, path, FULL_SIZE)
            except ImageDecodeError as exc:
                self.preview.set_placeholder(f"⚠ Cannot decode image {path.name}: {exc}")
                return
            full = decoded.image
            self._full_size = full.size
            vw, vh = self._viewport_pixels()
            x = max(0, min(self.offset[0], full.width - vw))
            y = max(0, min(self.offset[1], full.height - vh))
            self.offset = (x, y)
            box = (x, y, min(full.width, x + vw), min(full.height, y + vh))
            crop = await asyncio.to_thread(full.crop, box)
            pw, ph = cell_pixels(self.preview.protocol)
            cells = (max(1, round(crop.width / pw)), max(1, round(crop.height / ph)))
            await self.preview.show_image(crop, source=path, source_size=full.size, cells=cells)
            widget = self.preview.image_widget
            if widget is not None:
                widget.styles.width = cells[0]
                widget.styles.height = cells[1]

    async def action_toggle_zoom(self) -> None:
        self.one_to_one = not self.one_to_one
        if self.one_to_one:
            await self._center_offset()
        await self._show()

    async def _center_offset(self) -> None:
        path = self.current
        size = self.preview.source_size or self._full_size
        if size is None and path is not None:
            try:
                size = (await asyncio.to_thread(load_scaled, path, FULL_SIZE)).source_size
            except ImageDecodeError:
                size = None
        if size is None:
            self.offset = (0, 0)
            return
        vw, vh = self._viewport_pixels()
        self.offset = (max(0, (size[0] - vw) // 2), max(0, (size[1] - vh) // 2))

    async def action_center(self) -> None:
        if self.one_to_one:
            await self._center_offset()
            await self._show()

    async def action_pan(self, dx: int, dy: int) -> None:
        if not self.one_to_one:
            return
        vw, vh = self._viewport_pixels()
        step_x, step_y = max(1, vw // self.PAN_STEPS), max(1, vh // self.PAN_STEPS)
        self.offset = (max(0, self.offset[0] + dx * step_x), max(0, self.offset[1] + dy * step_y))
        await self._show_crop()
        self._update_info()

    async def action_left(self) -> None:
        if self.one_to_one:
            await self.action_pan(-1, 0)
        else:
            await self.action_prev()

    async def action_right(self) -> None:
        if self.one_to_one:
            await self.action_pan(1, 0)
        else:
            await self.action_next()

    async def _go(self, step: int) -> None:
        if len(self.paths) < 2:
            self.app.bell()
            return
        self.index = (self.index + step) % len(self.paths)
        self._full_size = None
        if self.one_to_one:
            await self._center_offset()
        await self._show()

    async def action_next(self) -> None:
        await self._go(1)

    async def action_prev(self) -> None:
        await self._go(-1)

    def action_close(self) -> None:
        self.dismiss(None)

    async def on_resize(self) -> None:
        if self.one_to_one:
            self.call_after_refresh(self._refresh_crop)

    async def _refresh_crop(self) -> None:
        await self._show_crop()
        self._update_info()
