"""What this run of the app spent, across project switches (the status line's "Session")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class SessionTotals:
    cost: float = 0.0
    """USD of real money spent by this app run (all projects)."""
    demo_cost: float = 0.0
    """Simulated costs of demo turns: kept apart, never counted as money."""
    tokens: int = 0

    def count(self, turns: Iterable[Any]) -> None:
        """Add finished turns: real money, demo costs apart (simulated)."""
        for t in turns:
            if t.is_demo:
                self.demo_cost += float(t.cost or 0.0)
            else:
                self.cost += float(t.cost or 0.0)
