"""Full-screen image viewer: fit to the terminal, or 1:1 (native pixels) with keyboard panning.

``r`` marks regions for a region edit (tui/widgets/region_overlay.py, tui/region_flow.py), ``d``
toggles the change map (where the turn differs from its parent), ``o`` switches a protected region
edit between the protected picture and the model's untouched output.

1:1 never hands the full-resolution image to the terminal renderer: the full image is decoded once
in a thread (and cached), and only the crop that fits the viewport is shown, so panning costs a
crop + one small render regardless of the source size.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

from banana_studio.domain.region import Box
from banana_studio.domain.safetext import display_text
from banana_studio.tui import actions, region_flow
from banana_studio.tui.images import FULL_SIZE, ImageDecodeError, ImagePreview, cell_pixels, load_scaled
from banana_studio.tui.widgets.footer import StudioFooter
from banana_studio.tui.widgets.region_overlay import RegionCanvas

if TYPE_CHECKING:
    from banana_studio.domain.turn import Turn


class ViewerScreen(Screen[None]):
    """Shows ``paths[index]``; ←/→ (or n/p) browse, ``z`` toggles fit ↔ 1:1, arrows pan in 1:1."""

    BINDINGS = actions.bindings("viewer")

    PAN_STEPS = 8
    """An arrow press moves 1/PAN_STEPS of the viewport."""

    def __init__(self, paths: list[Path], index: int = 0, *, titles: list[str] | None = None,
                 region_mode: bool = False, region_boxes: tuple[Box, ...] = (),
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._start_in_region = region_mode
        self._start_boxes = tuple(region_boxes)
        """Rectangles to start region mode with (dragged on the main preview), else the turn's own."""
        self.region_turn: Turn | None = None
        """The turn being region-edited (region mode on), else None."""
        self.change_map_on = False
        self.change_caption = ""
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
        yield StudioFooter()  # at 80 columns the least important keys give way

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
        if self._start_in_region:
            self.run_worker(self.action_region(), group="viewer-region")

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
        if self.region_canvas is not None:
            boxes = self.region_canvas.regions
            self.query_one("#viewer-info", Static).update(f"{region_flow.describe(boxes)}  ·  {region_flow.HELP}")
            return
        if self.change_map_on:
            self.query_one("#viewer-info", Static).update(Content(display_text(self.change_caption, one_line=True)
                                                                  + "  ·  d: back to the picture"))
            return
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
        if self.region_canvas is not None:
            return
        self.change_map_on = False
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
        if self.region_canvas is not None:  # esc leaves region mode first
            self._leave_region()
            return
        self.dismiss(None)

    # -- region edit, change map, protected / model output (issue 15) ----------------------------

    @property
    def region_canvas(self) -> RegionCanvas | None:
        found = self.query(RegionCanvas)
        return found.first() if found else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "region_prompt":
            return self.region_canvas is not None
        if action in ("toggle_zoom", "change_map", "switch_output", "next", "prev", "outpaint", "region"):
            return self.region_canvas is None
        return True

    async def action_region(self) -> None:
        if self.region_canvas is not None:
            return
        path = self.current
        turn = await region_flow.turn_of(self.app, path)
        store = region_flow.store_of(self.app)
        if turn is None or path is None or not region_flow.is_final(turn, path, store):
            self.notify("Region edits start from a turn's final picture of this project.", severity="warning")
            return
        try:
            image = await region_flow.canvas_image(path)
        except Exception as exc:
            self.notify(f"Cannot open the picture: {exc}", severity="error")
            return
        self.region_turn = turn
        self.change_map_on = False
        boxes, self._start_boxes = self._start_boxes or region_flow.boxes_to_start(turn), ()
        canvas = RegionCanvas(image, boxes, id="viewer-region")
        self.preview.display = False
        await self.query_one("#viewer-body", Vertical).mount(canvas, before=self.query_one("#viewer-info"))
        canvas.focus()
        self.query_one("#viewer-info", Static).add_class("-region")  # wraps: the keys must stay readable
        self.query_one("#viewer-title", Static).update(Content(f"Region edit of #{turn.id}"))
        self._update_info()
        self.refresh_bindings()

    def _leave_region(self) -> None:
        canvas = self.region_canvas
        if canvas is not None:
            canvas.remove()
        self.region_turn = None
        self.query_one("#viewer-info", Static).remove_class("-region")
        self.preview.display = True
        self.refresh_bindings()
        self.call_after_refresh(self._update_info)

    def on_region_canvas_changed(self, _event: RegionCanvas.Changed) -> None:
        self._update_info()

    def action_region_prompt(self) -> None:
        canvas, turn = self.region_canvas, self.region_turn
        if canvas is None or turn is None:
            return
        boxes = canvas.regions
        if not boxes:
            self.notify("Mark a rectangle first (drag, or arrows and enter).", severity="warning")
            return
        from banana_studio.tui.screens.confirm import TextPromptScreen

        def send(text: str | None) -> None:
            text = (text or "").strip()
            if not text:
                return
            request = region_flow.region_request(turn, boxes, text, getattr(self.app, "config", None))
            if region_flow.deliver(self.app, request, f"Region edit of #{turn.id}"):
                self.dismiss(None)

        self.app.push_screen(TextPromptScreen(
            f"Region edit of #{turn.id}", f"What should change inside the marked area? ({region_flow.describe(boxes)}; "
            "outside it stays the source's)", placeholder="e.g. a red umbrella"), send)

    async def action_outpaint(self) -> None:
        path = self.current
        turn = await region_flow.turn_of(self.app, path)
        if turn is None or path is None or not region_flow.is_final(turn, path, region_flow.store_of(self.app)):
            self.notify("Outpaint starts from a turn's final picture of this project.", severity="warning")
            return
        from banana_studio.tui.screens.confirm import TextPromptScreen

        def refused(text: str) -> str | None:
            if not text.strip():
                return None  # an empty line just closes the dialog
            try:
                region_flow.outpaint_request(turn, text, getattr(self.app, "config", None))
            except ValueError as exc:
                return display_text(str(exc), one_line=True)
            return None

        def send(text: str | None) -> None:
            if not (text or "").strip():
                return
            try:
                request = region_flow.outpaint_request(turn, text or "", getattr(self.app, "config", None))
            except ValueError as exc:
                self.notify(str(exc), title="Outpaint", severity="error")
                return
            if region_flow.deliver(self.app, request, f"Outpaint of #{turn.id}"):
                self.dismiss(None)

        screen = TextPromptScreen(
            f"Outpaint #{turn.id}", "Extend the picture: RATIO[:SIDE] (left, right, top, bottom, center) or a zoom "
            "(1.5x[:SIDE]) and, if you like, what to put there — the original area stays exactly as it is.",
            value="16:9:center ",
            placeholder="16:9:left a quiet beach", continue_value=True, check=refused)
        self.app.push_screen(screen, send)

    async def action_change_map(self) -> None:
        if self.change_map_on:
            self.change_map_on = False
            await self._show()
            return
        turn = await region_flow.turn_of(self.app, self.current)
        if turn is None:
            self.notify("The change map needs a picture of this project's turns.", severity="warning")
            return
        try:
            png, caption = await region_flow.change_map_png(self.app, turn.id)
        except Exception as exc:
            self.notify(display_text(str(exc)), title="No change map", severity="warning")
            return
        self.change_map_on, self.change_caption = True, caption
        self._reset_image_size()
        await self.preview.show_bytes(png, name="change map")
        self._update_info()

    async def action_switch_output(self) -> None:
        turn = await region_flow.turn_of(self.app, self.current)
        if turn is None:
            self.app.bell()
            return
        new, message = await region_flow.switch_output(self.app, turn)
        self.notify(message)
        if new is not None and new.final_images:
            store = region_flow.store_of(self.app)
            self.paths[self.index] = store.abs_path(new.final_images[0].path)
            self.change_map_on = False
            await self._show()

    async def on_resize(self) -> None:
        if self.one_to_one:
            self.call_after_refresh(self._refresh_crop)

    async def _refresh_crop(self) -> None:
        await self._show_crop()
        self._update_info()
