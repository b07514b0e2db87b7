"""App-level messages: workers post these, screen handlers own every state change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from banana_studio.domain.events import StudioEvent
    from banana_studio.services import Studio


@dataclass
class GenerationEvent(Message):
    """One event from ``studio.generate`` (TurnStarted, ThoughtText, ..., TurnSaved)."""

    gen_id: int
    """Which generation (a counter local to the screen) the event belongs to."""
    event: StudioEvent
    """A :data:`banana_studio.domain.events.StudioEvent`."""


@dataclass
class GenerationEnded(Message):
    """The generation worker stopped (normally, cancelled or crashed)."""

    gen_id: int
    outcome: str
    """'done', 'failed', 'cancelled' or 'error' (an unexpected exception)."""
    message: str = ""


@dataclass
class BatchImported(Message, bubble=False):
    """A batch job's results were imported as turns of ``studio``'s project (posted to the app by its
    batch watcher; the main screen of that project reloads its tree)."""

    studio: Studio
