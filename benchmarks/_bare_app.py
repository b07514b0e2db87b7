"""The baseline for bench_startup.py: a bare Textual app with a Header and a Footer (nothing else)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header


class BareApp(App[None]):
    TITLE = "Bare Textual"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", show=True, priority=True)]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Footer()


if __name__ == "__main__":
    BareApp().run()
