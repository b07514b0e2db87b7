"""Typed events streamed by the engine (and re-emitted by the studio service)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.content import Content


@dataclass(slots=True)
class ThoughtText:
    text: str


@dataclass(slots=True)
class DraftImage:
    data: bytes
    mime_type: str
    index: int
    """0-based draft number within the turn."""


@dataclass(slots=True)
class AnswerText:
    text: str


@dataclass(slots=True)
class FinalImage:
    data: bytes
    mime_type: str
    index: int


@dataclass(slots=True)
class GroundingSource:
    title: str
    uri: str


@dataclass(slots=True)
class Grounding:
    queries: list[str]
    sources: list[GroundingSource]
    rendered_content: str = ""


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    candidates_tokens: int = 0
    thoughts_tokens: int = 0
    total_tokens: int = 0
    image_tokens: int = 0
    """Output image tokens (candidatesTokensDetails with modality IMAGE)."""
    prompt_image_tokens: int = 0
    tool_use_prompt_tokens: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Retrying:
    attempt: int
    """The attempt about to be made (2 = first retry)."""
    max_attempts: int
    delay: float
    reason: str


@dataclass(slots=True)
class RejectedImage:
    """An image part the server sent that is not a usable image (SVG, HTML, truncated, too big, ...).
    It is left out of the turn's content; the studio keeps the bytes for diagnosis outside images/."""

    data: bytes
    declared_mime: str
    reason: str
    thought: bool
    """A draft (thought) image rather than a final one."""
    index: int
    """0-based position among the drafts / finals the server sent."""


@dataclass(slots=True)
class Finished:
    """The turn completed.  ``content`` is the whole model turn assembled into ONE Content,
    every part as received (thoughts, drafts, signatures) — exactly what to store and replay."""

    content: Content
    finish_reason: str
    finish_message: str = ""
    model_version: str = ""
    response_id: str = ""
    ok: bool = True
    """False when the model finished without an image (safety, NO_IMAGE, ...); see ``error``."""
    error: EngineError | None = None
    warnings: list[str] = field(default_factory=list)
    """Non-fatal oddities worth showing (empty thought signature, image sent as base64 text, ...)."""
    rejected: list[RejectedImage] = field(default_factory=list)


@dataclass(slots=True)
class Failed:
    error: EngineError
    partial: Content | None = None
    """Parts received before the failure, if any."""
    rejected: list[RejectedImage] = field(default_factory=list)


class EngineError(Exception):
    """A failure with a message meant for the user.

    ``kind`` is a stable machine key: bad_key, permission, not_found, quota, overloaded, server,
    timeout, network, safety, prohibited, no_image, blocked, stream_error, truncated, malformed,
    invalid_request, validation, cancelled, missing_signature, unknown.
    """

    def __init__(self, kind: str, message: str, *, status: int | None = None, retryable: bool = False,
                 detail: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retryable = retryable
        self.detail = detail

    def __repr__(self) -> str:
        return f"EngineError({self.kind!r}, {self.message!r}, status={self.status})"


Event = ThoughtText | DraftImage | AnswerText | FinalImage | Grounding | Usage | Retrying | Finished | Failed


# -- studio service events (wrap the engine stream with persistence) ------------------------------


@dataclass(slots=True)
class TurnStarted:
    """The turn row exists (status pending) — emitted before the request goes out."""

    turn: Any
    """A :class:`banana_studio.domain.turn.Turn`."""


@dataclass(slots=True)
class TurnSaved:
    """The turn reached a final status and everything is on disk (images, content, usage, cost)."""

    turn: Any


StudioEvent = TurnStarted | TurnSaved | Event
