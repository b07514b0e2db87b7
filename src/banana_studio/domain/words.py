"""Small wording helpers shared by the studio and the CLI (one spelling for one thing)."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 turn``, ``2 turns``, ``0 turns`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"
