"""Run a template: its slot values (and aspect ratios, sizes, models, seeds) editable, with the grid,
the count and the total cost — interactive and at the Batch lane's half price — before anything is
sent.  F5 / the Send button runs the cells in parallel; F8 / Batch submits them to the Batch API.

Dismisses with a :class:`TemplateChoice` (the lane and the plan) or None.  Values are comma separated
(``\\,`` for a comma); ``@path`` takes the lines of a file.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from banana_studio.domain.matrix import grid_lines, split_values
from banana_studio.domain.safetext import display_text
from banana_studio.tui import actions

if TYPE_CHECKING:
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.domain.template import Template
    from banana_studio.services import Studio
    from banana_studio.services.templates import RunPlan

SETTING_FIELDS = (("aspects", "aspect ratios", "aspect_ratio"), ("sizes", "sizes", "image_size"),
                  ("models", "models", "model"), ("seeds", "seeds", "seed"))
GRID_CELLS_SHOWN = 12


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    lane: str
    """``interactive`` or ``batch``."""
    plan: RunPlan


def _values_text(values: list[str]) -> str:
    return ", ".join(v.replace(",", "\\,") for v in values)


class TemplateRunScreen(ModalScreen[TemplateChoice | None]):
    BINDINGS = actions.bindings("template_run")
    DEFAULT_CSS = """
    TemplateRunScreen .modal-box { width: 90%; max-width: 120; height: 90%; }
    TemplateRunScreen #tpl-fields { height: 1fr; }
    TemplateRunScreen .tpl-field { height: 3; }
    TemplateRunScreen .tpl-field Label { width: 18; padding: 1 1 0 0; }
    TemplateRunScreen .tpl-field Input { width: 1fr; }
    TemplateRunScreen #tpl-prompt { color: $text-muted; padding: 0 0 1 0; }
    TemplateRunScreen #tpl-grid { height: auto; padding: 1 0 0 0; }
    TemplateRunScreen #tpl-summary { height: auto; text-style: bold; }
    TemplateRunScreen #tpl-problems { height: auto; color: $error; }
    TemplateRunScreen #tpl-buttons { height: 3; align-horizontal: right; }
    """

    def __init__(self, studio: Studio, template: Template, base: GenerationSettings,
                 parent_id: int | None = None) -> None:
        super().__init__(classes="modal")
        self.studio = studio
        self.template = template
        self.base = base
        self.parent_id = parent_id
        self.plan: RunPlan | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        t = self.template
        with Vertical(classes="modal-box") as box:
            box.border_title = display_text(f"Run template {t.name} ({t.origin})", one_line=True)
            yield Static(Text(display_text(t.prompt)), id="tpl-prompt")
            with VerticalScroll(id="tpl-fields"):
                for slot in t.slot_names:
                    with Horizontal(classes="tpl-field"):
                        yield Label(Text(display_text("{" + slot + "}", one_line=True)))
                        yield Input(_values_text(t.slots.get(slot, [])), id=f"slot-{slot}",
                                    placeholder="values, comma separated, or @file")
                for key, label, fld in SETTING_FIELDS:
                    now = t.settings.get(fld, getattr(self.base, fld))
                    with Horizontal(classes="tpl-field"):
                        yield Label(label)
                        yield Input("", id=f"axis-{key}", placeholder=f"{now if now is not None else 'none'} "
                                                                      "(comma separated for several)")
                yield Static("", id="tpl-grid")
            yield Static("", id="tpl-summary")
            yield Static("", id="tpl-problems")
            with Horizontal(id="tpl-buttons"):
                yield Button("Send (F5)", id="tpl-send", variant="primary")
                yield Button("Batch: Gemini API only" if self.vertex else "Batch, half price (F8)", id="tpl-batch")
                yield Button("Cancel (Esc)", id="tpl-cancel")

    @property
    def vertex(self) -> bool:
        """Vertex AI has no Batch lane: said on the button and in the summary, before anything is picked."""
        return bool(self.studio.target.vertex)

    def on_mount(self) -> None:
        inputs = list(self.query(Input))
        if inputs:
            inputs[0].focus()
        self.replan()

    def options(self) -> Any:
        from banana_studio.services.templates import RunOptions, TemplateError

        slots: dict[str, list[str]] = {}
        for slot in self.template.slot_names:
            raw = self.query_one(f"#slot-{slot}", Input).value.strip()
            if raw == _values_text(self.template.slots.get(slot, [])):
                continue  # the template's own values (an @file of it is read next to the template)
            values = [raw] if raw.startswith("@") else split_values(raw)
            if values:
                slots[slot] = values
        axes: dict[str, list[str]] = {k: split_values(self.query_one(f"#axis-{k}", Input).value)
                                      for k, _, _ in SETTING_FIELDS}
        try:
            seeds = [int(s) for s in axes["seeds"]]
        except ValueError:
            raise TemplateError("Seeds are whole numbers, comma separated.") from None
        return RunOptions(slots, aspects=axes["aspects"], sizes=axes["sizes"], models=axes["models"], seeds=seeds,
                          parent_id=self.parent_id)

    @on(Input.Changed)
    def _changed(self) -> None:
        self.replan()

    @work(group="template-plan", exclusive=True, exit_on_error=False)
    async def replan(self) -> None:
        from banana_studio.services.templates import TemplateError, build_plan
        from banana_studio.store import ProjectError

        try:
            opts = self.options()
            plan = await asyncio.to_thread(build_plan, self.studio.store, self.template, opts, self.base)
        except (TemplateError, ProjectError, OSError) as exc:
            self.plan, self.error = None, str(exc)
        else:
            self.plan, self.error = plan, ""
        self._show()

    def _show(self) -> None:
        plan = self.plan
        summary = self.query_one("#tpl-summary", Static)
        problems = self.query_one("#tpl-problems", Static)
        grid = self.query_one("#tpl-grid", Static)
        if plan is None:
            summary.update("")
            grid.update("")
            problems.update(Text(display_text(self.error)))
            self._buttons(False)
            return
        summary.update(Text(display_text(plan.summary(batch=not self.vertex), one_line=True)))
        lines = [*plan.problems[:5], *(f"warning: {w}" for w in plan.warnings[:3])]
        problems.update(Text(display_text("\n".join(lines))))
        grid.update(self._grid_text(plan))
        self._buttons(not plan.problems)

    def _grid_text(self, plan: RunPlan) -> Text:
        lay = plan.layout
        if lay.x is None:
            return Text(display_text(f"one request: {plan.requests[0].prompt}", one_line=True))
        lines = grid_lines(lay, lambda i: f"#{i + 1} ${plan.estimates[i]:.3f}")
        if len(lines) > GRID_CELLS_SHOWN + 1:
            lines = [*lines[: GRID_CELLS_SHOWN + 1], f"… {len(lines) - GRID_CELLS_SHOWN - 1} more rows"]
        return Text("\n".join(lines), no_wrap=True, overflow="ellipsis")

    def _buttons(self, ok: bool) -> None:
        self.query_one("#tpl-send", Button).disabled = not ok
        self.query_one("#tpl-batch", Button).disabled = not ok or self.vertex

    def _choose(self, lane: str) -> None:
        plan = self.plan
        if plan is None or plan.problems:
            self.notify("Fix the problems shown first.", severity="warning")
            return
        too_many = plan.too_many_text(batch=not self.vertex)
        if lane == "interactive" and too_many:
            self.notify(too_many, severity="warning")
            return
        if lane == "batch" and self.studio.target.vertex:
            self.notify("Batch jobs need the Gemini API (not Vertex AI).", severity="warning")
            return
        self.dismiss(TemplateChoice(lane, plan))

    @on(Button.Pressed, "#tpl-send")
    def action_send(self) -> None:
        self._choose("interactive")

    @on(Button.Pressed, "#tpl-batch")
    def action_batch(self) -> None:
        self._choose("batch")

    @on(Button.Pressed, "#tpl-cancel")
    def action_close(self) -> None:
        self.dismiss(None)
