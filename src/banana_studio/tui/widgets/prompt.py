"""The prompt pane: a multi-line TextArea with a configurable send key and prompt-history recall.

* ``send_key="ctrl+enter"`` (default): Enter inserts a newline; the screen's ``send`` binding
  (Ctrl+Enter, or Ctrl+J — what many terminals send for it) sends.
* ``send_key="enter"``: Enter sends; Alt+Enter / Shift+Enter / Ctrl+J insert a newline.
* Up on the first line / Down on the last line walk through earlier prompts (like a shell).
* A bracketed paste of nothing but existing file paths (or ``file://`` URIs — what terminals paste
  when a file is dropped on them) is turned into :class:`PromptArea.PathsPasted` instead of text.
* Typing ``@`` opens the completion of named references (:mod:`.name_completion`): ↑/↓ choose,
  Tab/Enter insert, Esc closes.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from textual import events
from textual.geometry import Offset
from textual.message import Message
from textual.widgets import TextArea

from banana_studio.domain.named_refs import complete, partial_at

if TYPE_CHECKING:
    from banana_studio.tui.widgets.name_completion import NameCompletion, NameInfo


def paths_from_paste(text: str) -> list[Path] | None:
    """The files named by a paste, or None when the paste is ordinary text.

    Accepts one path per line or shell-quoted/space-separated paths (as terminals paste dropped
    files), ``~`` and ``file://`` URIs.  Every item must be an existing file for the paste to count.
    """
    text = text.strip()
    if not text or len(text) > 8192:
        return None
    items: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            parts = shlex.split(line)
        except ValueError:
            parts = [line]
        # A single path with spaces that was not quoted: keep the whole line if it exists.
        whole = _as_path(line)
        if len(parts) > 1 and whole is not None and whole.is_file():
            parts = [line]
        items.extend(parts)
    paths: list[Path] = []
    for item in items:
        path = _as_path(item)
        if path is None or not path.is_file():
            return None
        paths.append(path)
    return paths or None


def _as_path(item: str) -> Path | None:
    item = item.strip().strip("'\"")
    if item.startswith("file://"):
        parsed = urlparse(item)
        if parsed.netloc not in ("", "localhost"):
            return None
        item = unquote(parsed.path)
    if not item or "\x00" in item:
        return None
    try:
        return Path(item).expanduser()
    except (RuntimeError, ValueError):
        return None


class PromptArea(TextArea):
    """Where the prompt is written."""

    @dataclass
    class Submitted(Message):
        prompt_area: PromptArea
        text: str

        @property
        def control(self) -> PromptArea:
            return self.prompt_area

    @dataclass
    class PathsPasted(Message):
        prompt_area: PromptArea
        paths: list[Path]

        @property
        def control(self) -> PromptArea:
            return self.prompt_area

    def __init__(self, *, send_key: str = "ctrl+enter", history: list[str] | None = None,
                 id: str | None = None) -> None:
        hint = "Enter to send · Alt+Enter newline" if send_key == "enter" else "Ctrl+Enter or Ctrl+J to send"
        super().__init__("", id=id, soft_wrap=True, tab_behavior="focus", show_line_numbers=False,
                         highlight_cursor_line=False,
                         placeholder=f"Describe the image… ({hint}; ↑ recalls earlier prompts)")
        self.send_key = send_key
        self.prompt_history: list[str] = list(history or [])
        self._history_pos: int | None = None
        self._draft = ""
        self.completion: NameCompletion | None = None
        """The ``@name`` list (the composer mounts it beside the prompt)."""
        self.names: dict[str, NameInfo] = {}
        """The saved names the completion offers."""
        self._dismissed: tuple[int, int] | None = None
        """Where the ``@word`` starts that Esc closed the list for (it stays closed while it is typed)."""

    # -- history -------------------------------------------------------------------------------

    def remember(self, text: str) -> None:
        text = text.strip()
        if text and (not self.prompt_history or self.prompt_history[-1] != text):
            self.prompt_history.append(text)
        self._history_pos = None

    def _recall(self, step: int) -> bool:
        if not self.prompt_history:
            return False
        if self._history_pos is None:
            if step > 0:
                return False
            self._draft = self.text
            pos = len(self.prompt_history) - 1
        else:
            pos = self._history_pos + step
        if pos >= len(self.prompt_history):
            self._history_pos = None
            self.load_text_at_end(self._draft)
            return True
        if pos < 0:
            return True
        self._history_pos = pos
        self.load_text_at_end(self.prompt_history[pos])
        return True

    def load_text_at_end(self, text: str) -> None:
        """Load ``text`` with the cursor after its last character (where typing goes on)."""
        self.load_text(text)
        last = self.document.line_count - 1
        self.move_cursor((last, len(self.document[last])))

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == 0 and self._recall(-1):
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if (not select and self._history_pos is not None
                and self.cursor_location[0] == self.document.line_count - 1 and self._recall(+1)):
            return
        super().action_cursor_down(select)

    # -- sending -------------------------------------------------------------------------------

    def submit(self) -> None:
        self.post_message(self.Submitted(self, self.text))

    async def _on_key(self, event: events.Key) -> None:
        key = event.key
        box = self.completion
        if box is not None and box.open and key in ("up", "down", "tab", "enter", "escape"):
            event.stop()
            event.prevent_default()
            if key in ("up", "down"):
                box.move(-1 if key == "up" else 1)
            elif key == "escape":
                found = self._partial()
                self._dismissed = found[1] if found else None
                box.hide()
            else:
                self.accept_completion()
            return
        if self.send_key == "enter":
            if key == "enter":
                event.stop()
                event.prevent_default()
                self.submit()
                return
            if key in ("alt+enter", "shift+enter", "ctrl+j"):
                event.stop()
                event.prevent_default()
                start, end = self.selection
                self._replace_via_keyboard("\n", start, end)
                return
        if event.is_printable or key == "enter":
            self._history_pos = None
        # Textual then runs TextArea._on_key itself (handlers are dispatched along the MRO).

    async def _on_paste(self, event: events.Paste) -> None:
        paths = paths_from_paste(event.text)
        if paths:
            event.stop()
            event.prevent_default()
            self.post_message(self.PathsPasted(self, paths))
        # Otherwise TextArea._on_paste inserts the text (handlers are dispatched along the MRO).

    # -- @name completion ----------------------------------------------------------------------

    def _partial(self) -> tuple[str, tuple[int, int]] | None:
        """The ``@word`` right before the cursor and where it starts, or None."""
        start, end = self.selection
        if start != end:
            return None
        row, col = end
        partial = partial_at(self.document[row][:col])
        return None if partial is None else (partial, (row, col - len(partial)))

    def update_completion(self) -> None:
        """Open, narrow or close the list for what is typed before the cursor."""
        box = self.completion
        if box is None:
            return
        found = self._partial() if self.has_focus else None
        if found is None or found[1] == self._dismissed:  # Esc closed it for this word
            if found is None:
                self._dismissed = None
            box.hide()
            return
        self._dismissed = None
        partial, _start = found
        matches = [self.names[n] for n in complete(partial, list(self.names))]
        if not matches:
            box.hide()
            return
        cursor = self.cursor_screen_offset
        parent = box.parent
        origin = parent.content_region.offset if parent is not None else Offset(0, 0)  # type: ignore[attr-defined]
        rows = min(len(matches), 6) + 2
        at = Offset(max(0, cursor.x - len(partial) - 1 - origin.x), cursor.y - rows - origin.y)
        box.show(partial, matches, at)

    def accept_completion(self) -> None:
        """Replace the ``@word`` being typed with the chosen name (and a space after it)."""
        box = self.completion
        found = self._partial()
        name = box.chosen if box is not None else None
        if box is not None:
            box.hide()
        if name is None or found is None:
            return
        _partial, start = found
        end = self.cursor_location
        after = self.document[end[0]][end[1]:end[1] + 1]
        self._replace_via_keyboard(name + ("" if after == " " else " "), start, end)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.update_completion()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        self.update_completion()

    def _on_blur(self, event: events.Blur) -> None:
        if self.completion is not None:
            self.completion.hide()
