"""What a turn is asked: the request the lanes take, and its references, history and user content.

Both lanes (interactive :class:`~banana_studio.services.studio.Studio` and the batch lane) turn a
prompt + references + parent into the same three things with :func:`prepare_request`.  No Textual, no
SDK; store calls run in worker threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from banana_studio.domain.content import Content, user_content
from banana_studio.domain.named_refs import annotate
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.turn import Reference
from banana_studio.store import ProjectStore


@dataclass(slots=True)
class GenerateRequest:
    prompt: str
    parent_id: int | None = None
    """Continue from this turn (its branch history is replayed), or None for a new root."""
    references: list[Path | Reference] = field(default_factory=list)
    """Paths are copied into the project first; References must already belong to it."""
    settings: GenerationSettings = field(default_factory=GenerationSettings)
    kind: str = "generate"
    """generate | reroll | edit | batch | variation | from_image."""
    source: str = ""
    """Who asks: "" = a person (studio, command line), "mcp" = an agent (recorded with the turn)."""
    source_client: str = ""
    """With an agent source: the client's announced name and version."""
    expand_names: bool = False
    """Expand the prompt's ``@name`` mentions into their images (a new prompt from a person); a
    re-roll or retry keeps False: it sends the turn's recorded references (services/named_refs.py)."""


async def prepare_request(store: ProjectStore, prompt: str, references: Sequence[Path | Reference],
                          parent_id: int | None) -> tuple[list[Reference], list[Content], Content]:
    """(references of the project, the branch history to replay, the new user content).

    Paths are copied into the project's references first.  Raises :class:`ProjectError` for a bad
    reference or an unknown parent."""
    refs: list[Reference] = []
    for r in references:
        if isinstance(r, Reference):
            refs.append(r)
        else:
            refs.append(await asyncio.to_thread(store.add_reference, Path(r)))
    history: list[Content] = []
    if parent_id is not None:
        history = await asyncio.to_thread(store.replay_contents, parent_id)
    images = [(await asyncio.to_thread(store.reference_bytes, r), r.mime_type) for r in refs]
    return refs, history, user_content(annotate(prompt, [r.named for r in refs]), images)
