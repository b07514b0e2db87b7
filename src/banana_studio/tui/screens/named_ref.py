"""The "Save as named reference" dialog: a name (``@hero``) and the library it goes to.

Dismisses with ``(name, scope)`` — the canonical name and ``"user"`` or ``"project"`` — or None.  The
name is checked as it is typed (the reason is shown under it); Enter saves, Esc cancels, Tab reaches
the "only this project" switch.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label, Static

from banana_studio.domain.named_refs import RefNameError, validate_name
from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural


class NamedRefScreen(ModalScreen[tuple[str, str] | None]):
    """Ask for a reference name and its library."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, what: str, *, existing: dict[str, int] | None = None, project: str = "",
                 value: str = "@") -> None:
        """``what``: the image(s) being saved, for the title; ``existing``: saved names and their image
        counts (re-pointing one is said before it happens); ``project``: the open project's name."""
        super().__init__(classes="modal")
        self._what = what
        self._existing = existing or {}
        self._project = project
        self._value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = "Save as named reference"
            yield Label(f"Save {display_text(self._what, one_line=True)} under a name. Write the name in a prompt "
                        "(e.g. \"a poster of @hero\") and its images go with it.", classes="modal-message",
                        markup=False)
            yield Input(self._value, placeholder="@hero", id="ref-name", select_on_focus=False)
            yield Static("", id="ref-name-note", classes="field-error")
            project = display_text(self._project, one_line=True)
            yield Checkbox(f"Only in this project ({project}); otherwise in your user library, for every project",
                           id="ref-scope")
            yield Static("Enter to save · Tab: the library · Esc to cancel", classes="modal-hint")

    def on_mount(self) -> None:
        self.query_one("#ref-scope", Checkbox).display = bool(self._project)
        self.query_one("#ref-name", Input).focus()

    def _check(self, value: str) -> tuple[str | None, str]:
        try:
            name = validate_name(value)
        except RefNameError as exc:
            return None, str(exc)
        if name in self._existing:
            return name, (f"{name} is saved already ({plural(self._existing[name], 'image')}): saving re-points it "
                          "(turns that used it keep their images).")
        return name, ""

    @on(Input.Changed, "#ref-name")
    def _changed(self, event: Input.Changed) -> None:
        _name, note = self._check(event.value)
        self.query_one("#ref-name-note", Static).update(note if event.value.strip() not in ("", "@") else "")

    @on(Input.Submitted, "#ref-name")
    def _submitted(self, event: Input.Submitted) -> None:
        name, note = self._check(event.value)
        if name is None:
            self.query_one("#ref-name-note", Static).update(note)
            return
        scope = "project" if self._project and self.query_one("#ref-scope", Checkbox).value else "user"
        self.dismiss((name, scope))

    def action_cancel(self) -> None:
        self.dismiss(None)
