"""The help screen (F1, or ``?`` when not typing): every key of the screen underneath and of its
widgets (their bindings come from :mod:`banana_studio.tui.actions`), with the user's keymap applied,
and the prompt's gestures."""

from __future__ import annotations

from dataclasses import replace

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from banana_studio.tui import actions

INTRO = (
    "[b]Banana Studio[/b] — every send is a [i]turn[/i] in the project's tree. Sending while a turn is "
    "selected continues (edits) from it; select an earlier turn and send to [i]fork[/i] there. Ctrl+F loads "
    "the selected turn's prompt and settings so you can change them and send a sibling; re-roll (Ctrl+R) "
    "makes a sibling with the same request. Images, thoughts and thought signatures are stored, so any "
    "branch can be resumed later.\n\n"
    "The picture has the room: Ctrl+B shows the branch tree, F4 the settings (folded into one line above "
    "the prompt otherwise), L switches the turn panel between detail and thinking log, F6 is focus mode "
    "(only the picture and the prompt).\n\n"
    "Letter keys (s, l, u, c, …) act on the selected turn when you are not typing: press Esc (or F3) to "
    "leave the prompt (? then opens this help too). Ctrl+P opens the command palette with every action. "
    "Keys can be changed in the config file: a \\[keymap] table of binding-id = \"key\" (ids are listed below)."
)

_GENERIC = {"focus_next", "focus_previous", "copy_text", "command_palette"}


class HelpScreen(ModalScreen[None]):
    BINDINGS = actions.bindings("help")

    def __init__(self, for_screen: Screen[object]) -> None:
        super().__init__(classes="modal")
        self._for = for_screen

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="modal-box", id="help-box") as box:
            box.border_title = "Help — Esc to close"
            yield Static(INTRO, classes="help-intro")
            yield Static(self._table(), id="help-table")

    def _table(self) -> Table:
        table = Table(box=None, expand=True, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("Key", style="bold", no_wrap=True)
        table.add_column("Action")
        table.add_column("Binding id", style="dim", no_wrap=True)
        app = self.app
        keymap: dict[str, str] = getattr(app, "user_keymap", {})
        nodes = [self._for, *self._for.walk_children(), app]
        # A priority key of the screen or the app wins over the focused widget's own binding of it
        # (F6 is focus mode, not the prompt's "select line"): such shadowed rows would be lies.
        priority = {key for node in (self._for, app) for key, bs in self._bindings_of(node).items()
                    if any(b.priority for b in bs)}
        rows: dict[tuple[str, str], tuple[list[str], str]] = {}
        for node in nodes:
            for key, bindings in self._bindings_of(node).items():
                for b in bindings:
                    if (not b.description or b.system or b.action.split(".")[-1] in _GENERIC
                            or (key in priority and not b.priority and node not in (self._for, app))):
                        continue
                    keys, _id = rows.setdefault((b.action, b.description), ([], b.id or ""))
                    shown = keymap[b.id] if b.id and b.id in keymap else app.get_key_display(b)
                    if shown in keys and b.key_display:  # "ctrl+⏎" is the first key; the others by name
                        shown = app.get_key_display(replace(b, key_display=None))
                    if shown not in keys:
                        keys.append(shown)
        for (_action, description), (keys, binding_id) in rows.items():
            table.add_row(Text(" / ".join(keys)), Text(description), Text(binding_id))
        for group, keys, what in actions.GESTURES:
            table.add_row(Text(keys), Text(what), Text(group, style="dim"))
        return table

    @staticmethod
    def _bindings_of(node: object) -> dict[str, list[Binding]]:
        bindings_map = getattr(node, "_bindings", None)
        return bindings_map.key_to_bindings if bindings_map is not None else {}
