"""The reference tray: images sent with the next prompt.

Add by path (an Input with file-system completion — press → to accept), by pasting/dropping files on
the prompt, or from a generated image ("use as reference").  In the chip row: ←/→ choose, Del/Backspace
remove, Shift+←/→ (or ``<``/``>``) reorder, ``a`` add.  The limit follows the model (14 for Pro); going
over it is refused with a clear message.  Files are checked with Pillow in a thread before they join.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Input, Static

from banana_studio.domain.settings import MAX_REFERENCES
from banana_studio.domain.words import (
    empty_image,
    folder_not_image,
    missing_file,
    too_many_references,
    unreadable_image,
)
from banana_studio.tui import actions


@dataclass(slots=True)
class RefItem:
    path: Path
    width: int
    height: int
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.name


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def probe_image(path: Path) -> RefItem:
    """Check that ``path`` is a readable image (runs in a thread).  Raises ValueError with a clear message."""
    from PIL import Image, UnidentifiedImageError

    path = path.expanduser()
    if not path.exists():
        raise ValueError(missing_file(path))
    if path.is_dir():
        raise ValueError(folder_not_image(path))
    try:
        size = path.stat().st_size
        if size == 0:
            raise ValueError(empty_image(path.name))
        with Image.open(path) as im:
            width, height = im.size
            im.verify()
    except UnidentifiedImageError:
        raise ValueError(unreadable_image(path.name)) from None
    except Image.DecompressionBombError:
        raise ValueError(f"{path.name} is too large to use as a reference.") from None
    except OSError as exc:
        raise ValueError(f"Cannot read {path.name}: {exc.strerror or exc}.") from None
    except SyntaxError as exc:  # PIL raises SyntaxError for some broken files
        raise ValueError(f"{path.name} is a damaged image ({exc}).") from None
    return RefItem(path=path.resolve(), width=width, height=height, size_bytes=size)


class PathSuggester(Suggester):
    """Completes file-system paths: the first entry matching the typed prefix (folders get a '/')."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value or "\n" in value:
            return None
        return await asyncio.to_thread(complete_path, value)


def complete_path(value: str) -> str | None:
    expanded = os.path.expanduser(value)
    directory, prefix = os.path.split(expanded)
    directory = directory or "."
    try:
        with os.scandir(directory) as it:
            names = sorted((e.name, e.is_dir()) for e in it if e.name.startswith(prefix)
                           and (prefix.startswith(".") or not e.name.startswith(".")))
    except OSError:
        return None
    if not names:
        return None
    name, is_dir = names[0]
    rest = name[len(prefix):] + ("/" if is_dir else "")
    if not rest:
        return None
    return value + rest


def chip_lines(chips: list[Text], width: int) -> Text:
    """Chips separated by a space, a new line before a chip that does not fit: a chip is never split
    (its number stays with its name); a chip wider than the line is cut with an ellipsis."""
    out = Text(no_wrap=True, overflow="ellipsis")
    used = 0
    for chip in chips:
        need = chip.cell_len + (1 if used else 0)
        if used and used + need > width:
            out.append("\n")
            used, need = 0, chip.cell_len
        elif used:
            out.append(" ")
        out.append_text(chip)
        used += need
    return out


@dataclass(frozen=True, slots=True)
class NamedChip:
    """A named reference the prompt mentions: ``images`` is -1 when no library has the name."""

    name: str
    images: int
    scope: str = ""


def named_chip(chip: NamedChip) -> Text:
    """``@hero ×2`` (distinct from the plain references' grey chips); an unknown name is red."""
    if chip.images < 0:
        return Text(f" {chip.name} ? not saved ", style="bold white on dark_red")
    where = " · project" if chip.scope == "project" else ""
    return Text(f" {chip.name} ×{chip.images}{where} ", style="bold black on plum2")


class RefChips(Widget, can_focus=True):
    """One line (wrapping) of chips; keyboard-driven."""

    BINDINGS = actions.bindings("refs")

    cursor: reactive[int] = reactive(0)

    def __init__(self, tray: RefTray) -> None:
        super().__init__(id="ref-chips")
        self._tray = tray

    def render(self) -> Text:
        items = self._tray.items
        named = self._tray.named
        if not items and not named:
            text = Text(no_wrap=True, overflow="ellipsis")
            text.append("No references · ", style="dim")
            text.append("Ctrl+L", style="bold")
            text.append(" adds by path · or paste/drop image files on the prompt", style="dim")
            if text.cell_len <= (self.content_size.width or 10_000):
                return text
            short = Text(no_wrap=True, overflow="ellipsis")  # narrow (80 columns with the tree on)
            short.append("No references · ", style="dim")
            short.append("Ctrl+L", style="bold")
            short.append(" or paste/drop to add", style="dim")
            return short
        compact = len(items) > 3
        chips: list[Text] = []
        for i, item in enumerate(items):
            if compact:  # many refs: index and a short name, so all chips stay visible
                name = item.name if len(item.name) <= 14 else item.name[:13] + "…"
                label = f" {i + 1} {name} "
            else:
                label = f" {i + 1} {item.name} {item.width}×{item.height} · {human_size(item.size_bytes)} "
            style = "reverse bold" if (self.has_focus and i == self.cursor) else "on grey23"
            chips.append(Text(label, style=style))
        chips += [named_chip(chip) for chip in named]
        total = self._tray.total
        chips.append(Text(f"{total}/{self._tray.max_refs}", style="bold red" if total > self._tray.max_refs else "dim"))
        return chip_lines(chips, self.content_size.width or 10_000)

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()  # the empty text's form and the chip lines depend on the width

    def watch_cursor(self) -> None:
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def action_move(self, step: int) -> None:
        if self._tray.items:
            self.cursor = (self.cursor + step) % len(self._tray.items)

    def action_reorder(self, step: int) -> None:
        self.cursor = self._tray.move(self.cursor, step)

    def action_remove(self) -> None:
        if self._tray.items:
            self._tray.remove(self.cursor)
            self.cursor = max(0, min(self.cursor, len(self._tray.items) - 1))

    def action_add(self) -> None:
        self._tray.open_input()

    def action_save_named(self) -> None:
        item = self._tray.selected
        if item is None:
            self.notify("No reference to save: add one first (a).", severity="warning")
            return
        self.post_message(RefTray.SaveNamed(item.path))


