"""The settings sidebar: model, aspect ratio, size, thinking, grounding, temperature, seed, system.

Options a model does not support are left out of its lists and named, with the reason, in a note
under the control (Textual's ``Select`` cannot grey out single options); switches the model cannot
use are disabled with a tooltip.  Every change posts :class:`SettingsSidebar.Changed` with the
validated settings, so the screen never reaches into the controls.

Start-up: the controls (four ``Select``s, ``Input``s, ``Switch``es and a ``TextArea`` — about 40
widgets) are the most expensive part of the first screen.  With ``defer_fields=True`` the sidebar
composes only its frame, the problems line and the estimate; :meth:`SettingsSidebar.mount_fields`
adds the controls later (the main screen calls it right after the first paint).  Until then the
settings still work: :attr:`settings`, :meth:`load` and the estimate use the model, and the controls
are built from it when they arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, Static, Switch, TextArea

from banana_studio.domain.catalogue import MODELS, STANDARD_RATIOS, get_model, pixel_size
from banana_studio.domain.settings import (
    GenerationSettings,
    Problem,
    thinking_levels_for,
    validate_settings,
)
from banana_studio.domain.words import too_many_references

CUSTOM = "__custom__"
ALL_RATIOS = (*STANDARD_RATIOS, "1:4", "4:1", "1:8", "8:1")
ALL_SIZES = ("512", "1K", "2K", "4K")

Estimator = Callable[[GenerationSettings, int], float]


def _fallback_estimate(settings: GenerationSettings, n_refs: int) -> float:
    spec = get_model(settings.model)
    image = spec.prices.per_image.get(settings.image_size, max(spec.prices.per_image.values(), default=0.0))
    return image + n_refs * spec.prices.input_image


class SettingsSidebar(Vertical):
    """Generation settings for the next send."""

    @dataclass
    class Changed(Message):
        sidebar: SettingsSidebar
        settings: GenerationSettings
        problems: list[Problem]

        @property
        def control(self) -> SettingsSidebar:
            return self.sidebar

    def __init__(self, settings: GenerationSettings, *, estimator: Estimator | None = None,
                 id: str | None = None, defer_fields: bool = False, vertex: bool = False) -> None:
        super().__init__(id=id)
        self._vertex = vertex
        """Vertex AI target: offer its image options (the Gemini API refuses them: hidden, cleared)."""
        self._settings = self._fit_target(settings.copy())
        self._estimator = estimator or _fallback_estimate
        self._n_refs = 0
        self._request_label = ""
        self._request_warning = ""
        self.problems: list[Problem] = validate_settings(self._settings)
        self._defer_fields = defer_fields
        self._fields_ready = False
        self._mounting_fields = False
        self._focus_when_ready = False
        self._pending_fallbacks: list[str] = []
        """Notes about settings changed to fit the model before the controls existed."""

    # -- composition --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="sidebar-fields"):
            if not self._defer_fields:
                yield from self._field_widgets()
                self._fields_ready = True
        yield Static("", id="problems", classes="field-error")
        yield Static("", id="estimate", classes="estimate")

    def _field_widgets(self) -> list[Widget]:
        """The controls, built from the current settings."""
        s = self._settings
        known = {m.id for m in MODELS}
        model_value = s.model if s.model in known else CUSTOM
        custom = Input(value="" if model_value != CUSTOM else s.model,
                       placeholder="model id, e.g. gemini-3-pro-image", id="custom-model", compact=True)
        custom.display = model_value == CUSTOM
        return [
            Label("Model", classes="field-label"),
            Select([(f"{m.label}", m.id) for m in MODELS] + [("Custom id…", CUSTOM)],
                   value=model_value, allow_blank=False, id="model", compact=True),
            custom,
            Static("", id="model-note", classes="field-note"),
            Label("Aspect ratio", classes="field-label"),
            Select([], allow_blank=True, id="aspect", compact=True),
            Label("Size", classes="field-label"),
            Select([], allow_blank=True, id="size", compact=True),
            Static("", id="shape-note", classes="field-note"),
            Horizontal(Label("Thoughts", classes="switch-label"),
                       Switch(value=s.include_thoughts, id="thoughts"), classes="switch-row"),
            Horizontal(Label("Google Search", classes="switch-label"),
                       Switch(value=s.google_search, id="search"), classes="switch-row"),
            Horizontal(Label("Image search", classes="switch-label"),
                       Switch(value=s.image_search, id="image-search"), classes="switch-row"),
            Horizontal(Label("Image only", classes="switch-label"),
                       Switch(value=s.image_only, id="image-only",
                              tooltip="Ask for the image without a text answer (response modalities: IMAGE)"),
                       classes="switch-row"),
            Label("Thinking level", classes="field-label"),
            Select([(lvl.title() if lvl else "Model default", lvl) for lvl in thinking_levels_for(s.model)],
                   value=s.thinking_level.upper() if s.thinking_level else "", allow_blank=False,
                   id="thinking", compact=True),
            Label("Temperature", classes="field-label"),
            Input(value="" if s.temperature is None else str(s.temperature), placeholder="default (1.0)",
                  id="temperature", compact=True, restrict=r"[0-9.]*"),
            Label("Seed", classes="field-label"),
            Input(value="" if s.seed is None else str(s.seed), placeholder="random", id="seed",
                  compact=True, restrict=r"[0-9]*"),
            Label("System instruction", classes="field-label"),
            TextArea(s.system_instruction, id="system", soft_wrap=True, compact=True,
                     placeholder="optional style guide…"),
            *(self._vertex_widgets() if self._vertex else []),
        ]

    def _vertex_widgets(self) -> list[Widget]:
        s = self._settings
        return [
            Label("Output type (Vertex AI)", classes="field-label"),
            Select([("Model default", ""), ("PNG", "image/png"), ("JPEG", "image/jpeg")],
                   value=s.output_mime_type, allow_blank=False, id="output-mime", compact=True),
            Label("JPEG quality (Vertex AI)", classes="field-label"),
            Input(value="" if s.output_quality is None else str(s.output_quality), placeholder="default",
                  id="output-quality", compact=True, restrict=r"[0-9]*"),
            Label("People (Vertex AI)", classes="field-label"),
            Select([("Default", ""), ("Allow all", "ALLOW_ALL"), ("Adults only", "ALLOW_ADULT"),
                    ("No people", "ALLOW_NONE")], value=s.person_generation.upper(), allow_blank=False,
                   id="person-generation", compact=True),
        ]

    def _fit_target(self, settings: GenerationSettings) -> GenerationSettings:
        if not self._vertex:  # e.g. a turn made on Vertex AI, re-opened on the Gemini API
            settings.output_mime_type, settings.output_quality, settings.person_generation = "", None, ""
        return settings

    def on_mount(self) -> None:
        self.border_title = "Settings"
        self._sync_model_dependent()
        self._refresh_notes()

    @property
    def fields_ready(self) -> bool:
        """True once the controls are mounted (always, unless built with ``defer_fields=True``)."""
        return self._fields_ready

    async def mount_fields(self) -> None:
        """Mount the controls (a no-op when they are there already).  They show the settings as they are
        now, including any :meth:`load` made before."""
        if self._fields_ready or self._mounting_fields:
            return
        self._mounting_fields = True
        built_from = self._settings.copy()
        await self.query_one("#sidebar-fields", VerticalScroll).mount_all(self._field_widgets())
        self._fields_ready = True
        self._mounting_fields = False
        if self._settings != built_from:  # load() while the controls were being mounted
            self.load(self._settings)
        else:
            self._sync_model_dependent()
        if self._focus_when_ready:
            self._focus_when_ready = False
            self.query_one("#model", Select).focus()

    def focus_first(self) -> None:
        """Focus the first control (the model), or as soon as the controls are mounted."""
        if self._fields_ready:
            self.query_one("#model", Select).focus()
        else:
            self._focus_when_ready = True

    # -- public API -----------------------------------------------------------------------------

    @property
    def settings(self) -> GenerationSettings:
        return self._settings.copy()

    @property
    def fatal_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]

    def set_reference_count(self, n: int) -> None:
        self._n_refs = n
        self._refresh_notes()

    def set_request_size(self, label: str, warning: str = "") -> None:
        """Show how big the next request will be (under the cost) and its warning near the limit."""
        if (label, warning) != (self._request_label, self._request_warning):
            self._request_label, self._request_warning = label, warning
            if self.is_mounted and self.query("#problems"):  # a late measurement after the panel went
                self._refresh_notes()

    def load(self, settings: GenerationSettings) -> None:
        """Show ``settings`` (e.g. from a selected turn) in every control."""
        self._settings = self._fit_target(settings.copy())
        if not self._fields_ready:  # the controls are built from the settings when they are mounted
            self._sync_model_dependent()
            self._changed()
            return
        with self.prevent(Select.Changed, Input.Changed, Switch.Changed, TextArea.Changed):
            known = {m.id for m in MODELS}
            self.query_one("#model", Select).value = settings.model if settings.model in known else CUSTOM
            custom = self.query_one("#custom-model", Input)
            custom.display = settings.model not in known
            custom.value = "" if settings.model in known else settings.model
            self.query_one("#thoughts", Switch).value = settings.include_thoughts
            self.query_one("#search", Switch).value = settings.google_search
            self.query_one("#image-search", Switch).value = settings.image_search
            self.query_one("#image-only", Switch).value = settings.image_only
            self.query_one("#thinking", Select).value = settings.thinking_level.upper()
            self.query_one("#temperature", Input).value = "" if settings.temperature is None else str(
                settings.temperature)
            self.query_one("#seed", Input).value = "" if settings.seed is None else str(settings.seed)
            self.query_one("#system", TextArea).text = settings.system_instruction
            if self._vertex:
                self.query_one("#output-mime", Select).value = settings.output_mime_type
                self.query_one("#output-quality", Input).value = ("" if settings.output_quality is None
                                                                  else str(settings.output_quality))
                self.query_one("#person-generation", Select).value = settings.person_generation.upper()
        self._sync_model_dependent()
        self._changed()

    # -- internals ------------------------------------------------------------------------------

    def _sync_model_dependent(self) -> None:
        """Fit the settings to the current model (ratio, size, search, thinking level) and, once the
        controls exist, rebuild the ratio/size lists, switch states and notes."""
        s = self._settings
        spec = get_model(s.model)
        fallbacks: list[str] = []
        if s.aspect_ratio not in spec.aspect_ratios:
            fallbacks.append(f"{s.aspect_ratio} → 1:1 ({spec.label} has no {s.aspect_ratio})")
            s.aspect_ratio = "1:1" if "1:1" in spec.aspect_ratios else spec.aspect_ratios[0]
        if s.image_size not in spec.sizes:
            new = "1K" if "1K" in spec.sizes else spec.sizes[0]
            fallbacks.append(f"{s.image_size} → {new} ({spec.label} has no {s.image_size})")
            s.image_size = new
        if not spec.supports_search:
            s.google_search = False
        if not spec.image_search:
            s.image_search = False
        levels = thinking_levels_for(s.model)
        if s.thinking_level.upper() not in levels:
            s.thinking_level = ""
        if not self._fields_ready:
            self._pending_fallbacks = fallbacks  # shown when the controls arrive
            return
        notes = self._pending_fallbacks + fallbacks
        self._pending_fallbacks = []
        missing_r = [r for r in ALL_RATIOS if r not in spec.aspect_ratios]
        missing_s = [z for z in ALL_SIZES if z not in spec.sizes]
        if missing_r or missing_s:
            notes.append("Not on this model: " + ", ".join(missing_r + missing_s))
        note = spec.note if spec.note else ""
        if spec.known:
            note = (note + "\n" if note else "") + f"≤ {spec.max_references} reference images"
        with self.prevent(Select.Changed, Input.Changed, Switch.Changed, TextArea.Changed):
            aspect = self.query_one("#aspect", Select)
            size = self.query_one("#size", Select)
            aspect.set_options([(r, r) for r in spec.aspect_ratios])
            aspect.value = s.aspect_ratio
            size.set_options([(z, z) for z in spec.sizes])
            size.value = s.image_size
            self.query_one("#shape-note", Static).update("\n".join(notes))
            search = self.query_one("#search", Switch)
            if spec.supports_search:
                search.disabled = False
                search.tooltip = "Ground the image in Google Search results (billed per query)"
            else:
                search.value = False
                search.disabled = True
                search.tooltip = f"{spec.label} does not support Google Search grounding."
            image_search = self.query_one("#image-search", Switch)
            image_search.disabled = not spec.image_search
            image_search.value = s.image_search
            image_search.tooltip = ("With Google Search on, also search images for visual references"
                                    if spec.image_search else f"{spec.label} has no Google image search.")
            thinking = self.query_one("#thinking", Select)
            thinking.set_options([(lvl.title() if lvl else "Model default", lvl) for lvl in levels])
            thinking.value = s.thinking_level.upper()
            if spec.thinking_optional:
                thinking.disabled = False
                thinking.tooltip = "How hard the model thinks before drawing"
            else:
                thinking.value = ""
                thinking.disabled = True
                thinking.tooltip = f"{spec.label} always thinks; its thinking level cannot be set."
            self.query_one("#model-note", Static).update(note)

    def _refresh_notes(self) -> None:
        s = self._settings
        self.problems = validate_settings(s)
        spec = get_model(s.model)
        if self._n_refs > spec.max_references:
            self.problems.append(Problem(
            "references",
            too_many_references(self._n_refs, spec.label, spec.max_references)))
        lines = [("✗ " if p.fatal else "⚠ ") + p.message for p in self.problems]
        if self._request_warning:
            lines.append("⚠ " + self._request_warning)
        problems = self.query_one("#problems", Static)
        problems.update("\n".join(lines))
        problems.set_class(not lines, "-empty")
        w, h = pixel_size(s.aspect_ratio, s.image_size, flash25=spec.id.startswith("gemini-2.5-flash-image"))
        try:
            est = self._estimator(s, self._n_refs)
            cost = f"≈ ${est:.3f}"
        except Exception:  # an estimator must never break the sidebar
            cost = "≈ $?"
        size = f"\n{self._request_label}" if self._request_label else ""
        self.query_one("#estimate", Static).update(f"{w}×{h} · {cost}/image{size}")

    def _changed(self) -> None:
        self._refresh_notes()
        self.post_message(self.Changed(self, self.settings, list(self.problems)))

    @on(Select.Changed, "#model")
    def _model_changed(self, event: Select.Changed) -> None:
        event.stop()
        known = {m.id for m in MODELS}
        if event.value == (self._settings.model if self._settings.model in known else CUSTOM):
            return  # e.g. the Select reporting its initial value when mounted: nothing changed
        custom = self.query_one("#custom-model", Input)
        if event.value == CUSTOM:
            custom.display = True
            custom.focus()
            self._settings.model = custom.value.strip() or self._settings.model
        else:
            custom.display = False
            self._settings.model = str(event.value)
        self._sync_model_dependent()
        self._changed()

    @on(Input.Changed, "#custom-model")
    def _custom_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._settings.model = event.value.strip()
        self._sync_model_dependent()
        self._changed()

    @on(Select.Changed, "#aspect")
    @on(Select.Changed, "#size")
    @on(Select.Changed, "#thinking")
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is Select.BLANK:
            return
        field = {"aspect": "aspect_ratio", "size": "image_size", "thinking": "thinking_level"}[event.select.id or ""]
        if str(event.value).upper() == str(getattr(self._settings, field)).upper():
            return  # unchanged (a Select reports its initial value when mounted)
        setattr(self._settings, field, str(event.value))
        self._changed()

    @on(Switch.Changed)
    def _switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        if event.switch.id == "thoughts":
            self._settings.include_thoughts = event.value
        elif event.switch.id == "search":
            self._settings.google_search = event.value
        elif event.switch.id == "image-only":
            self._settings.image_only = event.value
        elif event.switch.id == "image-search":
            self._settings.image_search = event.value
        self._changed()

    @on(Input.Changed, "#temperature")
    def _temperature_changed(self, event: Input.Changed) -> None:
        event.stop()
        text = event.value.strip()
        try:
            self._settings.temperature = float(text) if text else None
        except ValueError:
            self._settings.temperature = -1.0  # reported by validate_settings
        self._changed()

    @on(Select.Changed, "#output-mime")
    @on(Select.Changed, "#person-generation")
    def _vertex_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is Select.BLANK:
            return
        field = "output_mime_type" if event.select.id == "output-mime" else "person_generation"
        if str(event.value) == str(getattr(self._settings, field)):
            return
        setattr(self._settings, field, str(event.value))
        self._changed()

    @on(Input.Changed, "#output-quality")
    def _quality_changed(self, event: Input.Changed) -> None:
        event.stop()
        text = event.value.strip()
        self._settings.output_quality = int(text) if text.isdigit() else None
        self._changed()

    @on(Input.Changed, "#seed")
    def _seed_changed(self, event: Input.Changed) -> None:
        event.stop()
        text = event.value.strip()
        try:
            self._settings.seed = int(text) if text else None
        except ValueError:
            self._settings.seed = -1
        self._changed()

    @on(TextArea.Changed, "#system")
    def _system_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._settings.system_instruction = event.text_area.text
        self._changed()

