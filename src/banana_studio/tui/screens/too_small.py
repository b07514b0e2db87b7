"""A friendly screen shown while the terminal is smaller than the studio needs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH = 80
MIN_HEIGHT = 24


def is_too_small(width: int, height: int) -> bool:
    return width < MIN_WIDTH or height < MIN_HEIGHT


class TooSmallScreen(Screen[None]):
    """Replaces nothing: it sits on top until the terminal is large enough, then pops itself."""

    BINDINGS = [("ctrl+q", "app.quit", "Quit")]

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static("", id="too-small-message")

    def on_mount(self) -> None:
        self.update_size(self.app.size.width, self.app.size.height)

    def update_size(self, width: int, height: int) -> None:
        self.query_one("#too-small-message", Static).update(
            f"Banana Studio needs a bigger terminal.\n\n"
            f"Make the terminal at least {MIN_WIDTH}×{MIN_HEIGHT}\n"
            f"(it is {width}×{height} now).\n\n"
            "Ctrl+Q quits.")
