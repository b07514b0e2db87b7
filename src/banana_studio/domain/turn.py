"""A turn in a project's tree: one user request and what the model returned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.content import Content
from banana_studio.domain.settings import GenerationSettings

STATUSES = ("pending", "running", "done", "failed", "cancelled", "interrupted")
"""pending: written, request not yet answered; running: streaming; interrupted: the process died
while pending/running (set when the project is next opened)."""


@dataclass(slots=True)
class Reference:
    """A reference image copied into the project (content-addressed)."""

    sha256: str
    mime_type: str
    name: str
    """Original file name, for display."""
    path: str
    """Path relative to the project directory."""
    named: str = ""
    """The named reference (``@hero``) this image was expanded from; "" = added by itself.  Kept with
    the turn, so a re-roll sends these very images even if the name points elsewhere by then."""


@dataclass(slots=True)
class ImageFile:
    kind: str
    """'final' or 'draft'."""
    index: int
    sha256: str
    mime_type: str
    path: str
    """Relative to the project directory, e.g. images/0042-a-cat-in-a-hat.png."""
    width: int = 0
    height: int = 0


@dataclass(slots=True)
class Turn:
    id: int
    parent_id: int | None
    prompt: str
    settings: GenerationSettings
    status: str = "pending"
    references: list[Reference] = field(default_factory=list)
    user_content: Content | None = None
    model_content: Content | None = None
    images: list[ImageFile] = field(default_factory=list)
    finish_reason: str = ""
    finish_message: str = ""
    error: str = ""
    error_kind: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    grounding: dict[str, Any] = field(default_factory=dict)
    cost: float = 0.0
    starred: bool = False
    label: str = ""
    tags: list[str] = field(default_factory=list)
    """Any number of tags (see :mod:`banana_studio.domain.tags`)."""
    kind: str = "generate"
    """generate | reroll | edit | batch | variation."""
    model_version: str = ""
    response_id: str = ""
    target: str = "unknown"
    """Where it was made: a :class:`~banana_studio.domain.target.Target` value (local = demo)."""
    source: str = ""
    """Who asked for it: "" = a person (the studio or the command line), "mcp" = an agent over MCP."""
    source_client: str = ""
    """With an agent source: the client's name and version as it announced them (untrusted text)."""
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def final_images(self) -> list[ImageFile]:
        return [i for i in self.images if i.kind == "final"]

    @property
    def draft_images(self) -> list[ImageFile]:
        return [i for i in self.images if i.kind == "draft"]

    @property
    def is_demo(self) -> bool:
        return self.target == "local"

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled", "interrupted")
