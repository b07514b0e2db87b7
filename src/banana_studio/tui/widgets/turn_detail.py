"""Everything about the selected turn: prompt, settings, references, images, thoughts, sources, usage, cost.

The thoughts are Markdown.  Textual's ``Markdown`` widget (and markdown-it behind it) is imported and
mounted the first time a turn with thoughts is shown, not at start-up: it is the largest import of
the first screen otherwise, and an empty project never needs it.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.words import plural
from banana_studio.tui.images import Thumbnail, ThumbStrip

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from banana_studio.domain.turn import Turn

STATUS_GLYPH = {"done": "●", "pending": "◌", "running": "◌", "failed": "✗", "cancelled": "⊘",
                "interrupted": "⚠"}


def format_timestamp(ts: float) -> str:
    """Local date and time of a turn (tests replace this for deterministic snapshots)."""
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def settings_summary(s: GenerationSettings) -> str:
    spec = get_model(s.model)
    w, h = spec.pixel_size(s.aspect_ratio, s.image_size)
    bits = [spec.label if spec.known else s.model, f"{s.aspect_ratio} {s.image_size} ({w}×{h})"]
    bits.append("thoughts" if s.include_thoughts else "no thoughts")
    if s.thinking_level:
        bits.append(f"thinking {s.thinking_level.lower()}")
    if s.google_search:
        bits.append("Google Search")
    if s.temperature is not None:
        bits.append(f"temp {s.temperature:g}")
    if s.seed is not None:
        bits.append(f"seed {s.seed}")
    if s.image_only:
        bits.append("image only")
    return " · ".join(bits)


def region_detail(turn: Turn) -> str:
    """The turn's region edit and which picture is shown ("" = no region edit)."""
    from banana_studio.domain.region import region_of
    from banana_studio.services.region import image_variants as variants

    spec = region_of(turn.settings)
    if not spec.active:
        return ""
    line = spec.describe()
    protected, model, shown = variants(turn)
    if protected is not None and model is not None:
        line += (" · shown: protected (o in the viewer: model output)" if shown
                 else " · shown: the model's untouched output (o in the viewer: protected)")
    elif spec.protect and turn.status == "done":
        line += " · not protected (the composite could not be made)"
    return line + " · d in the viewer: change map"


def usage_summary(usage: dict[str, Any]) -> str:
    if not usage:
        return ""
    def n(key: str) -> int:
        try:
            return int(usage.get(key) or 0)
        except (TypeError, ValueError):
            return 0
    parts = [f"in {n('prompt_tokens'):,}"]
    if n("prompt_image_tokens"):
        parts[-1] += f" (images {n('prompt_image_tokens'):,})"
    parts.append(f"thoughts {n('thoughts_tokens'):,}")
    out = f"out {n('candidates_tokens'):,}"
    if n("image_tokens"):
        out += f" (image {n('image_tokens'):,})"
    parts.append(out)
    parts.append(f"total {n('total_tokens'):,} tokens")
    return " · ".join(parts)


