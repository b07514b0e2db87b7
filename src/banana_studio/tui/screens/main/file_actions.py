"""Actions of the main screen that write files or leave the studio: export the branch, storyboard,
save the image as, copy its path, open it in the system's viewer, write the prompt in $EDITOR — and
the lanes that send many requests at once (variations, batch jobs).

A mixin of :class:`~banana_studio.tui.screens.main.MainScreen`; what depends on the operating
system is in :mod:`banana_studio.tui.platform`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from banana_studio.config import redact
from banana_studio.store import ProjectError
from banana_studio.tui import platform
from banana_studio.tui.budget_guard import budget_allows
from banana_studio.tui.screens.confirm import TextPromptScreen

if TYPE_CHECKING:
    from banana_studio.services import GenerateRequest
    from banana_studio.tui.screens.main.screen import MainScreen
    from banana_studio.tui.screens.variations import VariationsResult


class FileActions:
    """Files, other programs and the many-request lanes (a mixin: ``self`` is the main screen)."""

    def _ask_folder(self: MainScreen, title: str, question: str, default: Path, done: object) -> None:
        self.app.push_screen(TextPromptScreen(title, question, value=str(default)), done)  # type: ignore[arg-type]

    def action_export(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return
        from banana_studio.paths import export_dir

        async def done(target: str | None) -> None:
            if not target:
                return
            try:
                json_path = await asyncio.to_thread(self.store.export_branch, turn_id, Path(target).expanduser())
            except Exception as exc:
                self.notify(redact(str(exc)), title="Export failed", severity="error")
                return
            self.notify(f"Exported the branch to {json_path.parent}", title="Exported")

        self._ask_folder(f"Export branch → #{turn_id}", "Folder for the images and branch.json (default: your "
                         "pictures folder, Banana Studio):", export_dir() / f"{self.store.name}-turn-{turn_id:04d}",
                         done)

    def action_export_storyboard(self: MainScreen) -> None:
        turn_id = self.need_turn()
        if turn_id is None:
            return
        from banana_studio.paths import export_dir
        from banana_studio.services.storyboard import default_folder, export_storyboard

        async def done(target: str | None) -> None:
            if not target:
                return
            try:
                out = await asyncio.to_thread(export_storyboard, self.store, turn_id, Path(target).expanduser())
            except Exception as exc:
                self.notify(redact(str(exc)), title="Storyboard export failed", severity="error")
                return
            self.notify(f"{out.html}\n{out.markdown}\n{out.sheet}", title="Storyboard exported", timeout=10)

        self._ask_folder(f"Storyboard of the branch → #{turn_id}",
                         "Folder for the contact sheet, HTML/Markdown pages and images:",
                         default_folder(self.store, turn_id, export_dir()), done)

    def action_save_as(self: MainScreen) -> None:
        path = self.final_path()
        if path is None:
            return
        from banana_studio.paths import export_dir

        async def done(target: str | None) -> None:
            if not target:
                return
            out = Path(target).expanduser()
            if out.is_dir():
                out = out / path.name
            if out.suffix.lower() != path.suffix.lower():
                out = out.with_name(out.name + path.suffix)
            try:
                await asyncio.to_thread(self.store.save_copy, path, out)
            except ProjectError as exc:
                self.notify(str(exc), title="Save failed", severity="error")
                return
            except OSError as exc:
                self.notify(f"Cannot save {out}: {exc.strerror or exc}.", title="Save failed", severity="error")
                return
            self.notify(f"Saved {out}", title="Saved")

        self._ask_folder("Save image as", "File or folder (the recipe stays embedded):", export_dir() / path.name,
                         done)

    def action_copy_path(self: MainScreen) -> None:
        path = self.final_path()
        if path is None:
            return
        self.app.copy_to_clipboard(str(path))
        self.notify(f"Copied (OSC 52): {path}")

    def action_open_external(self: MainScreen) -> None:
        path = self.final_path()
        if path is None:
            return
        opener = platform.system_opener()
        if opener is None:
            self.notify(f"No local display here (SSH or headless). The image is at:\n{path}\n(press c to copy "
                        "the path)", title="Open in viewer", timeout=12)
            return
        try:
            platform.open_file(opener, path)
        except OSError as exc:
            self.notify(f"Could not start {opener}: {exc.strerror}. The image is at {path}", severity="error")
            return
        self.notify(f"Opened {path.name} in the system viewer.")

    def action_external_editor(self: MainScreen) -> None:
        """Write the prompt in $VISUAL / $EDITOR (the studio is suspended meanwhile)."""
        prompt = self.composer.prompt
        edited = platform.edit_text(self.app, prompt.text)
        if edited.text is not None:
            prompt.load_text_at_end(edited.text)
        elif edited.problem:
            self.notify(edited.problem, severity=edited.severity)  # type: ignore[arg-type]
        prompt.focus()

    def action_add_reference(self: MainScreen) -> None:
        self.composer.tray.open_input()

    # -- many requests at once ------------------------------------------------------------------

    def action_variations(self: MainScreen) -> None:
        """Ask how many, then :meth:`start_variations`."""
        if self.busy():
            return
        if not self.composer.ready("Write a prompt first, then ask for variations."):
            return
        from banana_studio.services.variations import DEFAULT_VARIATIONS, MAX_VARIATIONS, MIN_VARIATIONS

        def asked(value: str | None) -> None:
            if value is None:
                return
            try:
                count = int(value.strip())
            except ValueError:
                count = -1
            if not MIN_VARIATIONS <= count <= MAX_VARIATIONS:
                self.notify(f"Choose between {MIN_VARIATIONS} and {MAX_VARIATIONS} variations.", severity="warning")
                return
            self.start_variations(count)

        self.app.push_screen(TextPromptScreen("Variations", f"How many at once ({MIN_VARIATIONS}–{MAX_VARIATIONS})? "
                                              "Each is a separate request, billed separately.",
                                              value=str(DEFAULT_VARIATIONS)), asked)

    def start_variations(self: MainScreen, count: int) -> None:
        """Send the composer's request ``count`` times at once (budget checked), in the variations
        grid; the pick (if any) becomes the selected turn."""
        request = self.composer.build_request(self.requested_parent(), kind="variation",
                                              empty_hint="Write a prompt first, then ask for variations.")
        if request is None:
            return
        self.run_worker(self._variations(request, count), group="variations-flow", exclusive=True,
                        exit_on_error=False)

    async def _variations(self: MainScreen, request: GenerateRequest, count: int) -> None:
        from banana_studio.tui.screens.variations import VariationsScreen

        if request.parent_id is not None:  # a branch another target made: offer the way that works, once
            try:
                crossing = await asyncio.to_thread(self.studio.crossing_problem, request.parent_id)
            except ProjectError:
                crossing = None  # e.g. the parent was deleted: each send says so
            if crossing:
                from banana_studio.tui.from_image import offer_image_alone

                offer_image_alone(self, request.parent_id, crossing, request.prompt)
                return
        if not await budget_allows(self.app, self.studio, request.settings, count, len(request.references)):
            return
        self.composer.sent(request)
        self.parent_override = None
        result: VariationsResult = await self.app.push_screen_wait(VariationsScreen(self.studio, request, count))
        self.count_spent(result.turns)
        self.studio_app.session.tokens += sum(int((t.usage or {}).get("total_tokens", 0) or 0)
                                              for t in result.turns)
        await self.reload_tree(select=result.picked)
        await self.refresh_costs()

    def action_batch_jobs(self: MainScreen) -> None:
        """The project's Batch API jobs (submitted with the composer's settings)."""
        from banana_studio.tui.screens.batch import BatchScreen

        async def done(imported: bool | None) -> None:
            if imported:
                await self.reload_tree()

        self.app.push_screen(BatchScreen(self.studio, self.composer.settings), done)
