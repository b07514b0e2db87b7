"""Prompts → the requests of one batch job: references copied into the project, the branch history
replayed (the same :func:`prepare_request` as the interactive lane), every request validated.
A prompt continuing a branch made by another target (a demo branch sent to the Gemini API) is refused
here, as the interactive lane refuses it, before anything is uploaded.

Nothing is submitted when any prompt is invalid: :func:`batch_requests` raises :class:`BatchError`
listing the first problems.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

from banana_studio.domain.batch_job import BatchItem
from banana_studio.domain.content import Content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import Target
from banana_studio.engine import request_size, validate_request
from banana_studio.engine.vertex import target_problems
from banana_studio.services.batch_input import BatchError, BatchPrompt
from banana_studio.services.continuity import crossing_problem, final_image_path
from banana_studio.services.named_refs import NamedReferences, expand_references
from banana_studio.services.turn_request import prepare_request
from banana_studio.store import ProjectError, ProjectStore

JobRequest = tuple[str, list[Content], GenerationSettings]
"""(key, contents with the new user turn last, settings) of one request of a job."""
SHOWN_PROBLEMS = 10


def _image_ref(store: ProjectStore, turn_id: int | None) -> str:
    """The JSON string of ``turn_id``'s final image path (what a prompts file's "refs" takes)."""
    try:
        return json.dumps(str(final_image_path(store, int(turn_id or 0))))
    except ProjectError:
        return '"IMAGE"'


async def batch_requests(store: ProjectStore, prompts: list[BatchPrompt], sending_to: Target | None = None
                         ) -> tuple[list[BatchItem], list[JobRequest], int]:
    """(record items, job requests, total request bytes) of ``prompts``; store work in threads.
    ``sending_to``: the job's target; a ``parent`` whose branch another target made is a problem."""
    items: list[BatchItem] = []
    requests: list[JobRequest] = []
    total = 0
    problems: list[str] = []
    library = NamedReferences(store.path)
    for p in prompts:
        try:
            crossing = (await asyncio.to_thread(crossing_problem, store, p.parent_id, sending_to)
                        if p.parent_id is not None and sending_to is not None else None)
        except ProjectError as exc:
            problems.append(f"{p.key}: {exc}")
            continue
        if crossing:
            problems.append(f"{p.key}: {crossing} In a prompts file: drop \"parent\" and give the image as "
                            f"\"refs\": [{await asyncio.to_thread(_image_ref, store, p.parent_id)}].")
            continue
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
