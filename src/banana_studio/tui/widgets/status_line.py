"""One line of money and state: turn / branch / session / project cost and tokens, generation state."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


@dataclass(frozen=True, slots=True)
class Money:
    """What the status line shows about money and tokens (one value, replaced as a whole)."""

    turn_cost: float | None = None
    """The selected turn's cost; None while it is not priced (generating) or when none is selected."""
    turn_tokens: int = 0
    branch_cost: float = 0.0
    branch_turns: int = 0
    project_cost: float = 0.0
    today_cost: float = 0.0
    """Real money today across all projects (the budget's "today")."""
    demo_cost: float = 0.0
    """Simulated costs of the project's demo turns: shown apart, never counted as money."""
    turn_simulated: bool = False
    session_cost: float = 0.0
    session_tokens: int = 0
    budget_note: str = ""


class StatusLine(Widget):
    """Bottom status line (above the footer)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; width: 1fr; padding: 0 1; background: $panel; color: $text-muted; }
    """

    money: reactive[Money] = reactive(lambda: Money())
    """The costs shown (bound to the main screen's ``money``)."""
    state: reactive[str] = reactive("")
    """Free text for the generation state ('Generating…', 'retry 2/5 in 3s', ...)."""

    def render(self) -> Text:
        """The longest form that fits: full labels and tokens; without tokens; short labels."""
        width = self.content_size.width or 10_000
        for level in range(3):
            text = self._line(level)
            if text.cell_len <= width:
                return text
        return text

    def _line(self, level: int) -> Text:
        """``level`` 0: everything; 1: no token counts; 2: short labels (80 columns)."""
        sep = "  │  " if level == 0 else " │ "
        names = {"Turn": "Turn", "Branch": "Branch", "Session": "Session", "Project": "Project",
                 "Today": "Today"} if level < 2 else {"Turn": "Turn", "Branch": "Br", "Session": "Sess",
                                                      "Project": "Proj", "Today": "Today"}
        m = self.money
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.state:
            t.append(self.state + ("  " if level < 2 else " "), style="bold")

        def item(name: str, cost: float, extra: str = "", last: bool = False) -> None:
            t.append(names[name] + " ", style="dim")
            t.append(f"${cost:.3f}")
            if extra:
                t.append(extra, style="dim")
            if not last:
                t.append(sep, style="dim")

        if m.turn_cost is not None:
            sim = " sim" if m.turn_simulated else ""
            item("Turn", m.turn_cost,
                 sim + (f" {m.turn_tokens:,} tok" if m.turn_tokens and level == 0 else ""))
        turns = ""
        if m.branch_turns:
            turns = (f" ({m.branch_turns} turn{'s' if m.branch_turns != 1 else ''})" if level < 2
                     else f" ({m.branch_turns})")
        item("Branch", m.branch_cost, turns)
        session_tokens = f" {m.session_tokens:,} tok" if m.session_tokens and level == 0 else ""
        item("Session", m.session_cost, session_tokens)
        item("Project", m.project_cost)
        item("Today", m.today_cost, last=True)
        if m.demo_cost:
            demo = f"demo: ${m.demo_cost:.2f} simulated" if level < 2 else f"demo ${m.demo_cost:.2f} sim"
            t.append("  " + demo, style="dim italic")
        if m.budget_note:
            t.append("  " + m.budget_note, style="bold red")
        return t
