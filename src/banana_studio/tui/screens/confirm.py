"""Small modals: yes/no confirmation, a one-line text prompt, and the "no API key" chooser."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; dismisses with True for yes.  ``y``/``n``/Esc work too."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n,escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, title: str, message: str, *, yes: str = "Yes", no: str = "Cancel",
                 danger: bool = False) -> None:
        super().__init__(classes="modal")
        self._title = title
        self._message = message
        self._yes = yes
        self._no = no
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = self._title
            yield Static(self._message, classes="modal-message", markup=False)
            with Horizontal(classes="modal-buttons"):
                yield Button(f"{self._yes} (y)", id="yes", variant="error" if self._danger else "primary")
                yield Button(f"{self._no} (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no" if self._danger else "#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class TextPromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a label, a project name...).  Dismisses with the text or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, title: str, message: str, *, value: str = "", placeholder: str = "",
                 continue_value: bool = False, check: Callable[[str], str | None] | None = None) -> None:
        """``continue_value``: ``value`` is a start to type on (the cursor after it), not a default to
        replace (selected).  ``check``: the reason the text is refused (shown here, the dialog and the
        text stay), or None to accept it."""
        super().__init__(classes="modal")
        self._title = title
        self._message = message
        self._value = value
        self._placeholder = placeholder
        self._continue = continue_value
        self._check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box") as box:
            box.border_title = self._title
            yield Label(self._message, classes="modal-message", markup=False)
            yield Input(self._value, placeholder=self._placeholder, id="text-value",
                        select_on_focus=not self._continue)
            yield Static("", id="text-error", classes="field-error")
            yield Static("Enter to confirm · Esc to cancel", classes="modal-hint")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        problem = self._check(event.value) if self._check is not None else None
        if problem:
            self.show_error(problem)
            return
        self.dismiss(event.value)

    def show_error(self, message: str) -> None:
        self.query_one("#text-error", Static).update(message)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoKeyScreen(ModalScreen[str]):
    """Shown at start when there is no API key: demo mode is one key away.

    Dismisses with ``"demo"``, ``"quit"`` (or ``"help"`` after showing how to set a key, then "demo"/"quit").
    """

    BINDINGS = [
        Binding("d,enter", "choose('demo')", "Start demo mode", show=False),
        Binding("h", "choose('help')", "How to set a key", show=False),
        Binding("q,escape", "choose('quit')", "Quit", show=False),
    ]

    HELP_INTRO = "Set a Gemini API key (from https://aistudio.google.com/apikey) in one of these ways:"
    HELP_WAYS = (
        "export GOOGLE_API_KEY=…   (or GEMINI_API_KEY) before starting banana-studio",
        "banana-studio config --set-key   (stores it in the config file, mode 0600)",
        "Vertex AI: set GOOGLE_GENAI_USE_ENTERPRISE=true and GOOGLE_CLOUD_PROJECT (credentials from `gcloud auth "
        "application-default login`), or a Vertex AI API key for express mode",
    )
    HELP_OUTRO = ("Image models have no free tier: every image is billed to the key's project.\n"
                  "Demo mode needs no key: a local server answers with synthetic images, at no cost.")

    @classmethod
    def help_renderable(cls) -> Group:
        """The bullets as a two-column grid: a wrapped bullet keeps its indent."""
        ways = Table.grid(padding=(0, 1))
        ways.add_column(no_wrap=True)
        ways.add_column()
        for way in cls.HELP_WAYS:
            ways.add_row(" •", way)
        return Group(Text(cls.HELP_INTRO + "\n"), ways, Text("\n" + cls.HELP_OUTRO))

    def __init__(self) -> None:
        super().__init__(classes="modal")
        self._showing_help = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="nokey-box") as box:
            box.border_title = "No API key found"
            yield Static("Banana Studio talks to Google's Gemini image models and needs an API key.\n"
                         "You can try everything right now in demo mode (local server, synthetic images, "
                         "free).", classes="modal-message", id="nokey-message")
            with Horizontal(classes="modal-buttons"):
                yield Button("Start demo mode (d)", id="demo", variant="primary")
                yield Button("How to set a key (h)", id="help")
                yield Button("Quit (q)", id="quit", variant="error")

    def on_mount(self) -> None:
        self.query_one("#demo", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "quit")

    def action_choose(self, choice: str) -> None:
        if choice == "help":
            self._showing_help = True
            self.query_one("#nokey-message", Static).update(self.help_renderable())
            self.query_one("#help", Button).display = False
            self.query_one("#demo", Button).focus()
            return
        self.dismiss(choice)
