"""Two turns side by side: their images, and what differs (prompt words, settings, references, cost)."""

from __future__ import annotations

import asyncio
import difflib
import time
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from banana_studio.domain.turn import Turn
from banana_studio.tui import actions
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.widgets.footer import StudioFooter

if TYPE_CHECKING:
    from banana_studio.services import Studio

SETTING_LABELS: tuple[tuple[str, str], ...] = (
    ("model", "Model"),
    ("aspect_ratio", "Aspect ratio"),
    ("image_size", "Size"),
    ("include_thoughts", "Thoughts shown"),
    ("thinking_level", "Thinking level"),
    ("google_search", "Search grounding"),
    ("temperature", "Temperature"),
    ("seed", "Seed"),
    ("image_only", "Image only"),
    ("system_instruction", "System instruction"),
)


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def word_diff(a: str, b: str) -> tuple[Text, Text]:
    """Word-level diff: words only in ``a`` struck through in red, words only in ``b`` in green."""
    wa, wb = a.split(), b.split()
    left, right = Text(), Text()
    matcher = difflib.SequenceMatcher(a=wa, b=wb, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(" ".join(wa[i1:i2]) + " ")
            right.append(" ".join(wb[j1:j2]) + " ")
            continue
        if i2 > i1:
            left.append(" ".join(wa[i1:i2]), style="bold red strike")
            left.append(" ")
        if j2 > j1:
            right.append(" ".join(wb[j1:j2]), style="bold green")
            right.append(" ")
    left.rstrip()
    right.rstrip()
    return left, right


def diff_rows(a: Turn, b: Turn) -> list[tuple[str, Text | str, Text | str, bool]]:
    """(field, value a, value b, differs) rows for the comparison table."""
    rows: list[tuple[str, Text | str, Text | str, bool]] = []
    pa, pb = word_diff(a.prompt, b.prompt)
    rows.append(("Prompt", pa, pb, a.prompt.split() != b.prompt.split()))
    sa, sb = a.settings.to_json(), b.settings.to_json()
    for key, label in SETTING_LABELS:
        va, vb = sa.get(key), sb.get(key)
        rows.append((label, _fmt(va), _fmt(vb), va != vb))
    from banana_studio.domain.region import region_of

    ra, rb = region_of(a.settings), region_of(b.settings)
    rows.append(("Region", ra.describe() or "—", rb.describe() or "—", ra != rb))
    refs_a = {r.sha256: r.name for r in a.references}
    refs_b = {r.sha256: r.name for r in b.references}
    ta, tb = Text(), Text()
    for sha, name in refs_a.items():
        ta.append(f"{name} ", style="" if sha in refs_b else "bold red strike")
    for sha, name in refs_b.items():
        tb.append(f"{name} ", style="" if sha in refs_a else "bold green")
    rows.append((f"References ({len(refs_a)} / {len(refs_b)})", ta if refs_a else "—", tb if refs_b else "—",
                 set(refs_a) != set(refs_b)))
    rows.append(("Status", a.status, b.status, a.status != b.status))
    cost_a, cost_b = f"${a.cost:.4f}", f"${b.cost:.4f}"
    rows.append(("Cost", cost_a, cost_b, cost_a != cost_b))
    ua, ub = a.usage or {}, b.usage or {}
    tok_a = ua.get("total_tokens", 0)
    tok_b = ub.get("total_tokens", 0)
    rows.append(("Tokens", _fmt(tok_a or None), _fmt(tok_b or None), tok_a != tok_b))
    rows.append(("Parent", _fmt(a.parent_id), _fmt(b.parent_id), a.parent_id != b.parent_id))
    rows.append(("Kind", a.kind, b.kind, a.kind != b.kind))
    rows.append(("Created", _when(a.created_at), _when(b.created_at), False))
    return rows


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "—"


class CompareScreen(Screen[None]):
    """``CompareScreen(studio, a, b)`` with two turn ids."""

    BINDINGS = actions.bindings("compare")

    def __init__(self, studio: Studio, a: int, b: int, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.studio = studio
        self.store = studio.store
        self.ids = (a, b)
        self.turns: tuple[Turn, Turn] | None = None
        self.show_equal = False
        """Rows that are the same on both sides are hidden until ``d`` is pressed."""
        self.rows: list[tuple[str, Text | str, Text | str, bool]] = []
        """The comparison rows last shown (field, a, b, differs)."""
        self.error = ""
        self.change_caption = ""
        """The change map shown on the right (B vs A), "" = the pictures are shown."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="compare-images"):
            for side in ("a", "b"):
                with Vertical(classes="compare-side", id=f"compare-{side}"):
                    yield Static("", classes="compare-title", id=f"compare-title-{side}", markup=False)
                    yield ImagePreview("No image", id=f"compare-image-{side}")
        with VerticalScroll(id="compare-diff"):
            yield Static("Loading…", id="compare-table")
        yield StudioFooter()  # at 80 columns the least important keys give way

    async def on_mount(self) -> None:
        await self.load()

    async def load(self) -> None:
        a, b = self.ids
        try:
            ta, tb = await asyncio.to_thread(lambda: (self.store.get_turn(a), self.store.get_turn(b)))
        except Exception as exc:
            self.error = f"Cannot compare #{a} and #{b}: {exc}"
            self.query_one("#compare-table", Static).update(Text(self.error, style="bold red"))
            return
        self.turns = (ta, tb)
        self._render_table()
        for side, turn in (("a", ta), ("b", tb)):
            glyph = {"done": "●", "failed": "✗", "cancelled": "⊘", "interrupted": "⚠"}.get(turn.status, "◌")
            star = "★" if turn.starred else ""
            self.query_one(f"#compare-title-{side}", Static).update(
                f"{glyph}{star} #{turn.id}  {turn.settings.aspect_ratio} · {turn.settings.image_size}"
                f" · ${turn.cost:.3f}"
            )
            preview = self.query_one(f"#compare-image-{side}", ImagePreview)
            finals = turn.final_images
            if finals:
                self.run_worker(preview.show_path(self.store.abs_path(finals[0].path)), group=f"compare-{side}")
            else:
                preview.set_placeholder(f"No image ({turn.status}{': ' + turn.error if turn.error else ''})")

    def _render_table(self) -> None:
        if self.turns is None:
            return
        ta, tb = self.turns
        table = Table(expand=True, show_lines=False, header_style="bold", pad_edge=False)
        table.add_column("", style="bold", no_wrap=True, width=22)
        table.add_column(f"#{ta.id}", ratio=3)
        table.add_column(f"#{tb.id}", ratio=3)
        rows = diff_rows(ta, tb)
        self.rows = rows
        n_diff = 0
        for label, va, vb, differs in rows:
            n_diff += differs
            if not differs and not self.show_equal:
                continue
            table.add_row(Text(("≠ " if differs else "  ") + label, style="yellow" if differs else ""), va, vb,
                          style="" if differs else "dim")
        hidden = "" if self.show_equal else f" ({len(rows) - n_diff} equal rows hidden)"
        table.caption = (f"{n_diff} difference{'s' if n_diff != 1 else ''}{hidden}  ·  e: show/hide equal rows"
                         "  ·  x: swap sides  ·  d: change map")
        self.query_one("#compare-table", Static).update(table)

    def action_swap(self) -> None:
        if self.turns is None:
            return
        self.ids = (self.ids[1], self.ids[0])
        self.change_caption = ""
        self.run_worker(self.load(), group="compare-load", exclusive=True)

    def action_toggle_same(self) -> None:
        self.show_equal = not self.show_equal
        self._render_table()

    async def action_change_map(self) -> None:
        """Right side: where B differs from A (heat map), with the changed share inside/outside B's region."""
        if self.turns is None:
            return
        ta, tb = self.turns
        if self.change_caption:
            self.change_caption = ""
            await self.load()
            return
        from banana_studio.domain.safetext import display_text
        from banana_studio.tui.region_flow import change_map_png

        try:
            png, caption = await change_map_png(self.app, tb.id, ta.id)
        except Exception as exc:
            self.notify(display_text(str(exc)), title="No change map", severity="warning")
            return
        self.change_caption = caption
        self.query_one("#compare-title-b", Static).update(display_text(caption, one_line=True))
        await self.query_one("#compare-image-b", ImagePreview).show_bytes(png, name="change map")

    def action_close(self) -> None:
        self.dismiss(None)