def grounding_lines(grounding: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, uri) pairs from a stored grounding dict (tolerant of key spellings)."""
    out: list[tuple[str, str]] = []
    for src in grounding.get("sources") or grounding.get("groundingChunks") or []:
        if isinstance(src, dict):
            web = src.get("web") if isinstance(src.get("web"), dict) else src
            out.append((str(web.get("title", "")), str(web.get("uri", ""))))
    return out


TARGET_TEXT = {"local": "the local demo server (synthetic image)", "gemini-api": "Gemini API",
               "vertex": "Vertex AI", "unknown": "unknown (recorded before targets were)"}


class TurnDetail(VerticalScroll):
    """Read-only detail of one turn."""

    _thoughts: Markdown | None = None

    async def _thoughts_widget(self) -> Markdown:
        """The Markdown view of the thoughts (``#detail-thoughts``), mounted on first use."""
        if self._thoughts is None:
            from textual.widgets import Markdown

            self._thoughts = Markdown("", id="detail-thoughts")
            await self.mount(self._thoughts, after="#detail-answer")
        return self._thoughts

    def compose(self) -> ComposeResult:
        yield Static("", id="detail-head")
        yield Static("", id="detail-prompt")
        yield Static("", id="detail-meta")
        strip = ThumbStrip(id="detail-images")
        strip.display = False
        yield strip
        yield Static("", id="detail-error")
        yield Static("", id="detail-answer")
        # The thoughts' Markdown widget goes here (after #detail-answer) once it is needed.
        yield Static("", id="detail-sources")

    def on_mount(self) -> None:
        self.border_title = "Turn"
        # Until the project is read: no first-run text for a project that has turns (the screen calls
        # show_empty once it knows there are none, or shows the selected turn).
        self.show_empty(head="Opening the project…", text=" ")

    def show_empty(self, text: str = "", *, head: str = "No turn selected") -> None:
        self.turn_id: int | None = None
        self.query_one("#detail-head", Static).update(Text(head, style="bold" if text != " " else "dim"))
        self.query_one("#detail-prompt", Static).update(
            text or "Write a prompt below and press Ctrl+Enter (or Ctrl+J). Each send becomes a turn in this project's "
                    "tree; select any earlier turn in the tree (Ctrl+B shows it) to continue or fork from it.")
        for name in ("#detail-meta", "#detail-error", "#detail-answer", "#detail-sources"):
            self.query_one(name, Static).update("")
        self.query_one("#detail-error", Static).display = False
        if self._thoughts is not None:
            self._thoughts.display = False
        self.query_one("#detail-images", ThumbStrip).display = False
        self._strip_key: tuple[Any, ...] = ()

    async def show_turn(self, turn: Turn, costs: dict[str, float] | None = None,
                        images: list[tuple[Path, str]] | None = None) -> None:
        """Show a :class:`banana_studio.domain.turn.Turn`; ``images`` = (absolute path, caption) of its
        finals and drafts, shown as thumbnails when there is more than one."""
        self.turn_id = turn.id
        head = Text()
        head.append(f"{STATUS_GLYPH.get(turn.status, '?')} Turn #{turn.id}", style="bold")
        if getattr(turn, "is_demo", False):
            head.append("  ")
            head.append(" DEMO ", style="bold black on yellow")
        head.append(f"  {turn.status}", style="dim")
        if turn.kind and turn.kind != "generate":
            head.append(f" · {turn.kind}", style="dim")
        if turn.starred:
            head.append("  ★", style="bold yellow")
        if turn.label:
            head.append(f"  [{turn.label}]", style="bold cyan")
        if turn.parent_id is not None:
            head.append(f"  ← #{turn.parent_id}", style="dim")
        if turn.created_at:  # on a line of its own: a narrow panel never splits the date from the time
            head.append("\n" + format_timestamp(turn.created_at), style="dim")
        self.query_one("#detail-head", Static).update(head)
        self.query_one("#detail-prompt", Static).update(Text(turn.prompt or "(empty prompt)"))

        meta = Text()
        meta.append("Settings  ", style="bold")
        meta.append(settings_summary(turn.settings) + "\n")
        if turn.settings.system_instruction:
            meta.append("System    ", style="bold")
            meta.append(turn.settings.system_instruction.strip().replace("\n", " ")[:300] + "\n")
        tags = getattr(turn, "tags", None) or []
        if tags:
            from banana_studio.domain.safetext import display_text

            meta.append("Tags      ", style="bold")
            meta.append("  ".join("#" + display_text(t, one_line=True) for t in tags) + "\n", style="cyan")
        region_line = region_detail(turn)
        if region_line:
            meta.append("Region    ", style="bold")
            meta.append(region_line + "\n")
        if turn.references:
            meta.append("Refs      ", style="bold")
            meta.append(", ".join(f"{i}. {r.named + ' ' if r.named else ''}{r.name}"
                                  for i, r in enumerate(turn.references, 1)) + "\n")
        finals = turn.final_images
        if finals:
            meta.append("Images    ", style="bold")
            meta.append(", ".join(f"{img.path} ({img.width}×{img.height})" if img.width else img.path
                                  for img in finals))
            if turn.draft_images:
                meta.append(f" + {plural(len(turn.draft_images), 'draft')}", style="dim")
            meta.append("\n")
        usage = usage_summary(turn.usage)
        if usage:
            meta.append("Usage     ", style="bold")
            meta.append(usage + "\n")
        meta.append("Cost      ", style="bold")
        demo = bool(getattr(turn, "is_demo", False))
        meta.append(f"demo: ${turn.cost:.4f} simulated (not billed)" if demo else f"${turn.cost:.4f}")
        if costs:
            meta.append(f"  · branch ${costs.get('branch', 0.0):.3f} · project ${costs.get('project', 0.0):.3f}",
                        style="dim")
            if costs.get("demo_branch"):
                meta.append(f" · demo: ${costs['demo_branch']:.3f} simulated", style="dim")
        target = str(getattr(turn, "target", "") or "unknown")
        meta.append("\nMade with ", style="bold")
        meta.append(TARGET_TEXT.get(target, target))
        if turn.model_version:
            meta.append(f" · {turn.model_version}", style="dim")
        if getattr(turn, "source", ""):  # made by an agent (banana-studio mcp), not by a person
            from banana_studio.domain.safetext import display_text

            meta.append("\nAsked by  ", style="bold")
            meta.append(f"an agent over {display_text(turn.source, one_line=True).upper()}")
            if turn.source_client:
                meta.append(f" · {display_text(turn.source_client, one_line=True)[:80]}", style="dim")
        self.query_one("#detail-meta", Static).update(meta)

        err = self.query_one("#detail-error", Static)
        if turn.status in ("failed", "interrupted", "cancelled") or turn.error:
            msg = turn.error or {"interrupted": "The studio stopped before this turn finished.",
                                 "cancelled": "Cancelled."}.get(turn.status, "Failed.")
            hint = " Press R to retry." if turn.status in ("failed", "interrupted", "cancelled") else ""
            err.update(Text("✗ " + msg + hint))
            err.display = True
        else:
            err.display = False

        answer = turn.model_content.answer_text() if turn.model_content else ""
        self.query_one("#detail-answer", Static).update(Text(answer.strip(), style="italic") if answer else "")
        thoughts = turn.model_content.thought_text() if turn.model_content else ""
        if thoughts.strip():
            md = await self._thoughts_widget()
            md.display = True
            await md.update("### Thoughts\n\n" + thoughts)
        elif self._thoughts is not None:
            self._thoughts.display = False
            await self._thoughts.update("")

        sources = grounding_lines(turn.grounding or {})
        src_text = Text()
        if sources:
            src_text.append("Sources\n", style="bold")
            for i, (title, uri) in enumerate(sources, 1):
                src_text.append(f"[{i}] {title or uri}")
                if title and uri:
                    src_text.append(f"  {uri}", style="dim")
                src_text.append("\n")
        queries = [q for q in (turn.grounding or {}).get("queries") or [] if str(q).strip()]
        if queries:
            src_text.append("Searched: " + "; ".join(map(str, queries)), style="dim")
        self.query_one("#detail-sources", Static).update(src_text)
        await self._show_images(images or [])
        self.scroll_home(animate=False)

    async def _show_images(self, images: list[tuple[Path, str]]) -> None:
        strip = self.query_one("#detail-images", ThumbStrip)
        key = tuple(images)
        if key == getattr(self, "_strip_key", ()):
            return
        self._strip_key = key
        await strip.clear()
        strip.display = len(images) > 1
        if len(images) > 1:
            # One mount for all of them (one style and layout pass, not one per thumbnail).
            await strip.mount_all([Thumbnail(path, caption=caption) for path, caption in images])
            for thumb in strip.thumbnails:
                self.run_worker(thumb.load(), group="detail-thumbs")

