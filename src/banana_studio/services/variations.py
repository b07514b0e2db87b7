"""Variations: N generations of one request at once — parallel requests, N sibling turns in the tree.

    async for v in generate_variations(studio, request, 4):
        v.index   # 0..3: which variation the event belongs to
        v.event   # the usual studio event (TurnStarted, ThoughtText, DraftImage, ..., TurnSaved)

Each variation is an ordinary ``Studio.generate`` run (kind ``"variation"``), so every one is
persisted pending-first, streams its own thoughts and drafts, and ends ``done`` / ``failed`` /
``cancelled`` on its own: one failure does not stop the others.  References given as paths are
copied into the project once, before the requests start.  With a fixed seed, variation *i* uses
``seed + i`` (the same seed would ask for the same picture N times).  Closing the iterator (or
cancelling its consumer) cancels every variation still running; each is marked cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.domain.events import EngineError, Failed, StudioEvent, TurnSaved, TurnStarted
from banana_studio.domain.turn import Reference, Turn
from banana_studio.store import ProjectError

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.services.studio import Studio
    from banana_studio.services.turn_request import GenerateRequest

MIN_VARIATIONS = 2
MAX_VARIATIONS = 8
DEFAULT_VARIATIONS = 4


@dataclass(slots=True)
class VariationEvent:
    index: int
    event: StudioEvent


@dataclass(slots=True)
class VariationSet:
    """The outcome, filled as events arrive (handy for UIs and tests)."""

    n: int
    turns: list[Turn | None] = field(default_factory=list)
    """The saved turn of each variation (None until its TurnSaved)."""
    started: list[int | None] = field(default_factory=list)
    """Turn id of each variation once it started (None if it never did, e.g. invalid request)."""
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.turns = [None] * self.n
        self.started = [None] * self.n
        self.errors = [""] * self.n

    def feed(self, v: VariationEvent) -> None:
        ev = v.event
        if isinstance(ev, TurnStarted):
            self.started[v.index] = int(ev.turn.id)
        elif isinstance(ev, TurnSaved):
            self.turns[v.index] = ev.turn
            if ev.turn.status != "done":
                self.errors[v.index] = ev.turn.error or ev.turn.status
        elif isinstance(ev, Failed):
            self.errors[v.index] = ev.error.message

    @property
    def done(self) -> list[Turn]:
        return [t for t in self.turns if t is not None and t.status == "done"]


def variation_requests(req: GenerateRequest, n: int) -> list[GenerateRequest]:
    """The ``n`` requests of a variation set (kind "variation"; seed + i when a seed is fixed)."""
    if not MIN_VARIATIONS <= n <= MAX_VARIATIONS:
        raise ValueError(f"Variations: choose between {MIN_VARIATIONS} and {MAX_VARIATIONS} (got {n}).")
    out = []
    for i in range(n):
        settings = req.settings
        if settings.seed is not None:
            settings = settings.copy(seed=(settings.seed + i) % 2**31)
        out.append(replace(req, settings=settings, references=list(req.references), kind="variation"))
    return out


async def _resolve_references(studio: Studio, refs: list[Path | Reference]) -> list[Reference]:
    out: list[Reference] = []
    for r in refs:
        if isinstance(r, Reference):
            out.append(r)
        else:
            out.append(await asyncio.to_thread(studio.store.add_reference, Path(r)))
    return out


async def generate_variations(studio: Studio, req: GenerateRequest, n: int = DEFAULT_VARIATIONS
                              ) -> AsyncIterator[VariationEvent]:
    """Run ``n`` variations of ``req`` concurrently; yield their events interleaved as they arrive."""
    try:
        refs = await _resolve_references(studio, list(req.references))
        if req.expand_names:  # once for all N: every variation sends the same named images
            refs = await studio.expand_names(req.prompt, list(refs), req.settings.model)
    except ProjectError as exc:
        for i in range(n):
            yield VariationEvent(i, Failed(EngineError("validation", str(exc))))
        return
    requests = variation_requests(replace(req, references=list(refs)), n)
    async with contextlib.aclosing(generate_many(studio, requests)) as events:
        async for v in events:
            yield v


async def generate_many(studio: Studio, requests: list[GenerateRequest], *, concurrency: int | None = None
                        ) -> AsyncIterator[VariationEvent]:
    """Run ``requests`` concurrently (at most ``concurrency`` at a time; all at once by default) and
    yield their events interleaved, tagged with the request's index.  One failure does not stop the
    others; closing the iterator cancels every request still running (each is marked cancelled)."""
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    finished = object()
    gate = asyncio.Semaphore(max(1, concurrency or len(requests) or 1))

    async def run(i: int, r: GenerateRequest) -> None:
        try:
            async with gate, contextlib.aclosing(studio.generate(r)) as events:
                async for ev in events:
                    await queue.put((i, ev))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a storage failure in one variation must not stop the others
            await queue.put((i, Failed(EngineError("unknown", f"Variation {i + 1} failed: {exc}"))))
        finally:
            queue.put_nowait((i, finished))

    tasks = [asyncio.create_task(run(i, r), name=f"variation-{i + 1}") for i, r in enumerate(requests)]
    remaining = len(tasks)
    try:
        while remaining:
            i, ev = await queue.get()
            if ev is finished:
                remaining -= 1
                continue
            yield VariationEvent(i, ev)
    finally:
        for t in tasks:
            if not t.done():
                t.cancel()
        # Let every variation record its cancellation before we return (shield from our own cancel).
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(asyncio.gather(*tasks, return_exceptions=True))
