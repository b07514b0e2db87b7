"""Pick a template from the project's ``templates/`` and your library (broken files are listed with
their error, and can only be picked to edit them).  Dismisses with the template's name or None."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from banana_studio.domain.safetext import display_text
from banana_studio.tui import actions

if TYPE_CHECKING:
    from banana_studio.store.templates import Entry


def entry_line(e: Entry) -> Text:
    name = display_text(e.name, one_line=True)
    if e.template is None:
        return Text.assemble((name, "bold"), f"  {e.origin} · ", (display_text(e.error, one_line=True), "red"))
    slots = " ".join("{" + s + "}" for s in e.template.slot_names)
    extra = " · hidden by the project's" if e.shadowed else ""
    return Text.assemble((name, "bold"), f"  {e.origin}{extra}  ", (display_text(slots, one_line=True), "cyan"),
                         "  ", display_text(e.template.description, one_line=True), no_wrap=True, overflow="ellipsis")


class TemplatePickerScreen(ModalScreen[str | None]):
    BINDINGS = actions.bindings("template_picker")
    DEFAULT_CSS = """
    TemplatePickerScreen .modal-box { width: 90%; max-width: 110; height: auto; max-height: 80%; }
    TemplatePickerScreen OptionList { height: auto; max-height: 24; }
    """

    def __init__(self, entries: list[Entry], title: str = "Run template", *, broken_ok: bool = False) -> None:
        """``broken_ok``: a template that does not parse can be picked too (to edit it)."""
        super().__init__(classes="modal")
        self.entries = [e for e in entries if not e.shadowed]
        self._title = title
        self._broken_ok = broken_ok

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = self._title
            yield OptionList(*[Option(entry_line(e), id=f"tpl-{i}", disabled=e.template is None and not self._broken_ok)
                               for i, e in enumerate(self.entries)], id="template-list")
            yield Static("Enter to pick · Esc to cancel", classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        index = int(str(event.option.id).removeprefix("tpl-"))
        self.dismiss(self.entries[index].name)

    def action_close(self) -> None:
        self.dismiss(None)
