"""Saving images as named references from the main screen: the selected turn's image (``N``, palette)
or a reference of the tray (``n`` on its chip, palette).  A mixin of
:class:`~banana_studio.tui.screens.main.MainScreen`; the libraries are the services' (no store here).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural
from banana_studio.tui.widgets.ref_tray import RefTray

if TYPE_CHECKING:
    from banana_studio.tui.screens.main.screen import MainScreen


class NamedActions:
    """Save as named reference (a mixin: ``self`` is the main screen)."""

    def action_save_named(self: MainScreen) -> None:
        turn = self.shown_turn
        if turn is None or turn.id != self.selected_id or not turn.final_images:
            self.notify("Select a turn with an image first.", severity="warning")
            return
        turn_id = turn.id

        def save(name: str, scope: str) -> Any:
            return self.named_references().save_turn_image(name, self.store, turn_id, 0, scope)

        self._ask_name(f"the image of turn #{turn_id}", save)

    def action_save_ref_named(self: MainScreen) -> None:
        item = self.composer.tray.selected
        if item is None:
            self.notify("The reference tray is empty: add a reference first (Ctrl+L).", severity="warning")
            return
        self._save_path_named(item.path)

    def action_save_tray_named(self: MainScreen) -> None:
        paths = list(self.composer.tray.paths)
        if not paths:
            self.notify("The reference tray is empty: add references first (Ctrl+L).", severity="warning")
            return

        def save(name: str, scope: str) -> Any:
            return self.named_references().save_files(name, paths, scope)

        self._ask_name(f"the tray's {plural(len(paths), 'reference')}", save)

    def action_named_refs(self: MainScreen) -> None:
        from banana_studio.tui.screens.named_refs import NamedRefsScreen

        def done(name: str | None) -> None:
            self.composer.reload_names()  # one may have been removed
            if name:
                prompt = self.composer.prompt
                prompt.focus()
                before = prompt.document[prompt.cursor_location[0]][:prompt.cursor_location[1]]
                prompt.insert(("" if not before or before.endswith((" ", "\n")) else " ") + name + " ")

        self.app.push_screen(NamedRefsScreen(self.named_references()), done)

    def on_ref_tray_save_named(self: MainScreen, event: RefTray.SaveNamed) -> None:
        event.stop()
        self._save_path_named(event.path)

    def _save_path_named(self: MainScreen, path: Path) -> None:
        def save(name: str, scope: str) -> Any:
            return self.named_references().save_files(name, [path], scope)

        self._ask_name(f"the reference {path.name}", save)

    def named_references(self: MainScreen) -> Any:
        from banana_studio.services.named_refs import NamedReferences

        return NamedReferences(self.store.path)

    def _ask_name(self: MainScreen, what: str, save: Any) -> None:
        from banana_studio.tui.screens.named_ref import NamedRefScreen

        existing = {name: info.images for name, info in self.composer.prompt.names.items()}

        async def done(answer: tuple[str, str] | None) -> None:
            if answer is None:
                return
            name, scope = answer
            from banana_studio.store import ProjectError

            try:
                saved = await asyncio.to_thread(save, name, scope)
                meant = await asyncio.to_thread(self.named_references().resolve, name)
            except ProjectError as exc:
                self.notify(display_text(str(exc)), title=f"{name} was not saved", severity="error")
                return
            where = f"project {self.store.name}" if scope == "project" else "your user library"
            again = " (re-pointed; turns that used it keep their images)" if name in existing else ""
            hidden = (f" In this project {name} still means the project's own {name}." if meant is not None
                      and meant.scope != scope else "")
            self.notify(f"{saved.name} → {plural(len(saved.images), 'image')} in {where}{again}. Write {saved.name} "
                        f"in a prompt to send it.{hidden}", title="Named reference saved")
            self.composer.reload_names()

        self.app.push_screen(NamedRefScreen(what, existing=existing, project=self.store.name), done)
