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
        t = Text(no_wrap=True, overflow="ellipsis")
        if self.state:
            t.append(self.state + "  ", style="bold")
        if self.turn_cost is not None:
            t.append("Turn ", style="dim")
            t.append(f"${self.turn_cost:.3f}" + (" sim" if self.turn_simulated else ""))
            if self.turn_tokens:
                t.append(f" {self.turn_tokens:,} tok", style="dim")
            t.append("  │  ", style="dim")
        t.append("Branch ", style="dim")
        t.append(f"${self.branch_cost:.3f}")
        if self.branch_turns:
            t.append(f" ({self.branch_turns} turns)", style="dim")
        t.append("  │  ", style="dim")
        t.append("Session ", style="dim")
        t.append(f"${self.session_cost:.3f}")
        if self.session_tokens:
            t.append(f" {self.session_tokens:,} tok", style="dim")
        t.append("  │  ", style="dim")
        t.append("Project ", style="dim")
        t.append(f"${self.project_cost:.3f}")
        t.append("  │  ", style="dim")
        t.append("Today ", style="dim")
        t.append(f"${self.today_cost:.3f}")
        if self.demo_cost:
            t.append(f"  demo: ${self.demo_cost:.2f} simulated", style="dim italic")
        if self.budget_note:
            t.append("  " + self.budget_note, style="bold red")
        return t