class RefTray(Vertical):
    """References for the next send."""

    BINDINGS = actions.bindings("ref_input")

    @dataclass
    class Changed(Message):
        tray: RefTray
        paths: list[Path]

        @property
        def control(self) -> RefTray:
            return self.tray

    @dataclass
    class SaveNamed(Message):
        """Save this reference under a name (``n`` on a chip)."""

        path: Path

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.items: list[RefItem] = []
        self._total_said = False
        self.named: list[NamedChip] = []
        """The named references the prompt mentions (they join at send; shown, not chosen here)."""
        self.max_refs = MAX_REFERENCES
        self.model_label = "Nano Banana Pro"

    def compose(self) -> ComposeResult:
        yield RefChips(self)
        ref_input = Input(placeholder="Path to a reference image (→ completes, Enter adds, Esc closes)",
                          suggester=PathSuggester(), id="ref-input", compact=True)
        ref_input.display = False
        yield ref_input
        yield Static("", id="ref-message")

    def on_mount(self) -> None:
        self.border_title = "References"

    @property
    def paths(self) -> list[Path]:
        return [item.path for item in self.items]

    @property
    def total(self) -> int:
        """Images the next send carries: the tray's and those of the named references."""
        return len(self.items) + sum(max(0, c.images) for c in self.named)

    @property
    def selected(self) -> RefItem | None:
        """The reference under the chip cursor (the first when the chips were never focused)."""
        if not self.items:
            return None
        return self.items[max(0, min(self.query_one(RefChips).cursor, len(self.items) - 1))]

    def set_limit(self, max_refs: int, model_label: str) -> None:
        self.max_refs = max_refs
        self.model_label = model_label
        self._check_total()
        self._changed()

    def set_named(self, chips: list[NamedChip]) -> None:
        """The named references of the prompt changed (the composer reads them from the text)."""
        if chips == self.named:
            return
        self.named = list(chips)
        self._check_total()
        self._changed()

    def _check_total(self) -> None:
        """Say when the references are over the model's limit or a name is unknown (and stop saying it)."""
        total = self.total
        if total > self.max_refs:
            self.say(too_many_references(total, self.model_label, self.max_refs), error=True)
        elif any(c.images < 0 for c in self.named):
            bad = ", ".join(c.name for c in self.named if c.images < 0)
            self.say(f"{bad}: no such named reference (save one with \"Save image as named reference…\", or "
                     "write @@name for the text itself).", error=True)
        elif self._total_said:
            self.say("")
            return
        else:
            return
        self._total_said = True

    def say(self, message: str, *, error: bool = False) -> None:
        self._total_said = False
        msg = self.query_one("#ref-message", Static)
        msg.update(message)
        msg.set_class(error, "-error")
        msg.display = bool(message)

    def open_input(self) -> None:
        ref_input = self.query_one("#ref-input", Input)
        ref_input.display = True
        ref_input.focus()

    def close_input(self) -> None:
        ref_input = self.query_one("#ref-input", Input)
        ref_input.value = ""
        ref_input.display = False
        self.query_one(RefChips).focus()

    async def add_paths(self, paths: list[Path]) -> list[str]:
        """Add files (checked in a thread); returns the error messages (also shown in the tray)."""
        errors: list[str] = []
        added = 0
        for path in paths:
            if self.total >= self.max_refs:
                named = f" (with the named references' {self.total - len(self.items)})" if self.named else ""
                errors.append(f"{self.total + 1} reference images{named}: {self.model_label} accepts at most "
                              f"{self.max_refs}. {path.name} was not added.")
                break
            try:
                item = await asyncio.to_thread(probe_image, path)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            if any(existing.path == item.path for existing in self.items):
                errors.append(f"{item.name} is already in the tray.")
                continue
            self.items.append(item)
            added += 1
        if errors:
            self.say(" ".join(errors), error=True)
        elif added:
            self.say("")
        self._changed()
        return errors

    def remove(self, index: int) -> None:
        if 0 <= index < len(self.items):
            self.items.pop(index)
            self.say("")
            self._changed()

    def clear(self) -> None:
        self.items.clear()
        self.say("")
        self._changed()

    def move(self, index: int, step: int) -> int:
        new = index + step
        if not (0 <= index < len(self.items)) or not (0 <= new < len(self.items)):
            return index
        self.items[index], self.items[new] = self.items[new], self.items[index]
        self._changed()
        return new

    def _changed(self) -> None:
        self.query_one(RefChips).refresh(layout=True)
        self.set_class(bool(self.items or self.named), "-has-refs")
        self.post_message(self.Changed(self, self.paths))

    @on(Input.Submitted, "#ref-input")
    async def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if not value:
            self.close_input()
            return
        errors = await self.add_paths([Path(value)])
        if not errors:
            event.input.value = ""

    def action_close_input(self) -> None:
        self.close_input()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_input":
            return bool(self.query_one("#ref-input", Input).display)
        return True
