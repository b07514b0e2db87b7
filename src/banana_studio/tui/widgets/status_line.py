"""One line of money and state: turn / branch / session / project cost and tokens, generation state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusLine(Widget):
    """Bottom status line (above the footer)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; width: 1fr; padding: 0 1; background: $panel; color: $text-muted; }
    """

    turn_cost: reactive[float | None] = reactive(None)
    turn_tokens: reactive[int] = reactive(0)
    branch_cost: reactive[float] = reactive(0.0)
    branch_turns: reactive[int] = reactive(0)
    project_cost: reactive[float] = reactive(0.0)
    today_cost: reactive[float] = reactive(0.0)
    """Real money today across all projects (the budget's "today")."""
    demo_cost: reactive[float] = reactive(0.0)
    """Simulated costs of the project's demo turns: shown apart, never counted as money."""
    turn_simulated: reactive[bool] = reactive(False)
    session_cost: reactive[float] = reactive(0.0)
    session_tokens: reactive[int] = reactive(0)
    state: reactive[str] = reactive("")
    """Free text for the generation state ('Generating…', 'retry 2/5 in 3s', ...)."""
    budget_note: reactive[str] = reactive("")

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

        if self.turn_cost is not None:
            sim = " sim" if self.turn_simulated else ""
            item("Turn", self.turn_cost,
                 sim + (f" {self.turn_tokens:,} tok" if self.turn_tokens and level == 0 else ""))
        turns = ""
        if self.branch_turns:
            turns = (f" ({self.branch_turns} turn{'s' if self.branch_turns != 1 else ''})" if level < 2
                     else f" ({self.branch_turns})")
        item("Branch", self.branch_cost, turns)
        session_tokens = f" {self.session_tokens:,} tok" if self.session_tokens and level == 0 else ""
        item("Session", self.session_cost, session_tokens)
        item("Project", self.project_cost)
        item("Today", self.today_cost, last=True)
        if self.demo_cost:
            demo = f"demo: ${self.demo_cost:.2f} simulated" if level < 2 else f"demo ${self.demo_cost:.2f} sim"
            t.append("  " + demo, style="dim italic")
        if self.budget_note:
            t.append("  " + self.budget_note, style="bold red")
        return t
