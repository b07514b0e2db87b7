"""The studio service: the one place the TUI and the CLIs use to generate.

It wraps the engine stream with persistence: the turn is committed as ``pending`` before the request
goes out, drafts are saved as they stream in, and the turn always ends ``done`` / ``failed`` /
``cancelled`` with everything on disk.  No Textual, no google-genai import (the engine imports the
SDK lazily on the first request); store calls run in worker threads.

Retrying a failed or interrupted turn creates a NEW sibling turn (same prompt, references and
settings, same kind) rather than re-running into the old id: the failed attempt keeps its partial
thoughts/drafts and error for the record, no half-written state is mixed with the new attempt, and
the per-turn owner lock protocol of the store stays simple (a turn is only ever pending once).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.config import Config, resolve_api_key, uses_vertex
from banana_studio.domain.events import (
    DraftImage,
    EngineError,
    Failed,
    Finished,
    Grounding,
    StudioEvent,
    TurnSaved,
    TurnStarted,
    Usage,
)
from banana_studio.domain.safetext import valid_text
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import Target
from banana_studio.domain.turn import Turn
from banana_studio.engine import ApiTarget, estimate_cost, run_turn, validate_request
from banana_studio.engine.vertex import target_problems
from banana_studio.services.api_target import api_target_for
from banana_studio.services.completion import complete_turn, turn_cost
from banana_studio.services.sizing import RequestSize, next_request_size
from banana_studio.services.turn_request import GenerateRequest, prepare_request
from banana_studio.store import ProjectError, ProjectStore

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.domain.turn import Reference
    from banana_studio.fakeserver import FakeGemini
    from banana_studio.services.budget import BudgetVerdict

DEMO_LATENCY = 0.4
"""Seconds of simulated thinking per streamed step in demo mode (override: BANANA_STUDIO_DEMO_LATENCY,
or ``Studio.open(..., demo_latency=0)`` in tests)."""


class Studio:
    """A project + an API target.  Create with :meth:`open` (sync, fast)."""

    def __init__(self, config: Config, store: ProjectStore, target: ApiTarget, *, demo: bool,
                 needs_demo: bool, key_source: str, demo_latency: float | None = None) -> None:
        self.config = config
        self.store = store
        self.target = target
        self.demo = demo
        self.needs_demo = needs_demo
        """No API key and not Vertex: the caller should offer demo mode (or ask for a key)."""
        self.key_source = key_source
        self.demo_latency = demo_latency
        self._fake: FakeGemini | None = None
        self._fake_lock = threading.Lock()
        self._active: set[int] = set()

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def open(cls, config: Config, project: str | None = None, project_dir: Path | None = None,
             demo: bool = False, *, demo_latency: float | None = None, target: ApiTarget | None = None) -> Studio:
        """Open (creating if needed) ``project`` under ``project_dir`` (default: the config's projects
        root).  Raises :class:`ProjectError` for a bad name or an unusable project.

        ``demo``: generate against an in-process local FakeGemini (started on first use) instead of
        Google; ``demo_latency`` overrides its per-step think time (default ``DEMO_LATENCY`` or the
        ``BANANA_STUDIO_DEMO_LATENCY`` environment variable); ``target``: from :meth:`target_for`."""
        from banana_studio.paths import demo_projects_root

        real_root = config.projects_root()
        # Demo turns never land in real projects: demo mode has its own projects folder.
        default_root = demo_projects_root(real_root) if demo else real_root
        root = Path(project_dir).expanduser() if project_dir else default_root
        store = ProjectStore.open(root, project or config.default_project or "default")
        store.spending_roots = [real_root, root] if root != real_root else [real_root]
        from banana_studio.store.variants import sweep_unrecorded

        sweep_unrecorded(store)  # a region composite whose row a kill prevented (store/variants.py)
        key, source = resolve_api_key(config)
        vertex = uses_vertex() and not demo
        if target is None:
            target = cls.target_for(config, demo=demo)
        studio = cls(config, store, target, demo=demo, needs_demo=not demo and not key and not vertex,
                     key_source=source, demo_latency=demo_latency)
        if demo:
            from banana_studio.services.continuity import real_project_reason

            studio.demo_into_real = real_project_reason(store.path, real_root)
        return studio

    target_for = staticmethod(api_target_for)
    """Where requests go for a config (no project opened: a command can check its setup first)."""

    demo_into_real: str = ""
    """Demo mode on a real project: why it is real ('' = not).  Callers ask before adding demo turns."""

    @property
    def target_label(self) -> str:
        return self.target.label

    @property
    def target_kind(self) -> Target:
        """Where this studio's requests go (recorded on every turn)."""
        if self.demo or self.target.demo:
            return Target.LOCAL
        return Target.VERTEX if self.target.vertex else Target.GEMINI_API

    def costs(self, turn_id: int | None = None) -> dict[str, float]:
        """Real money of the turn / branch / project / today, demo costs apart (see ``store.costs``).
        Sync: async callers use ``asyncio.to_thread``."""
        return self.store.costs(turn_id)

    def crossing_problem(self, parent_id: int) -> str | None:
        """Why the branch ending at ``parent_id`` cannot continue on this studio's target (None = it
        can).  Sync (store reads)."""
        from banana_studio.services.continuity import crossing_problem

        return crossing_problem(self.store, parent_id, self.target_kind)

    def start_from_image(self, turn_id: int, prompt: str = "",
                         settings: GenerationSettings | None = None) -> GenerateRequest:
        """"Continue from the image alone": a new root turn whose reference is ``turn_id``'s final
        image.  The conversation (and its thought signatures) is not carried over, so it works on any
        target.  Sync (copies the image into the project's references)."""
        from banana_studio.services.continuity import image_alone_request

        return image_alone_request(self.store, turn_id, prompt, settings)

    @property
    def active_turns(self) -> set[int]:
        """Ids of turns this Studio is generating right now."""
        return set(self._active)

    def _start_fake(self) -> str:
        with self._fake_lock:
            if self._fake is None:
                from banana_studio.fakeserver import FakeGemini

                small = os.environ.get("BANANA_STUDIO_DEMO_SMALL", "").strip() not in ("", "0")
                self._fake = FakeGemini(port=0, latency=self._demo_latency(), image_format="jpeg",
                                        vary_unseeded=True, small=small).start()
            return self._fake.base_url

    def _demo_latency(self) -> float:
        if self.demo_latency is not None:
            return max(0.0, self.demo_latency)
        raw = os.environ.get("BANANA_STUDIO_DEMO_LATENCY", "").strip()
        if raw:
            try:
                return max(0.0, float(raw))
            except ValueError:
                pass
        return DEMO_LATENCY

    @property
    def demo_server(self) -> FakeGemini | None:
        """The local server of demo mode once started (tests inject faults through it)."""
        return self._fake

    async def ready_target(self) -> ApiTarget:
        """The API target, its local server started first in demo mode (both lanes send through it)."""
        if self.demo and self.target.base_url is None:
            self.target.base_url = await asyncio.to_thread(self._start_fake)
        return self.target

    async def check_target(self) -> EngineError | None:
        """The target's setup problem (Vertex AI: project, location, credentials), or None.  Checked
        once, off the event loop; call it when the studio or a command starts."""
        if not self.target.vertex:
            return None
        setup = await asyncio.to_thread(self.target.check_vertex)
        return setup.error if setup is not None else None

    # -- requests -----------------------------------------------------------------------------------
    def estimate_cost(self, settings: GenerationSettings, n_refs: int = 0) -> float:
        return estimate_cost(settings, n_refs)

    def next_request_size(self, parent_id: int | None, settings: GenerationSettings,
                          references: list[Path] | None = None, prompt: str = "") -> RequestSize:
        """How big a send from ``parent_id`` would be (history + refs) and the warning near the
        100 MB limit.  Sync (stats files): async callers use ``asyncio.to_thread``."""
        return next_request_size(self.store, parent_id, settings, references, prompt)

    def check_budget(self, settings: GenerationSettings, n: int = 1, *, n_refs: int = 0,
                     batch: bool = False, estimate: float | None = None) -> BudgetVerdict:
        """Would ``n`` generations exceed the config's daily / project budget?  Sync (a few small
        read-only queries): async callers use ``asyncio.to_thread``.  See :mod:`services.budget`."""
        from banana_studio.services.budget import check_studio_budget

        return check_studio_budget(self, settings, n, n_refs=n_refs, batch=batch, estimate=estimate)

    def reroll(self, turn_id: int) -> GenerateRequest:
        """Same prompt, references and settings as ``turn_id``, as a new sibling (same parent)."""
        turn = self.store.get_turn(turn_id)
        return GenerateRequest(prompt=turn.prompt, parent_id=turn.parent_id, references=list(turn.references),
                               settings=turn.settings.copy(), kind="reroll")

    def retry(self, turn_id: int) -> GenerateRequest:
        """Re-run a failed / interrupted / cancelled turn: a NEW sibling with the same request and kind
        (see the module docstring for why not the same turn id)."""
        turn = self.store.get_turn(turn_id)
        return GenerateRequest(prompt=turn.prompt, parent_id=turn.parent_id, references=list(turn.references),
                               settings=turn.settings.copy(), kind=turn.kind or "generate")

    async def expand_names(self, prompt: str, references: list[Path | Reference], model: str
                           ) -> list[Path | Reference]:
        """``references`` plus the images of the prompt's ``@name`` mentions (services/named_refs.py)."""
        from banana_studio.services.named_refs import NamedReferences, expand_references

        return await asyncio.to_thread(expand_references, self.store, NamedReferences(self.store.path), prompt,
                                       references, model)

    # -- generation ---------------------------------------------------------------------------------
    async def generate(self, req: GenerateRequest) -> AsyncIterator[StudioEvent]:
        """TurnStarted → engine events → TurnSaved.  Re-entrant: several may run at once.

        If the request is invalid (bad reference, unknown parent, too many refs, ...) nothing is
        recorded and the only event is ``Failed`` with kind ``validation``.
        """
        store = self.store
        settings = req.settings
        if req.parent_id is not None:  # checked before anything is recorded, uploaded or sent
            try:
                crossing = await asyncio.to_thread(self.crossing_problem, req.parent_id)
            except ProjectError as exc:
                yield Failed(EngineError("validation", str(exc)))
                return
            if crossing:
                yield Failed(EngineError("cross_target", crossing))
                return
        plan = None
        try:
            references = req.references
            if req.expand_names:  # @name → its images, tagged with the name (services/named_refs.py)
                references = await self.expand_names(req.prompt, references, settings.model)
            refs, history, user = await prepare_request(store, req.prompt, references, req.parent_id)
            if req.settings.region:  # a region edit: instruction + source + guide (services/region.py)
                from banana_studio.services.region import plan_request, region_prompt

                plan, user = await plan_request(store, self.config, region_prompt(req.prompt, refs, req.parent_id),
                                                req.parent_id, refs, settings)
                settings = settings.copy(**plan.settings_changes)
        except (ProjectError, ValueError, OSError) as exc:  # RegionError is a ValueError
            yield Failed(EngineError("validation", valid_text(str(exc))))
            return
        problems = await asyncio.to_thread(validate_request, history, user, settings)
        problems += target_problems(settings, vertex=self.target.vertex)
        if problems:
            yield Failed(EngineError("validation", "\n".join(problems)))
            return
        setup_error = await self.check_target()
        if setup_error is not None:  # a setup problem records no turn
            yield Failed(setup_error)
            return
        try:
            turn: Turn = await asyncio.to_thread(store.create_turn, req.parent_id, req.prompt, settings, refs, user,
                                                 req.kind, self.target_kind.value, req.source, req.source_client)
        except ProjectError as exc:
            yield Failed(EngineError("storage", f"Could not record the turn: {exc}"))
            return
        self._active.add(turn.id)
        yield TurnStarted(turn)
        usage: Usage | None = None
        grounding: Grounding | None = None
        running = False
        finished = False
        saving = False
        drafts: asyncio.Future[None] | None = None  # the draft saves, chained in order, off the stream's path
        try:
            target = await self.ready_target()
            async with contextlib.aclosing(run_turn(target, history, user, settings)) as events:
                async for ev in events:
                    if not running and not isinstance(ev, (Finished, Failed)):
                        running = True
                        await asyncio.to_thread(store.set_status, turn.id, "running")
                    if isinstance(ev, DraftImage):
                        drafts = _save_after(drafts, store.save_draft, turn.id, ev.data, ev.mime_type, ev.index)
                    elif isinstance(ev, Usage):
                        usage = ev
                    elif isinstance(ev, Grounding):
                        grounding = ev
                    if isinstance(ev, (Finished, Failed)):
                        if drafts is not None:
                            await drafts  # complete_turn records the drafts already on disk
                        saving = True
                        saved = await self._complete_shielded(turn, ev, settings, usage, grounding)
                        finished = True
                        if plan is not None:  # protect outside: the composite is shown, the output kept
                            from banana_studio.services.region import protect_turn

                            with contextlib.suppress(ProjectError, OSError, ValueError):
                                saved = await asyncio.shield(protect_turn(store, saved, plan))
                        yield ev
                        yield TurnSaved(saved)
                        return
                    yield ev
            # The engine always ends with Finished/Failed; be defensive anyway.
            err = EngineError("unknown", "The generation ended without a result.", retryable=True)
            saving = True
            saved = await self._complete_shielded(turn, Failed(err), settings, usage, grounding)
            finished = True
            yield Failed(err)
            yield TurnSaved(saved)
        except (asyncio.CancelledError, GeneratorExit):
            if drafts is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(drafts)  # a draft being written lands before the status changes
            if not finished and not saving:
                await self._mark_cancelled(turn.id)
            raise
        except Exception as exc:  # the engine never raises: this is the store (disk full, read-only, ...) or a bug
            if finished:
                raise
            if isinstance(exc, (ProjectError, OSError)):
                err = EngineError("storage", f"Could not save the turn: {exc}")
            else:
                err = EngineError("unknown", valid_text(f"Internal error while saving the turn: {type(exc).__name__}: "
                                                        f"{exc}"))
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.set_status, turn.id, "failed", error=err.message, error_kind=err.kind)
            if usage is not None:  # the answer was billed: its bill, once more, if the store did not keep it
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(store.record_bill, turn.id, asdict(usage),
                                            turn_cost(settings, usage, grounding))
            yield Failed(err)
            with contextlib.suppress(Exception):
                yield TurnSaved(await asyncio.to_thread(store.get_turn, turn.id))
        finally:
            self._active.discard(turn.id)

    async def _complete_shielded(self, turn: Turn, ev: Finished | Failed, settings: GenerationSettings,
                                 usage: Usage | None, grounding: Grounding | None) -> Turn:
        """Save the result; a cancel arriving meanwhile waits for the save (the answer is complete and
        paid for: it must not end up half-saved or marked cancelled)."""
        job = asyncio.ensure_future(self._complete(turn, ev, settings, usage, grounding))
        try:
            return await asyncio.shield(job)
        except asyncio.CancelledError:
            try:
                await job
            except Exception:
                await self._mark_cancelled(turn.id)
            raise

    async def _mark_cancelled(self, turn_id: int) -> None:
        job = asyncio.ensure_future(asyncio.to_thread(
            self.store.set_status, turn_id, "cancelled", error="Cancelled before the image was finished.",
            error_kind="cancelled"))
        with contextlib.suppress(Exception):
            await asyncio.shield(job)

    async def _complete(self, turn: Turn, ev: Finished | Failed, settings: GenerationSettings, usage: Usage | None,
                        grounding: Grounding | None) -> Turn:
        saved, _ = await complete_turn(self.store, turn.id, ev, settings, usage, grounding,
                                       secrets=self.target.secrets())
        return saved

    # -- lifecycle ----------------------------------------------------------------------------------
    async def aclose(self) -> None:
        await self.target.aclose()
        fake, self._fake = self._fake, None
        if fake is not None:
            await asyncio.to_thread(fake.stop)
        await asyncio.to_thread(self.store.close)


def _save_after(previous: asyncio.Future[None] | None, save: Any, *args: Any) -> asyncio.Future[None]:
    """Run ``save(*args)`` in a worker thread once ``previous`` is done (drafts stay in order); the
    stream is not held up by the write.  An error surfaces where the chain is awaited."""
    async def run() -> None:
        if previous is not None:
            await previous
        await asyncio.to_thread(save, *args)

    job = asyncio.ensure_future(run())
    job.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved even if never awaited
    return job
