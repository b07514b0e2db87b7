"""The live thinking log: thought summaries streaming as Markdown, draft thumbnails as they arrive,
retry countdowns, the answer text, grounding sources and errors (in red, with the clear message).

The Markdown view of the thoughts is imported and mounted on first use (:meth:`ThinkingLog.prepare`,
called by :meth:`ThinkingLog.start`; the main screen calls it after its first paint), so Textual's
``Markdown`` and markdown-it are not imported while the first screen is built."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from banana_studio.domain.words import plural
from banana_studio.tui.images import ThumbStrip

if TYPE_CHECKING:
    from textual.widgets import Markdown

    from banana_studio.domain.turn import Turn


def update_line(widget: Static, content: Content | Text) -> None:
    """``widget.update(content)``, with a layout pass of the screen only when its height may change.

    ``Static.update`` lays out the whole screen every time; the live log's status line changes twice a
    second (the elapsed time) and with every event, and a line that fitted in one row and still does
    keeps its size, so a repaint of that widget is enough."""
    text = content.plain
    cells = content.cell_length if isinstance(content, Content) else content.cell_len
    width = widget.content_size.width
    before = getattr(widget, "_banana_line_cells", None)
    widget._banana_line_cells = cells if text and "\n" not in text else None  # type: ignore[attr-defined]
    same_height = (before is not None and widget._banana_line_cells is not None  # type: ignore[attr-defined]
                   and 0 < before <= width and 0 < cells <= width)
    widget.update(content, layout=not same_height)


class ThinkingLog(VerticalScroll):
    """Shows one generation as it happens."""

    # The draft strip does not scroll with the log: pinned to the bottom at a fixed height (and the
    # scrollbar gutter always reserved), streaming thoughts never move or resize the thumbnails.  A
    # moved sixel/kitty thumbnail has to be sent to the terminal again (benchmarks/bench_terminal_bytes.py).
    DEFAULT_CSS = """
    ThinkingLog {
        scrollbar-gutter: stable;
    }
    ThinkingLog > ThumbStrip {
        dock: bottom;
        height: 8;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._thought_text = ""
        self._answer = ""
        self._started = 0.0
        self._retry_until = 0.0
        self._retry_label = ""
        self._status_base = ""
        self._ticker: Timer | None = None
        self.run_status = "idle"
        self.n_drafts = 0
        self._thoughts: Markdown | None = None
        self.turn_id: int | None = None
        """The turn shown: the live one while generating, or a past one (see :meth:`show_stored`)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="log-head")
        # The thoughts' Markdown view (#log-thoughts) goes here: see prepare().
        strip = ThumbStrip(id="log-drafts")
        strip.display = False
        yield strip
        yield Static("", id="log-answer")
        yield Static("", id="log-sources")
        yield Static("", id="log-status")
        yield Static("", id="log-error")

    def on_mount(self) -> None:
        self.border_title = "Thinking"

    async def prepare(self) -> Markdown:
        """Mount the Markdown view of the thoughts (``#log-thoughts``) if it is not there yet."""
        if self._thoughts is None:
            from textual.widgets import Markdown

            self._thoughts = Markdown("", id="log-thoughts")
            await self.mount(self._thoughts, after="#log-head")
        return self._thoughts

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, title: str) -> None:
        """Reset for a new generation."""
        self._thought_text = ""
        self._answer = ""
        self.n_drafts = 0
        self._started = time.monotonic()
        self._retry_until = 0.0
        self.run_status = "running"
        self.turn_id = None
        self.query_one("#log-head", Static).update(Text(title, style="bold"))
        await (await self.prepare()).update("")
        strip = self.query_one("#log-drafts", ThumbStrip)
        await strip.clear()
        strip.display = False
        for name in ("#log-answer", "#log-sources", "#log-error"):
            self.query_one(name, Static).update("")
        self.query_one("#log-error", Static).display = False
        self._set_status("Sending…")
        if self._ticker is None:
            self._ticker = self.set_interval(0.5, self._tick)
        else:
            self._ticker.resume()

    async def show_stored(self, turn: Turn, drafts: list[Path]) -> None:
        """Show a past turn's log from what was stored: its thought summaries, drafts (files),
        answer, sources and error."""
        from banana_studio.tui.widgets.turn_detail import grounding_lines

        if self._ticker is not None:
            self._ticker.pause()
        self.turn_id = turn.id
        self.run_status = turn.status
        self._started = 0.0
        self._retry_until = 0.0
        content = turn.model_content
        self._thought_text = content.thought_text() if content else ""
        self._answer = content.answer_text() if content else ""
        self.n_drafts = len(drafts)
        parent = f" ← #{turn.parent_id}" if turn.parent_id is not None else ""
        self.query_one("#log-head", Static).update(Text(f"Turn #{turn.id}{parent} · {turn.prompt[:80]}", style="bold"))
        await (await self.prepare()).update(self._thought_text)
        strip = self.query_one("#log-drafts", ThumbStrip)
        await strip.clear()
        strip.display = bool(drafts)
        for i, path in enumerate(drafts):
            await strip.add_path(path, caption=f"draft {i + 1}")
        self.query_one("#log-answer", Static).update(Text(self._answer.strip(), style="italic"))
        sources = Text()
        for i, (title, uri) in enumerate(grounding_lines(turn.grounding or {}), 1):
            sources.append(f"[{i}] ", style="bold")
            sources.append((title or uri) + "\n")
        self.query_one("#log-sources", Static).update(sources)
        err = self.query_one("#log-error", Static)
        err.update(Text("✗ " + turn.error) if turn.error else "")
        err.display = bool(turn.error)
        if self._thought_text.strip():
            note = f"Stored log of #{turn.id}: thought summaries" + (f" and {plural(len(drafts), 'draft')}"
                                                                    if drafts else "")
        else:
            note = (f"No thoughts were stored for #{turn.id} (thoughts were off, or the model sent none)"
                    + (f"; {plural(len(drafts), 'draft')}" if drafts else "") + ".")
        self._status_base = note
        self.query_one("#log-status", Static).update(note)
        self.scroll_home(animate=False)

    def set_title(self, title: str) -> None:
        update_line(self.query_one("#log-head", Static), Text(title, style="bold"))

    async def thought(self, text: str) -> None:
        if not text:
            return
        if self._thought_text and text.startswith("**") and not self._thought_text.endswith("\n"):
            text = "\n\n" + text
        self._thought_text += text
        self._retry_until = 0.0
        self._set_status("Thinking…")
        await (await self.prepare()).append(text)
        self.scroll_end(animate=False)

    async def draft(self, data: bytes, index: int) -> None:
        self.n_drafts += 1
        strip = self.query_one("#log-drafts", ThumbStrip)
        strip.display = True
        await strip.add_bytes(data, caption=f"draft {index + 1}")
        self._set_status(f"Draft {index + 1} received…")
        self.scroll_end(animate=False)

    def answer(self, text: str) -> None:
        self._answer += text
        self.query_one("#log-answer", Static).update(Text(self._answer.strip(), style="italic"))

    def final_image(self, index: int) -> None:
        self._set_status(f"Final image {index + 1} received — saving…")

    def sources(self, queries: list[str], sources: list[Any]) -> None:
        out = Text()
        queries = [q for q in queries if q.strip()]  # real answers list an empty query too
        if queries:
            out.append("Searched: ", style="bold")
            out.append("; ".join(queries) + "\n")
        for i, src in enumerate(sources, 1):
            title = getattr(src, "title", "") or (src.get("title", "") if isinstance(src, dict) else "")
            uri = getattr(src, "uri", "") or (src.get("uri", "") if isinstance(src, dict) else "")
            out.append(f"[{i}] ", style="bold")
            out.append(title or uri)
            if uri and title:
                out.append(f"  {uri}", style="dim underline")
            out.append("\n")
        self.query_one("#log-sources", Static).update(out)

    def retrying(self, attempt: int, max_attempts: int, delay: float, reason: str) -> None:
        self._retry_until = time.monotonic() + delay
        self._retry_label = f"⟳ {reason} — retry {attempt}/{max_attempts}"
        self._tick()

    def error(self, message: str) -> None:
        err = self.query_one("#log-error", Static)
        err.update(Text("✗ " + message))
        err.display = True
        self.scroll_end(animate=False)

    def finish(self, status: str, note: str = "") -> None:
        self.run_status = status
        self._retry_until = 0.0
        elapsed = time.monotonic() - self._started if self._started else 0.0
        labels = {"done": "✓ Done", "failed": "✗ Failed", "cancelled": "⊘ Cancelled",
                  "interrupted": "⚠ Interrupted"}
        self._set_status(f"{labels.get(status, status)} in {elapsed:.1f}s" + (f" · {note}" if note else ""))
        if self._ticker is not None:
            self._ticker.pause()

    @property
    def thought_text(self) -> str:
        return self._thought_text

    # -- internals -------------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.run_status != "running":
            return
        now = time.monotonic()
        if self._retry_until > now:
            line = self.query_one("#log-status", Static)
            update_line(line, Content(f"{self._retry_label} in {self._retry_until - now:.0f}s"))
        elif self._retry_until:
            self._retry_until = 0.0
            self._set_status("Retrying now…")
        else:
            self._set_status(self._status_base)

    def _set_status(self, text: str) -> None:
        self._status_base = text
        line = self.query_one("#log-status", Static)
        if self.run_status == "running" and self._started:
            text = f"{text}  ({time.monotonic() - self._started:.0f}s)"
        update_line(line, Content(text))  # text, not markup
