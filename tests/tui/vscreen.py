"""A tiny model of what a sixel terminal keeps on screen, fed with the exact bytes Textual writes.

It knows just enough of the terminal (cursor moves, printable text, erases, sixel pictures) to say,
for every cell, whether it still shows a picture or was overwritten by text.  xterm behaves like this:
text written into a cell erases the picture's pixels there; a picture is drawn from the text cursor
and covers ``ceil(width / cell width)`` × ``ceil(height / cell height)`` cells.
"""

from __future__ import annotations

import math
import re
from typing import Any

from rich.cells import cell_len

_CSI = re.compile(r"\x1b\[([0-9;?<=>]*)([ -/]*)([@-~])")
_RASTER = re.compile(r'"(\d+);(\d+);(\d+);(\d+)')

TEXT = "text"


class VirtualScreen:
    """Cells are ``None`` (never written), :data:`TEXT`, or an ``int``: the number of the sixel picture."""

    def __init__(self, columns: int, rows: int, cell: tuple[int, int]) -> None:
        self.columns, self.rows = columns, rows
        self.cell = cell
        self.cells: list[list[Any]] = [[None] * columns for _ in range(rows)]
        self.pictures = 0
        self.x = self.y = 0
        self._saved = (0, 0)

    def resize(self, columns: int, rows: int) -> None:
        """Like a real terminal window being resized: the app redraws everything after this."""
        self.columns, self.rows = columns, rows
        self.cells = [[None] * columns for _ in range(rows)]
        self.x = min(self.x, columns - 1)
        self.y = min(self.y, rows - 1)

    def _put(self, x: int, y: int, what: Any) -> None:
        if 0 <= y < self.rows and 0 <= x < self.columns:
            self.cells[y][x] = what

    def _sixel(self, data: str) -> None:
        m = _RASTER.search(data[:64])
        if not m:
            return
        self.pictures += 1
        width, height = int(m.group(3)), int(m.group(4))
        cols, rows = math.ceil(width / self.cell[0]), math.ceil(height / self.cell[1])
        for y in range(self.y, self.y + rows):
            for x in range(self.x, self.x + cols):
                self._put(x, y, self.pictures)

    def feed(self, data: str) -> None:
        i, n = 0, len(data)
        while i < n:
            ch = data[i]
            if ch == "\x1b":
                nxt = data[i + 1:i + 2]
                if nxt == "[":
                    m = _CSI.match(data, i)
                    if not m:
                        return
                    self._csi(m.group(1), m.group(3))
                    i = m.end()
                    continue
                if nxt in ("P", "]", "_", "^"):  # DCS / OSC / APC / PM: up to ST (or BEL for OSC)
                    end = data.find("\x1b\\", i)
                    bel = data.find("\x07", i) if nxt == "]" else -1
                    if bel != -1 and (end == -1 or bel < end):
                        i = bel + 1
                        continue
                    end = n if end == -1 else end
                    body = data[i + 2:end]
                    if nxt == "P" and re.match(r"[0-9;]*q", body):
                        self._sixel(body)
                    i = end + 2
                    continue
                if nxt == "7":
                    self._saved = (self.x, self.y)
                elif nxt == "8":
                    self.x, self.y = self._saved
                i += 2
                continue
            if ch == "\r":
                self.x = 0
            elif ch == "\n":
                self.y = min(self.rows - 1, self.y + 1)
            elif ch == "\b":
                self.x = max(0, self.x - 1)
            elif ch >= " ":
                width = cell_len(ch)
                for dx in range(width):
                    self._put(self.x + dx, self.y, TEXT)
                self.x = min(self.columns, self.x + width)
            i += 1

    def _csi(self, params: str, final: str) -> None:
        if params.startswith("?"):
            return
        args = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
        if final in "Hf":
            row = args[0] if args and args[0] else 1
            col = args[1] if len(args) > 1 and args[1] else 1
            self.y, self.x = min(self.rows, row) - 1, min(self.columns, col) - 1
        elif final == "K":
            mode = args[0] if args else 0
            xs = {0: range(self.x, self.columns), 1: range(0, self.x + 1)}.get(mode, range(self.columns))
            for x in xs:
                self._put(x, self.y, TEXT)
        elif final == "J":
            mode = args[0] if args else 0
            for y in range(self.rows):
                if mode in (2, 3) or (mode == 0 and y > self.y) or (mode == 1 and y < self.y):
                    for x in range(self.columns):
                        self._put(x, y, TEXT)
            if mode == 0:
                self._csi("0", "K")
        elif final in "ABCD":
            count = args[0] if args and args[0] else 1
            if final == "A":
                self.y = max(0, self.y - count)
            elif final == "B":
                self.y = min(self.rows - 1, self.y + count)
            elif final == "C":
                self.x = min(self.columns - 1, self.x + count)
            else:
                self.x = max(0, self.x - count)

    def picture_share(self, x: int, y: int, width: int, height: int) -> float:
        """The share of the cells in the given screen region that show a sixel picture (0..1)."""
        cells = [self.cells[row][col] for row in range(y, min(self.rows, y + height))
                 for col in range(x, min(self.columns, x + width))]
        if not cells:
            return 0.0
        return sum(isinstance(c, int) for c in cells) / len(cells)


def attach(app: Any, screen: VirtualScreen) -> None:
    """Feed ``screen`` with every frame ``app`` writes from now on, as the real driver writes them."""
    from textual._compositor import CompositorUpdate

    original = app._display

    def display(target: Any, renderable: Any) -> None:
        if isinstance(renderable, CompositorUpdate):
            screen.feed(renderable.render_segments(app.console))
        original(target, renderable)

    app._display = display
