"""The settings folded into one line above the prompt (while the settings sidebar is closed).

Shows what the next send uses — model, aspect ratio and size with the pixel size, the switches that
are on, the estimate — and where those settings came from ("settings of #8", "config defaults",
"changed").  A click (or F4) opens the sidebar.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.settings import GenerationSettings


def short_summary(s: GenerationSettings) -> str:
    """``Nano Banana Pro · 16:9 4K 5504×3072 · thoughts · search`` (what the next send asks for)."""
    spec = get_model(s.model)
    w, h = spec.pixel_size(s.aspect_ratio, s.image_size)
    bits = [spec.label if spec.known else s.model, f"{s.aspect_ratio} {s.image_size} {w}×{h}"]
    if s.include_thoughts:
        bits.append("thoughts")
    if s.thinking_level:
        bits.append(f"thinking {s.thinking_level.lower()}")
    if s.google_search:
        bits.append("search")
    if s.image_only:
        bits.append("image only")
    if s.temperature is not None:
        bits.append(f"temp {s.temperature:g}")
    if s.seed is not None:
        bits.append(f"seed {s.seed}")
    if s.system_instruction.strip():
        bits.append("system")
    if s.region:  # a fork of a region edit: the next send is a region edit too
        bits.append("▣ region")
    return " · ".join(bits)


class SettingsSummary(Widget):
    """One line: the settings of the next send, their source, the estimate."""

    DEFAULT_CSS = """
    SettingsSummary { height: 1; width: 1fr; padding: 0 1; color: $text-muted; }
    SettingsSummary:hover { background: $boost; }
    """

    @dataclass
    class Opened(Message):
        """The user clicked the summary: open the settings."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary = ""
        self.source = ""
        self.estimate = ""
        self.problem = ""

    def show(self, settings: GenerationSettings, *, source: str, estimate: str = "", problem: str = "") -> None:
        self.summary = short_summary(settings)
        self.source = source
        self.estimate = estimate
        self.problem = problem
        self.refresh()

    def render(self) -> Text:
        """The longest form that fits: full, then without the pixel size, then without the switches,
        then without the model name (the source, aspect, size and estimate always stay)."""
        width = self.content_size.width or 10_000
        line = self._line(level=0)
        for level in (1, 2, 3):
            if line.cell_len <= width:
                break
            line = self._line(level=level)
        return line

    def _line(self, *, level: int) -> Text:
        compact = level > 0
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("F4", style="bold")
        t.append(" Settings" if not compact else "", style="bold")
        if self.source:
            t.append(f" ({self.source})", style="dim")
        bits = self.summary.split(" · ")
        if compact and len(bits) > 1:  # drop the pixel size ("1:1 1K 1024×1024" → "1:1 1K")
            bits[1] = " ".join(bits[1].split(" ")[:2])
        if level >= 2:  # the switches (thoughts, search, seed …) are in the sidebar
            bits = bits[:2]
        if level >= 3:  # the model too: aspect and size are what a send silently changes
            bits = bits[1:]
        t.append(": " + " · ".join(bits), style="")
        if self.estimate:
            t.append(f" · {self.estimate if not compact else self.estimate.removesuffix('/image')}",
                     style="bold green")
        if self.problem:
            t.append(f"  {self.problem}", style="bold red")
        return t

    def on_resize(self, event: events.Resize) -> None:
        self.refresh()  # the form that fits depends on the width (the tree opening takes room)

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Opened())
