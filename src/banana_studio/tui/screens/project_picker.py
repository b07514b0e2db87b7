"""Pick, create or rename a project.  Dismisses with a :class:`ProjectChoice` or None."""

from __future__ import annotations

import asyncio
import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from banana_studio.domain.words import plural
from banana_studio.tui import actions


@dataclass(frozen=True, slots=True)
class ProjectChoice:
    action: str
    """'open', 'new' or 'rename'."""
    name: str
    new_name: str = ""


def _list_projects(root: Path) -> list[Any]:
    from banana_studio.store import list_projects

    return list(list_projects(root))


def _validate(name: str) -> str:
    """'' when fine, else the reason."""
    from banana_studio.store import validate_project_name

    try:
        validate_project_name(name)
    except Exception as exc:  # ProjectError carries the clear message
        return str(exc)
    return ""


class ProjectPickerScreen(ModalScreen[ProjectChoice | None]):
    """Lists the projects under the projects root."""

    BINDINGS = actions.bindings("picker")

    def __init__(self, root: Path, current: str) -> None:
        super().__init__(classes="modal")
        self.root = root
        self.current = current
        self._mode = "filter"
        self._projects: list[Any] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box", id="picker-box") as box:
            box.border_title = "Projects"
            yield Input(placeholder="Filter projects…", id="picker-input")
            yield OptionList(id="picker-list")
            yield Static("", id="picker-error", classes="field-error")
            yield Static("Enter open · Ctrl+N new project (type its name) · Ctrl+R rename the highlighted "
                         "project · Esc close", classes="modal-hint")

    def on_mount(self) -> None:
        self.load()
        self.query_one("#picker-input", Input).focus()

    @work(group="picker", exclusive=True, exit_on_error=False)
    async def load(self) -> None:
        try:
            self._projects = await asyncio.to_thread(_list_projects, self.root)
        except Exception as exc:
            self.query_one("#picker-error", Static).update(f"Cannot list projects in {self.root}: {exc}")
            self._projects = []
        self._fill("")

    def _fill(self, needle: str) -> None:
        olist = self.query_one("#picker-list", OptionList)
        olist.clear_options()
        needle = needle.lower().strip()
        highlight = 0
        for proj in self._projects:
            name = str(getattr(proj, "name", proj))
            if needle and needle not in name.lower():
                continue
            line = Text()
            line.append(("● " if name == self.current else "  ") + name, style="bold" if name == self.current else "")
            n_turns = getattr(proj, "n_turns", None)
            if n_turns is not None:
                line.append(f"   {plural(n_turns, 'turn')}", style="dim")
            cost = getattr(proj, "cost", None)
            if cost:
                line.append(f" · ${float(cost):.2f}", style="dim")
            demo_cost = getattr(proj, "demo_cost", 0.0)
            if demo_cost:
                line.append(f" · demo: ${float(demo_cost):.2f} simulated", style="dim italic")
            updated = getattr(proj, "updated_at", None)
            if updated:
                line.append(" · " + _dt.datetime.fromtimestamp(float(updated)).strftime("%Y-%m-%d %H:%M"),
                            style="dim")
            if name == self.current:
                highlight = olist.option_count
            olist.add_option(Option(line, id=name))
        if olist.option_count:
            olist.highlighted = highlight

    @on(Input.Changed, "#picker-input")
    def _filter(self, event: Input.Changed) -> None:
        if self._mode == "filter":
            self._fill(event.value)

    @on(Input.Submitted, "#picker-input")
    def _submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if self._mode in ("new", "rename"):
            if not value:
                self._error("Type a name first.")
                return
            problem = _validate(value)
            if problem:
                self._error(problem)
                return
            if any(str(getattr(p, "name", p)) == value for p in self._projects):
                if self._mode == "rename":
                    self._error(f"A project named {value!r} already exists.")
                    return
                self.dismiss(ProjectChoice("open", value))
                return
            if self._mode == "new":
                self.dismiss(ProjectChoice("new", value))
            else:
                self.dismiss(ProjectChoice("rename", self._rename_from, value))
            return
        self._open_highlighted()

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(ProjectChoice("open", event.option.id))

    def _open_highlighted(self) -> None:
        olist = self.query_one("#picker-list", OptionList)
        if olist.highlighted is None:
            self._error("No project matches; Ctrl+N creates one.")
            return
        option = olist.get_option_at_index(olist.highlighted)
        if option.id:
            self.dismiss(ProjectChoice("open", option.id))

    def key_down(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_down()

    def key_up(self) -> None:
        self.query_one("#picker-list", OptionList).action_cursor_up()

    def _error(self, message: str) -> None:
        self.query_one("#picker-error", Static).update(Content(message))  # text, not markup

    def action_new(self) -> None:
        self._mode = "new"
        inp = self.query_one("#picker-input", Input)
        inp.value = ""
        inp.placeholder = "Name of the new project (Enter creates it)"
        self.query_one("#picker-box").border_title = "New project"
        self._error("")
        inp.focus()

    def action_rename(self) -> None:
        olist = self.query_one("#picker-list", OptionList)
        if olist.highlighted is None:
            self._error("Highlight the project to rename first.")
            return
        option = olist.get_option_at_index(olist.highlighted)
        self._rename_from = option.id or ""
        self._mode = "rename"
        inp = self.query_one("#picker-input", Input)
        inp.value = self._rename_from
        inp.cursor_position = len(inp.value)
        inp.placeholder = "New name (Enter renames)"
        self.query_one("#picker-box").border_title = f"Rename {self._rename_from}"
        self._error("")
        inp.focus()

    def action_cancel(self) -> None:
        if self._mode != "filter":
            self._mode = "filter"
            inp = self.query_one("#picker-input", Input)
            inp.value = ""
            inp.placeholder = "Filter projects…"
            self.query_one("#picker-box").border_title = "Projects"
            self._fill("")
            return
        self.dismiss(None)
