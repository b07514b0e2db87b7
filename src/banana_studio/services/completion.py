"""How a turn is completed — the one place, for both lanes (interactive stream and Batch API import).

The engine ends every answer with :class:`Finished` or :class:`Failed`; :func:`outcome_of` reads that
into what the store keeps (status, content, error, finish metadata), :func:`turn_cost` prices it (the
batch lane at the batch discount), and :func:`complete_turn` keeps rejected bytes apart and writes the
turn.  No Textual, no SDK; store calls run in worker threads.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from typing import Any

from banana_studio.config import redact
from banana_studio.domain.catalogue import get_model
from banana_studio.domain.content import Content
from banana_studio.domain.events import Failed, Finished, Grounding, Usage
from banana_studio.domain.safetext import valid_text
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.turn import Turn
from banana_studio.engine import actual_cost
from banana_studio.store import ProjectStore


def content_for_failure(content: Content | None) -> Content | None:
    """What to store for a turn that did not succeed.

    Draft (thought) images are already saved as drafts; when no real final image exists, they are
    left out of the stored content so that a failed turn never gains a "final" image by the
    last-draft fallback of :meth:`Content.final_images`.
    """
    if content is None or not content.parts:
        return None
    if any(p.is_image and not p.thought for p in content.parts):
        return content
    return Content(content.role, [p for p in content.parts if not (p.is_image and p.thought)])


def grounding_json(g: Grounding | None) -> dict[str, Any]:
    if g is None:
        return {}
    return {"queries": list(g.queries), "sources": [{"title": s.title, "uri": s.uri} for s in g.sources],
            "rendered_content": g.rendered_content}


def batch_cost(settings: GenerationSettings, usage: Usage, search_queries: int | list[str],
               discount: float) -> float:
    """Tokens at the batch discount; Google Search queries at the full price.  Google's batch docs and
    pricing page give the 50 % discount for tokens and say nothing of grounding, so search is not
    assumed to be discounted."""
    tokens = actual_cost(settings, usage, 0)
    search = actual_cost(settings, usage, search_queries) - tokens
    return round(tokens * discount + search, 6)


def turn_cost(settings: GenerationSettings, usage: Usage | None, grounding: Grounding | None, *,
              batch: bool = False) -> float:
    """What the answer cost (0 without usage metadata); ``batch``: at the model's batch discount."""
    if usage is None:
        return 0.0
    queries = grounding.queries if grounding else 0
    if batch:
        return batch_cost(settings, usage, queries, get_model(settings.model).prices.batch_discount)
    return actual_cost(settings, usage, queries)


@dataclass(slots=True)
class Outcome:
    """What the store keeps of an answer's end."""

    status: str
    """done | failed"""
    content: Content | None
    error: str = ""
    error_kind: str = ""
    finish: dict[str, str] = field(default_factory=dict)
    """finish_reason, finish_message, model_version, response_id (a Finished answer only)."""


def outcome_of(ev: Finished | Failed, secrets: list[str]) -> Outcome:
    """The stored form of the engine's last event; error text made valid UTF-8 and redacted."""
    if isinstance(ev, Finished):
        ok = ev.ok
        content = ev.content if ok else content_for_failure(ev.content)
        finish = {"finish_reason": ev.finish_reason, "finish_message": ev.finish_message,
                  "model_version": ev.model_version, "response_id": ev.response_id}
    else:
        ok, content, finish = False, content_for_failure(ev.partial), {}
    error = ev.error
    if ok or error is None:
        return Outcome("done" if ok else "failed", content, finish=finish)
    return Outcome("failed", content, redact(valid_text(error.message), secrets), error.kind, finish)


async def keep_rejected(store: ProjectStore, turn_id: int, ev: Finished | Failed) -> None:
    """Keep the bytes of images the server sent that were not images (never in images/), and say
    where in the turn's error."""
    from banana_studio.store.rejected import keep_rejected as keep

    try:
        paths = await asyncio.to_thread(keep, store.path, turn_id, ev.rejected)
    except OSError as exc:
        where = f" (they could not be kept for diagnosis: {exc.strerror or exc})"
    else:
        rel = [p.relative_to(store.path).as_posix() for p in paths]
        where = f" The data received is kept for diagnosis in {', '.join(rel)}."
    ev.rejected = []  # the bytes are on disk now; do not hold them
    if ev.error is not None and ev.error.kind == "bad_image":
        ev.error.message += where
        ev.error.args = (ev.error.message,)


async def complete_turn(store: ProjectStore, turn_id: int, ev: Finished | Failed, settings: GenerationSettings,
                        usage: Usage | None, grounding: Grounding | None, *, secrets: list[str],
                        batch: bool = False) -> tuple[Turn, Outcome]:
    """Write the end of turn ``turn_id``: answer (or what part of it is kept), usage, grounding, cost,
    error.  Rejected image bytes are kept for diagnosis first (their place goes into the error).
    Returns the saved turn and the outcome stored."""
    if ev.rejected:
        await keep_rejected(store, turn_id, ev)
    out = outcome_of(ev, secrets)
    saved = await asyncio.to_thread(
        store.complete_turn, turn_id, model_content=out.content, status=out.status,
        usage=asdict(usage) if usage is not None else {}, grounding=grounding_json(grounding),
        cost=turn_cost(settings, usage, grounding, batch=batch), error=out.error, error_kind=out.error_kind,
        **out.finish)
    return saved, out
