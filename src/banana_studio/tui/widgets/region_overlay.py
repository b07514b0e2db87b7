"""Mark regions on a picture, in the terminal: a half-cell rendering with the rectangles drawn over it.

The picture is drawn with ``▀`` cells (two pixels a cell), which every terminal shows — over SSH, in
tmux, next to kitty or sixel graphics alike — and the overlay (magenta rectangles, numbered; the one
being edited in yellow; the outside dimmed) is drawn in the same cells, never into the image.

Mouse: drag a rectangle (it is added on release).  Keys: arrows move the rectangle being edited,
shift+arrows resize it, enter adds it (a new one starts beside it), backspace removes the last,
``c`` clears all.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from banana_studio.domain.region import MAX_BOXES, Box

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

STEP = 1 / 32
COMMITTED = (255, 0, 255)
EDITING = (255, 230, 0)
DIM = 0.45


class RegionCanvas(Widget, can_focus=True):
    """A picture with regions marked over it.  ``boxes``: the rectangles added; ``current``: the one
    being moved with the keys (None: none)."""

    DEFAULT_CSS = "RegionCanvas { width: 1fr; height: 1fr; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("left", "move(-1, 0)", "Move", show=False),
        Binding("right", "move(1, 0)", "Move", show=False),
        Binding("up", "move(0, -1)", "Move", show=False),
        Binding("down", "move(0, 1)", "Move", show=False),
        Binding("shift+left", "resize(-1, 0)", "Narrower", show=False),
        Binding("shift+right", "resize(1, 0)", "Wider", show=False),
        Binding("shift+up", "resize(0, -1)", "Shorter", show=False),
        Binding("shift+down", "resize(0, 1)", "Taller", show=False),
        Binding("enter", "add", "Add rectangle"),
        Binding("backspace,delete", "remove_last", "Remove last"),
        Binding("c", "clear", "Clear", show=False),
    ]

    class Changed(Message):
        def __init__(self, canvas: RegionCanvas) -> None:
            super().__init__()
            self.canvas = canvas

    def __init__(self, image: PILImage.Image, boxes: tuple[Box, ...] = (), *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image = image.convert("RGB")
        self.boxes: list[Box] = list(boxes)
        self.current: Box | None = None if boxes else Box(1 / 3, 1 / 3, 1 / 3, 1 / 3)
        self._scaled: PILImage.Image | None = None
        self._scaled_for: tuple[int, int] = (0, 0)
        self._drag_from: tuple[int, int] | None = None
        """The cell a mouse drag started on."""
        self._styles: dict[tuple[tuple[int, int, int], tuple[int, int, int]], Style] = {}

    # -- geometry ---------------------------------------------------------------------------------
    def geometry(self) -> tuple[int, int, int, int]:
        """``(left, top, width, height_in_half_cells)`` of the picture inside the widget."""
        w, h = max(1, self.size.width), max(1, self.size.height)
        iw, ih = self.image.size
        scale = min(w / iw, 2 * h / ih)
        pw, ph = max(1, round(iw * scale)), max(2, round(ih * scale))
        ph += ph % 2
        return (w - pw) // 2, (h - ph // 2) // 2, pw, ph

    def to_image(self, x: int, y: int, *, end: bool = False) -> tuple[float, float]:
        """Cell ``(x, y)`` → normalised image point (its top-left corner, or bottom-right with ``end``)."""
        ox, oy, pw, ph = self.geometry()
        d = 1 if end else 0
        return (min(1.0, max(0.0, (x - ox + d) / pw)), min(1.0, max(0.0, (y - oy + d) * 2 / ph)))

    def cell_rect(self, box: Box) -> tuple[int, int, int, int]:
        ox, oy, pw, ph = self.geometry()
        x0 = ox + math.floor(box.x * pw + 1e-9)
        x1 = ox + max(math.floor(box.x * pw + 1e-9), math.ceil(box.right * pw - 1e-9) - 1)
        y0 = oy + math.floor(box.y * ph / 2 + 1e-9)
        y1 = oy + max(math.floor(box.y * ph / 2 + 1e-9), math.ceil(box.bottom * ph / 2 - 1e-9) - 1)
        return x0, y0, x1, y1

    @property
    def regions(self) -> list[Box]:
        """What an edit would use: the added rectangles, else the one being edited."""
        if self.boxes:
            return list(self.boxes)
        return [self.current] if self.current is not None else []

    # -- drawing ----------------------------------------------------------------------------------
    def _pixels(self) -> PILImage.Image:
        from PIL import Image

        _, _, pw, ph = self.geometry()
        if self._scaled is None or self._scaled_for != (pw, ph):
            self._scaled = self.image.resize((pw, ph), Image.Resampling.BILINEAR)  # a few thousand pixels
            self._scaled_for = (pw, ph)
        return self._scaled

    def _style(self, fg: tuple[int, int, int], bg: tuple[int, int, int]) -> Style:
        key = (fg, bg)
        style = self._styles.get(key)
        if style is None:
            style = Style.parse(f"rgb({fg[0]},{fg[1]},{fg[2]}) on rgb({bg[0]},{bg[1]},{bg[2]})")
            if len(self._styles) > 20000:
                self._styles.clear()
            self._styles[key] = style
        return style

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        ox, oy, pw, ph = self.geometry()
        row = y - oy
        if row < 0 or row * 2 >= ph:
            return Strip([Segment(" " * width)], width)
        img = self._pixels().load()  # pixel access object: much faster than Image.getpixel per cell
        assert img is not None
        rects = [(self.cell_rect(b), COMMITTED, i + 1) for i, b in enumerate(self.boxes)]
        if self.current is not None:
            rects.append((self.cell_rect(self.current), EDITING, 0))
        marked = bool(rects)
        segments: list[Segment] = [Segment(" " * ox)] if ox > 0 else []
        for cx in range(pw):
            x = ox + cx
            top = img[cx, row * 2]
            bottom = img[cx, row * 2 + 1]
            inside = any(r[0] <= x <= r[2] and r[1] <= y <= r[3] for r, _, _ in rects)
            if marked and not inside:
                top = tuple(int(c * DIM) for c in top)
                bottom = tuple(int(c * DIM) for c in bottom)
            char, colour = "▀", None
            for (x0, y0, x1, y1), col, number in reversed(rects):  # the one being edited on top
                if not (x0 <= x <= x1 and y0 <= y <= y1):
                    continue
                edge_x, edge_y = x in (x0, x1), y in (y0, y1)
                if edge_x or edge_y:
                    char = ("┌" if x == x0 else "┐") if y == y0 and edge_x else \
                        ("└" if x == x0 else "┘") if y == y1 and edge_x else ("│" if edge_x else "─")
                    if x0 == x1:
                        char = "│"
                    elif y0 == y1:
                        char = "─"
                    colour = col
                    break
                if number and x == x0 + 1 and y == y0 + 1 and number < 10:
                    char, colour = str(number), col
                    break
            if colour is None:
                segments.append(Segment(char, self._style(top, bottom)))  # type: ignore[arg-type]
            else:
                mix = tuple((a + b) // 2 for a, b in zip(top, bottom, strict=True))
                segments.append(Segment(char, self._style(colour, mix)))  # type: ignore[arg-type]
        rest = width - ox - pw
        if rest > 0:
            segments.append(Segment(" " * rest))
        return Strip(segments, width)

    def on_resize(self) -> None:
        self._scaled = None
        self.refresh()

    # -- editing ----------------------------------------------------------------------------------
    def _changed(self) -> None:
        self.refresh()
        self.post_message(self.Changed(self))

    def action_move(self, dx: int, dy: int) -> None:
        b = self.current or Box(1 / 3, 1 / 3, 1 / 3, 1 / 3)
        x = min(1.0 - b.w, max(0.0, b.x + dx * STEP))
        y = min(1.0 - b.h, max(0.0, b.y + dy * STEP))
        self.current = Box(x, y, b.w, b.h)
        self._changed()

    def action_resize(self, dw: int, dh: int) -> None:
        b = self.current or Box(1 / 3, 1 / 3, 1 / 3, 1 / 3)
        w = min(1.0 - b.x, max(STEP, b.w + dw * STEP))
        h = min(1.0 - b.y, max(STEP, b.h + dh * STEP))
        self.current = Box(b.x, b.y, w, h)
        self._changed()

    def action_add(self) -> None:
        if self.current is None:
            self.app.bell()
            return
        if len(self.boxes) >= MAX_BOXES:
            self.notify(f"At most {MAX_BOXES} rectangles.", severity="warning")
            return
        self.boxes.append(self.current.clamped())
        b = self.current
        nx = b.right + STEP if b.right + STEP + b.w <= 1.0 else max(0.0, b.x - b.w - STEP)
        self.current = Box(nx, b.y, b.w, b.h) if nx + b.w <= 1.0 else None
        self._changed()

    def action_remove_last(self) -> None:
        if self.boxes:
            self.boxes.pop()
        else:
            self.current = None
        self._changed()

    def action_clear(self) -> None:
        self.boxes.clear()
        self.current = None
        self._changed()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        ox, oy, pw, ph = self.geometry()
        if not (ox <= event.x < ox + pw and oy <= event.y < oy + ph // 2):
            return
        self._drag_from = (event.x, event.y)
        self.capture_mouse()
        self.focus()
        event.stop()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag_from is None:
            return
        self.current = self._drag_box(event.x, event.y)
        self.refresh()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag_from is None:
            return
        box = self._drag_box(event.x, event.y)
        start, self._drag_from = self._drag_from, None
        self.release_mouse()
        self.current = box
        if (event.x, event.y) != start:  # a drag, not a click
            self.action_add()
            self.current = None
        self._changed()
        event.stop()

    def _drag_box(self, x: int, y: int) -> Box:
        """The rectangle covering every cell from the drag's start to ``(x, y)``."""
        assert self._drag_from is not None
        x0, x1 = sorted((self._drag_from[0], x))
        y0, y1 = sorted((self._drag_from[1], y))
        ax, ay = self.to_image(x0, y0)
        bx, by = self.to_image(x1, y1, end=True)
        return Box(ax, ay, max(1e-3, bx - ax), max(1e-3, by - ay))
