"""Templates on the main screen: run one (pick → slot values, grid and cost → parallel or Batch API),
save the selected turn as one, edit one in $EDITOR, and show the template run of the selected turn.

A mixin of :class:`~banana_studio.tui.screens.main.MainScreen`; the work is in
:mod:`banana_studio.services.templates` and the screens ``template_picker``, ``template_run`` and
``matrix_grid``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural
from banana_studio.tui import platform
from banana_studio.tui.budget_guard import budget_allows
from banana_studio.tui.screens.confirm import TextPromptScreen

if TYPE_CHECKING:
    from banana_studio.services.templates import TemplateLibrary
    from banana_studio.tui.screens.main.screen import MainScreen
    from banana_studio.tui.screens.template_run import TemplateChoice


def _name_problem(name: str) -> str | None:
    from banana_studio.domain.template import TemplateError, valid_name

    try:
        valid_name(name.strip())
    except TemplateError as exc:
        return str(exc)
    return None


class TemplateActions:
    """The template actions (a mixin: ``self`` is the main screen)."""

    def template_library(self: MainScreen) -> TemplateLibrary:
        from banana_studio.services.templates import TemplateLibrary

        return TemplateLibrary.for_store(self.store)

    async def _pick_template(self: MainScreen, title: str, *, broken_ok: bool = False) -> str | None:
        from banana_studio.tui.screens.template_picker import TemplatePickerScreen

        entries = await asyncio.to_thread(self.template_library().entries)
        if not entries:
            self.notify("No templates yet: use “Save turn as template” on a turn, or `banana-studio template new "
                        f"NAME`. Your library: {self.template_library().user_dir}", title="Templates")
            return None
        return await self.app.push_screen_wait(TemplatePickerScreen(entries, title, broken_ok=broken_ok))

    def action_run_template(self: MainScreen) -> None:
        if self.busy():
            return
        self.run_worker(self._run_template(), group="template-flow", exclusive=True, exit_on_error=False)

    async def _run_template(self: MainScreen) -> None:
        from banana_studio.services.templates import TemplateError
        from banana_studio.tui.screens.template_run import TemplateRunScreen

        name = await self._pick_template("Run template")
        if name is None:
            return
        try:
            tpl = await asyncio.to_thread(self.template_library().get, name)
        except TemplateError as exc:
            self.notify(display_text(str(exc)), title="Template", severity="error")
            return
        base = self.composer.settings.copy(region={})  # a region edit is about one picture, not a matrix
        choice: TemplateChoice | None = await self.app.push_screen_wait(TemplateRunScreen(self.studio, tpl, base))
        if choice is not None:
            await self.start_template_run(choice)

    async def start_template_run(self: MainScreen, choice: TemplateChoice) -> None:
        """The chosen lane, budget checked: the live grid (parallel) or the Batch API jobs."""
        from banana_studio.tui.screens.matrix_grid import MatrixGridScreen

        plan = choice.plan
        batch = choice.lane == "batch"
        estimate = plan.batch_total if batch else plan.total
        if not await budget_allows(self.app, self.studio, plan.requests[0].settings, plan.count, batch=batch,
                                   estimate=estimate):
            return
        if batch:
            await self._submit_template_batch(plan)
            return
        grid = MatrixGridScreen(self.studio, plan=plan)
        picked = await self.app.push_screen_wait(grid)
        self.count_spent(grid.saved)
        self.studio_app.session.tokens += sum(int((t.usage or {}).get("total_tokens", 0) or 0) for t in grid.saved)
        await self.reload_tree(select=picked)
        await self.refresh_costs()

    async def _submit_template_batch(self: MainScreen, plan: object) -> None:
        from banana_studio.services.batch import BatchError
        from banana_studio.services.templates import TemplateError, submit_batch

        try:
            run, records = await submit_batch(self.studio, plan)  # type: ignore[arg-type]
        except (BatchError, TemplateError) as exc:
            self.notify(display_text(str(exc)), title="Batch", severity="error")
            return
        jobs = ", ".join(r.name for r in records)
        self.notify(f"Run {run.id}: {plural(len(records), 'Batch API job')} submitted ({jobs}). F8 shows their "
                    "progress and imports the results; the run's grid fills then.", title="Template run")

    def action_save_as_template(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return

        async def save(name: str | None) -> None:
            from banana_studio.services.templates import TemplateError

            if name is None:
                return
            try:
                path = await asyncio.to_thread(self.template_library().from_turn, self.store, turn_id, name.strip())
            except TemplateError as exc:
                self.notify(display_text(str(exc)), title="Save as template", severity="error")
                return
            self.notify(f"Saved as {path}. Put {{slot}} where the prompt should vary; “Edit template in $EDITOR” "
                        "opens it.", title="Template saved")

        self.app.push_screen(TextPromptScreen("Save turn as template", f"Name for a template made from #{turn_id} "
                                              "(letters, digits, '.', '_', '-'):", check=_name_problem), save)

    def action_edit_template(self: MainScreen) -> None:
        self.run_worker(self._edit_template(), group="template-flow", exclusive=True, exit_on_error=False)

    async def _edit_template(self: MainScreen) -> None:
        from banana_studio.domain.template import TemplateError, parse_template
        from banana_studio.store import templates as files

        name = await self._pick_template("Edit template", broken_ok=True)
        if name is None:
            return
        try:  # a template that does not parse is edited too: that is how it gets fixed
            path = await asyncio.to_thread(self.template_library().locate, name)
            text = await asyncio.to_thread(files.read_text, path)
        except TemplateError as exc:
            self.notify(display_text(str(exc)), title="Template", severity="error")
            return
        edited = platform.edit_text(self.app, text, suffix=".toml", what="templates")
        if edited.text is None:
            if edited.problem:
                self.notify(edited.problem, severity=edited.severity)  # type: ignore[arg-type]
            return
        if edited.text == text:
            return
        try:
            parse_template(edited.text, name, source=str(path))
            await asyncio.to_thread(files.write, path, edited.text, overwrite=True)
        except TemplateError as exc:
            self.notify(f"{display_text(str(exc))}\nThe file was not changed.", title="Template not saved",
                        severity="error")
            return
        self.notify(f"Saved {path}.", title="Template")

    def action_template_grid(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is not None:
            self.run_worker(self._template_grid(turn_id), group="template-flow", exclusive=True, exit_on_error=False)

    async def _template_grid(self: MainScreen, turn_id: int) -> None:
        from banana_studio.tui.screens.matrix_grid import open_run_grid

        picked = await open_run_grid(self, self.studio, turn_id)
        if picked is not None:
            await self.reload_tree(select=picked)

