"""The composer of the main screen: the reference tray, the settings (summary line + sidebar) and the
prompt.  It builds the next request from what is written (:meth:`Composer.build_request`) and puts
a request or a turn back into the fields (:meth:`Composer.load_request`, :meth:`Composer.load_turn`).

The settings sidebar sits at the right edge of the screen, outside this container; the screen builds
it and hands it over, and forwards its ``Changed`` message (:meth:`Composer.settings_changed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.named_refs import mentions
from banana_studio.tui.widgets.name_completion import NameCompletion, NameInfo
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.ref_tray import NamedChip, RefTray
from banana_studio.tui.widgets.settings_summary import SettingsSummary

if TYPE_CHECKING:
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.domain.turn import Turn
    from banana_studio.services import GenerateRequest
    from banana_studio.tui.widgets.sidebar import SettingsSidebar


class Composer(Vertical):
    """Prompt + references + settings: what the next send is made of."""

    class Changed(Message):
        """References or settings changed (the request size is measured again)."""

    def __init__(self, sidebar: SettingsSidebar, *, send_key: str, defaults: GenerationSettings,
                 estimate: Callable[[GenerationSettings, int], float], id: str | None = None) -> None:
        super().__init__(id=id)
        self.sidebar = sidebar
        self._send_key = send_key
        self._estimate = estimate
        self.settings_source = "config defaults"
        """Where the settings came from (shown in the summary line and the sidebar title)."""
        self._settings_base = defaults.copy()

    def compose(self) -> ComposeResult:
        yield RefTray(id="refs")
        yield SettingsSummary(id="settings-summary")
        yield PromptArea(send_key=self._send_key, id="prompt")
        yield NameCompletion()

    def start(self, project_path: Path | None = None) -> None:
        """Once the screen is mounted (the sidebar too): the summary line, the tray's limit and the
        saved names of ``project_path``'s reference libraries (then the user's)."""
        self.show_summary()
        spec = get_model(self.sidebar.settings.model)
        self.tray.set_limit(spec.max_references, spec.label)
        self.prompt.completion = self.query_one(NameCompletion)
        self._project_path = project_path
        self.reload_names()

    # -- named references -------------------------------------------------------------------------

    _project_path: Path | None = None

    @work(exclusive=True, group="names")
    async def reload_names(self) -> None:
        """Read the saved names off the loop (after a save, or at start)."""
        from banana_studio.services.named_refs import NamedReferences
        from banana_studio.store import ProjectError

        try:
            refs = await asyncio.to_thread(NamedReferences(self._project_path).all)
        except ProjectError as exc:
            self.notify(str(exc), title="Named references", severity="warning")
            refs = []
        self.prompt.names = {r.name: NameInfo(r.name, len(r.images), r.scope, r.images[0].label if r.images else "")
                             for r in refs}
        self.show_named()

    def show_named(self) -> None:
        """The chips of the names the prompt mentions (an unknown one in red; not the word still being
        typed at the cursor while it can become a saved name)."""
        prompt = self.prompt
        names = prompt.names
        text = prompt.text
        at = prompt.document.get_index_from_location(prompt.cursor_location)
        chips: list[NamedChip] = []
        for m in mentions(text):
            if m.literal or any(c.name == m.name for c in chips):
                continue
            if m.name in names:
                chips.append(NamedChip(m.name, names[m.name].images, names[m.name].scope))
            elif not (m.end == at and any(n.startswith(m.name) for n in names)):
                chips.append(NamedChip(m.name, -1))
        self.tray.set_named(chips)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Back in the prompt: read the names again (another window or `banana-studio ref` may have
        saved or re-pointed one meanwhile; a send always reads them afresh anyway)."""
        if event.widget is self.prompt and self._project_path is not None:
            self.reload_names()

    @on(NameCompletion.OptionSelected, "#name-completion")
    def _name_clicked(self, event: NameCompletion.OptionSelected) -> None:
        """A click on a name of the list inserts it, as Tab would."""
        event.stop()
        self.prompt.focus()
        self.prompt.accept_completion()

    @on(PromptArea.SelectionChanged, "#prompt")
    def _prompt_cursor_moved(self, event: PromptArea.SelectionChanged) -> None:
        self.show_named()

    @on(PromptArea.Changed, "#prompt")
    def _prompt_changed(self, event: PromptArea.Changed) -> None:
        self.show_named()

    # -- parts ------------------------------------------------------------------------------------

    @property
    def prompt(self) -> PromptArea:
        return self.query_one(PromptArea)

    @property
    def tray(self) -> RefTray:
        return self.query_one(RefTray)

    @property
    def settings(self) -> GenerationSettings:
        return self.sidebar.settings

    @property
    def references(self) -> list[Path]:
        return list(self.tray.paths)

    @property
    def title(self) -> str:
        return str(self.prompt.border_title or "")

    @title.setter
    def title(self, text: str) -> None:
        self.prompt.border_title = text

    def focus_prompt(self) -> None:
        self.prompt.focus()

    # -- requests ---------------------------------------------------------------------------------

    def ready(self, empty_hint: str = "Write a prompt first.") -> bool:
        """True if the fields make a request; else False, and the user is told what is missing."""
        if not self.prompt.text.strip():
            self.notify(empty_hint, severity="warning")
            self.prompt.focus()
            return False
        fatal = self.sidebar.fatal_problems
        if fatal:
            self.notify("\n".join(p.message for p in fatal), title="Fix the settings first", severity="error")
            return False
        return True

    def build_request(self, parent_id: int | None, *, kind: str = "generate",
                      empty_hint: str = "Write a prompt first.") -> GenerateRequest | None:
        """The request the fields describe, continuing from ``parent_id`` (as Posting's
        ``build_request_model``); None (said why) when they cannot be sent (see :meth:`ready`)."""
        if not self.ready(empty_hint):
            return None
        from banana_studio.services import GenerateRequest

        return GenerateRequest(prompt=self.prompt.text.strip(), parent_id=parent_id, references=self.references,
                               settings=self.settings, kind=kind, expand_names=True)

    def sent(self, request: GenerateRequest) -> None:
        """The request went out: remember its prompt and empty the fields for the next one."""
        self.prompt.remember(request.prompt)
        self.prompt.load_text("")
        self.tray.clear()

    def load_request(self, request: GenerateRequest | None) -> None:
        """Give the prompt and references back (a request refused before it was recorded)."""
        if request is None or getattr(request, "kind", "generate") not in ("generate", "from_image"):
            return
        if not self.prompt.text.strip():
            self.prompt.load_text_at_end(request.prompt)
        paths = [r for r in request.references if isinstance(r, Path) and r.exists()]
        if paths and not self.tray.items:
            self.run_worker(self.tray.add_paths(paths), group="refs")

    def load_turn(self, turn: Turn, references: list[Path]) -> None:
        """Fork: ``turn``'s prompt, settings and references (their files), ready to change."""
        self.load_settings(turn.settings, f"of #{turn.id}", keep_region=True)
        self.prompt.load_text_at_end(turn.prompt)
        self.tray.clear()
        if references:
            self.run_worker(self.tray.add_paths(references), group="refs")

    async def use_image_alone(self, path: Path, settings: GenerationSettings, prompt: str = "") -> bool:
        """The references become ``path`` alone, with ``settings`` (continue from an image)."""
        self.tray.clear()
        if await self.tray.add_paths([path]):
            return False
        self.sidebar.load(settings)
        if prompt and not self.prompt.text.strip():
            self.prompt.load_text_at_end(prompt)
        return True

    async def add_references(self, paths: list[Path]) -> list[str]:
        """Add ``paths`` to the tray; the errors (one line each) for those refused."""
        return await self.tray.add_paths(paths)

    def add_history(self, prompts: list[str]) -> None:
        """Older prompts for ↑ (oldest first), before the ones typed in this session."""
        self.prompt.prompt_history = prompts + self.prompt.prompt_history

    # -- settings ---------------------------------------------------------------------------------

    def load_settings(self, settings: GenerationSettings, source: str, *, keep_region: bool = False) -> None:
        """Put ``settings`` in the sidebar; ``source`` says where they came from ("of #8").  A region edit's
        region is kept only by fork (``keep_region``): the next plain prompt is no region edit."""
        if settings.region and not keep_region:
            settings = settings.copy(region={})
        self.settings_source = source
        self._settings_base = settings.copy()
        self.sidebar.load(settings)
        self.show_summary()

    def saved_with(self, turn: Turn) -> None:
        """``turn`` was saved: if it used the current settings, they are now "of #id"."""
        if self.settings == turn.settings:
            self.settings_source, self._settings_base = f"of #{turn.id}", turn.settings.copy()
            self.show_summary()

    def settings_changed(self, settings: GenerationSettings) -> None:
        spec = get_model(settings.model)
        self.tray.set_limit(spec.max_references, spec.label)
        self.show_summary()
        self.post_message(self.Changed())

    def show_summary(self) -> None:
        sidebar = self.sidebar
        settings = sidebar.settings
        source = self.settings_source if settings == self._settings_base else f"changed, was {self.settings_source}"
        if source.startswith("changed, was of "):
            source = "changed from " + source.removeprefix("changed, was of ")
        try:
            estimate = f"≈ ${self._estimate(settings, self.tray.total):.3f}/image"
        except Exception:
            estimate = ""
        fatal = sidebar.fatal_problems
        self.query_one(SettingsSummary).show(settings, source=source, estimate=estimate,
                                             problem="✗ " + fatal[0].message if fatal else "")
        sidebar.border_title = f"Settings · {source}"

    # -- fields -----------------------------------------------------------------------------------

    @on(PromptArea.PathsPasted)
    async def _paths_pasted(self, event: PromptArea.PathsPasted) -> None:
        event.stop()
        errors = await self.tray.add_paths(event.paths)
        added = len(event.paths) - len(errors)
        if added > 0:
            self.notify(f"Added {added} reference image{'s' if added != 1 else ''}.")
        for err in errors:
            self.notify(err, severity="error")

    @on(RefTray.Changed)
    def _refs_changed(self, event: RefTray.Changed) -> None:
        self.sidebar.set_reference_count(self.tray.total)
        self.post_message(self.Changed())
