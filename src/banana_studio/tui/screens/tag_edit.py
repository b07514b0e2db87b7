"""The bulk tag editor: one line for the tags of every selected turn.

``hero, client x`` adds two tags; ``-draft`` removes one; both mix on one line.  The tags the turns
carry now are listed with how many of them have each.  Dismisses with ``(add, remove)`` or None.
"""

from __future__ import annotations

from collections import Counter

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from banana_studio.domain.safetext import display_text
from banana_studio.domain.tags import TagError, normalise_tag
from banana_studio.domain.words import plural


def parse_edit(text: str) -> tuple[list[str], list[str]]:
    """``"hero, client x, -draft"`` → (["hero", "client x"], ["draft"]); raises :class:`TagError`."""
    add: list[str] = []
    remove: list[str] = []
    for piece in text.split(","):
        piece = piece.strip()
        if not piece:
            continue
        target = remove if piece.startswith("-") else add
        tag = normalise_tag(piece[1:] if piece.startswith("-") else piece)
        if tag.casefold() not in {t.casefold() for t in target}:
            target.append(tag)
    return add, remove


class TagEditScreen(ModalScreen[tuple[list[str], list[str]] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, n_turns: int, current: Counter[str]) -> None:
        super().__init__(classes="modal")
        self.n_turns = n_turns
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="tag-edit") as box:
            box.border_title = f"Tags of {plural(self.n_turns, 'turn')}"
            if self.current:
                have = " · ".join(f"{t} ({n}/{self.n_turns})" if self.n_turns > 1 else t
                                  for t, n in sorted(self.current.items(), key=lambda kv: (-kv[1], kv[0].casefold())))
                yield Label(display_text("Now: " + have, one_line=True), id="tag-current", markup=False)
            else:
                yield Label("No tags yet.", id="tag-current", markup=False)
            yield Input(placeholder="hero, client x, -draft   (a leading - removes)", id="tag-input")
            yield Static("", id="tag-error", classes="field-error", markup=False)
            yield Static("Comma-separated · Enter to apply to every selected turn · Esc to cancel",
                         classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one("#tag-input", Input).focus()

    @on(Input.Submitted, "#tag-input")
    def _submitted(self, event: Input.Submitted) -> None:
        try:
            add, remove = parse_edit(event.value)
        except TagError as exc:
            self.query_one("#tag-error", Static).update(display_text(str(exc), one_line=True))
            return
        if not add and not remove:
            self.query_one("#tag-error", Static).update("Type a tag to add, or -tag to remove.")
            return
        self.dismiss((add, remove))

    def action_cancel(self) -> None:
        self.dismiss(None)
