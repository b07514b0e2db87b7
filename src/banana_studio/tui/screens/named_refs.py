"""The named references of this project and of the user library (palette: "Named references…").

A list of the names (project first), and for the highlighted one its images and its history.  Keys
(from the one table in :mod:`banana_studio.tui.actions`): Enter writes the name into the prompt,
Del removes it (asks first; its history and the turns that used it keep their images), Esc closes.
Dismisses with the name to insert, or None.  Library reads and writes run in worker threads.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural
from banana_studio.tui import actions
from banana_studio.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from banana_studio.services.named_refs import NamedRef, NamedReferences


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


class NamedRefsScreen(ModalScreen[str | None]):
    """Browse, insert and remove named references."""

    BINDINGS = actions.bindings("named_refs")

    def __init__(self, library: NamedReferences) -> None:
        super().__init__(classes="modal")
        self._library = library
        self._refs: list[NamedRef] = []
        self._history: dict[str, list[NamedRef]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="named-refs-box") as box:
            box.border_title = "Named references"
            yield OptionList(id="named-refs-list")
            yield Static("", id="named-refs-detail", classes="modal-message")
            yield Static("Enter: write the name in the prompt · Del: remove · Esc: close", classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()

    @work(exclusive=True, group="named-refs")
    async def load(self) -> None:
        lib = self._library

        def read() -> tuple[list[NamedRef], dict[str, list[NamedRef]]]:
            refs = lib.all()
            return refs, {r.name: lib.history(r.name) for r in refs}

        from banana_studio.store import ProjectError

        try:
            self._refs, self._history = await asyncio.to_thread(read)
        except ProjectError as exc:
            self.query_one("#named-refs-detail", Static).update(display_text(str(exc)))
            return
        names = self.query_one(OptionList)
        names.clear_options()
        for ref in self._refs:
            label = Text(no_wrap=True, overflow="ellipsis")
            label.append(f"{ref.name:<24}", style="bold")
            label.append(f" {plural(len(ref.images), 'image'):<9} {ref.scope:<8} {_when(ref.created_at)}", style="dim")
            names.add_option(Option(label, id=ref.name))
        if not self._refs:
            self.query_one("#named-refs-detail", Static).update(
                "No named references yet. Save one: N on a turn, n on a reference chip, or "
                "`banana-studio ref save @name IMAGE` in a shell.")
        else:
            names.highlighted = 0
            self._show(0)

    @on(OptionList.OptionHighlighted, "#named-refs-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    def _show(self, index: int) -> None:
        if not (0 <= index < len(self._refs)):
            return
        ref = self._refs[index]
        lines = [f"{ref.name} · {ref.scope} library · saved {_when(ref.created_at)}"]
        lines += [f"  {i}. {display_text(img.label, one_line=True) or '-'}  ({img.sha256[:12]}…)"
                  for i, img in enumerate(ref.images, 1)]
        earlier = [h for h in self._history.get(ref.name, []) if h.version != ref.version or h.scope != ref.scope]
        if earlier:
            lines.append(f"Pointed before: {len(earlier)} time{'s' if len(earlier) != 1 else ''} "
                         f"(banana-studio ref show {ref.name})")
        self.query_one("#named-refs-detail", Static).update("\n".join(lines))

    def _current(self) -> NamedRef | None:
        index = self.query_one(OptionList).highlighted
        return self._refs[index] if index is not None and 0 <= index < len(self._refs) else None

    @on(OptionList.OptionSelected, "#named-refs-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_insert()

    def action_insert(self) -> None:
        ref = self._current()
        if ref is not None:
            self.dismiss(ref.name)

    def action_remove(self) -> None:
        ref = self._current()
        if ref is None:
            return

        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            from banana_studio.store import ProjectError

            try:
                await asyncio.to_thread(self._library.remove, ref.name, ref.scope)
            except ProjectError as exc:
                self.notify(display_text(str(exc)), severity="error")
                return
            self.notify(f"{ref.name} removed from the {ref.scope} library.")
            self.load()

        self.app.push_screen(ConfirmScreen(
            f"Remove {ref.name}", f"Remove {ref.name} from the {ref.scope} library? Turns that used it keep their "
            "images, and `banana-studio ref show` keeps its history.", yes="Remove", danger=True), answered)

    def action_close(self) -> None:
        self.dismiss(None)
