"""Prompts → the requests of one batch job: references copied into the project, the branch history
replayed (the same :func:`prepare_request` as the interactive lane), every request validated.

Nothing is submitted when any prompt is invalid: :func:`batch_requests` raises :class:`BatchError`
listing the first problems.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from banana_studio.domain.batch_job import BatchItem
from banana_studio.domain.content import Content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine import request_size, validate_request
from banana_studio.engine.vertex import target_problems
from banana_studio.services.batch_input import BatchError, BatchPrompt
from banana_studio.services.named_refs import NamedReferences, expand_references
from banana_studio.services.turn_request import prepare_request
from banana_studio.store import ProjectError, ProjectStore

JobRequest = tuple[str, list[Content], GenerationSettings]
"""(key, contents with the new user turn last, settings) of one request of a job."""
SHOWN_PROBLEMS = 10


async def batch_requests(store: ProjectStore, prompts: list[BatchPrompt]
                         ) -> tuple[list[BatchItem], list[JobRequest], int]:
    """(record items, job requests, total request bytes) of ``prompts``; store work in threads."""
    items: list[BatchItem] = []
    requests: list[JobRequest] = []
    total = 0
    problems: list[str] = []
    library = NamedReferences(store.path)
    for p in prompts:
        try:  # @name → its images, recorded with the name (the same expansion as the interactive lane)
            named = await asyncio.to_thread(expand_references, store, library, p.prompt, p.references,
                                            p.settings.model)
            refs, history, user = await prepare_request(store, p.prompt, named, p.parent_id)
        except ProjectError as exc:
            problems.append(f"{p.key}: {exc}")
            continue
        for msg in await asyncio.to_thread(validate_request, history, user, p.settings):
            problems.append(f"{p.key}: {msg}")
        for msg in target_problems(p.settings, vertex=False):  # batch jobs run on the Gemini API
            problems.append(f"{p.key}: {msg}")
        total += request_size(history, user, p.settings)
        items.append(BatchItem(key=p.key, prompt=p.prompt, settings=p.settings.to_json(),
                               references=[asdict(r) for r in refs], parent_id=p.parent_id))
        requests.append((p.key, [*history, user], p.settings))
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        shown = problems[:SHOWN_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise BatchError("Nothing was submitted; fix these prompts first:\n" + "\n".join(shown))
    return items, requests, total
