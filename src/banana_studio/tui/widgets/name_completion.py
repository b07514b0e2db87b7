"""The ``@name`` completion of the prompt: a small list of named references drawn above the cursor.

The prompt (:class:`~banana_studio.tui.widgets.prompt.PromptArea`) keeps the focus: while the list
is open it takes ↑/↓ (choose), Tab/Enter (insert the name) and Esc (close until the word changes).
The list never takes the focus, so typing goes on into the prompt and narrows it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.geometry import Offset
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural

MAX_ROWS = 6


@dataclass(frozen=True, slots=True)
class NameInfo:
    """What the prompt knows of a saved name (for the list and the chips)."""

    name: str
    images: int
    scope: str
    """``project`` or ``user``."""
    first_label: str = ""


class NameCompletion(OptionList, can_focus=False):
    """The names that match the ``@word`` being typed."""

    def __init__(self) -> None:
        super().__init__(id="name-completion", compact=True)
        self.display = False
        self.partial = ""

    @property
    def open(self) -> bool:
        return bool(self.display)

    def show(self, partial: str, infos: list[NameInfo], at: Offset) -> None:
        """Open (or refresh) the list for ``partial`` with ``infos``, its top-left corner at ``at``
        (relative to the parent: the list sits on the screen's overlay layer)."""
        keep = self.chosen if self.open and self.partial == partial else None
        self.partial = partial
        self.clear_options()
        for info in infos:
            label = Text(no_wrap=True, overflow="ellipsis")
            label.append(info.name, style="bold")
            label.append(f"  {plural(info.images, 'image')} · {info.scope}", style="dim")
            if info.first_label:
                label.append(f" · {display_text(info.first_label, one_line=True)[:40]}", style="dim")
            self.add_option(Option(label, id=info.name))
        names = [i.name for i in infos]
        self.highlighted = names.index(keep) if keep in names else 0
        widest = max(self.get_option_at_index(i).prompt.cell_len for i in range(len(infos)))  # type: ignore[union-attr]
        self.styles.width = min(widest + 4, 72)
        self.styles.height = min(len(infos), MAX_ROWS) + 2
        self.styles.offset = (at.x, at.y)
        self.display = True

    def hide(self) -> None:
        if self.display:
            self.display = False
            self.partial = ""

    def move(self, step: int) -> None:
        if self.option_count:
            self.highlighted = ((self.highlighted or 0) + step) % self.option_count

    @property
    def chosen(self) -> str | None:
        if self.highlighted is None or not self.option_count:
            return None
        return self.get_option_at_index(self.highlighted).id
