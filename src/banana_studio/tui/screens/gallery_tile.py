"""A gallery tile: one turn's first final image and a two-line caption (project gallery and library)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import Static

from banana_studio.domain.safetext import display_text
from banana_studio.domain.target import DEMO_BADGE
from banana_studio.tui.images import Thumbnail
from banana_studio.tui.widgets.branch_tree import STATUS_GLYPHS

if TYPE_CHECKING:
    from banana_studio.services.library import LibraryHit
    from banana_studio.store import TurnNode


@dataclass(slots=True)
class TileImage:
    path: Path
    """The full-size final image."""
    thumb: Path
    """The store's cached thumbnail."""


class GalleryTile(Vertical, can_focus=True):
    """One turn: its first final image and a two-line caption."""

    marked: reactive[bool] = reactive(False)

    def __init__(self, node: TurnNode | LibraryHit, index: int) -> None:
        super().__init__(classes="gallery-tile")
        self.node = node
        self.index = index
        self.image: TileImage | None = None
        self.requested = False
        self.failed = ""

    def compose(self) -> ComposeResult:
        yield Thumbnail(None, caption="…", classes="gallery-thumb")
        star = "★" if self.node.starred else ""
        glyph = STATUS_GLYPHS.get(self.node.status, "?")
        extra = f" ×{self.node.n_final}" if self.node.n_final > 1 else ""
        prompt = " ".join(display_text(str(self.node.prompt), one_line=True).split())
        caption = Text(f"{glyph}{star} #{self.node.id}{extra} ")
        if getattr(self.node, "project", ""):  # the library: tiles from every project
            caption.append(display_text(self.node.project, one_line=True) + " ", style="bold")
        if getattr(self.node, "target", "") == "local":  # made by the local demo server
            caption.append(DEMO_BADGE, style="bold black on yellow")
            caption.append(" ")
        caption.append(prompt)
        yield Static(caption, classes="gallery-caption", markup=False)

    @property
    def thumbnail(self) -> Thumbnail:
        return self.query_one(Thumbnail)

    @property
    def live_thumbnail(self) -> Thumbnail | None:
        """The thumbnail, or None while the tile is being removed (a new search replaced it)."""
        try:
            return self.query_one(Thumbnail) if self.is_attached else None
        except NoMatches:
            return None

    def watch_marked(self, marked: bool) -> None:
        self.set_class(marked, "-marked")
