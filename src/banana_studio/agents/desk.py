"""What an agent can do in the projects, through the :class:`~banana_studio.services.Studio` service.

The same path as the studio and ``banana-studio gen``: settings are validated (fatal problems refuse
the request before anything is recorded), the budget is checked before sending (an agent cannot send
over the configured budget: a person raises the limit), the turn is written before the request goes
out and always ends done / failed / cancelled, and every answer reports its cost.  No MCP import:
:mod:`.server` maps these calls to tools; tests drive the desk directly too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.agents.images import FittedImage, clamp_size, fit_image
from banana_studio.agents.views import money, node_json, project_uri, turn_json, turn_uri
from banana_studio.config import Config, normalize_model_id
from banana_studio.domain.events import (
    DraftImage,
    Failed,
    FinalImage,
    Finished,
    Retrying,
    ThoughtText,
    TurnSaved,
    TurnStarted,
)
from banana_studio.domain.safetext import valid_text
from banana_studio.domain.settings import GenerationSettings, validate_settings
from banana_studio.domain.words import plural
from banana_studio.store import ProjectError

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.domain.turn import Turn
    from banana_studio.services import Studio

SOURCE = "mcp"
MAX_LIST = 500
SETTING_NAMES = ("model", "aspect_ratio", "image_size", "google_search", "image_search", "temperature", "seed",
                 "system_instruction", "thinking_level", "include_thoughts", "image_only")
"""The generation settings an agent may set (the rest stay as the config / the parent turn has them)."""

Progress = Callable[[str], Awaitable[None]]


class AgentError(Exception):
    """A refusal or failure to report to the agent (the server sanitises and redacts the text)."""


@dataclass(slots=True)
class Ask:
    """One generation an agent asks for."""

    prompt: str
    project: str | None = None
    settings: dict[str, Any] | None = None
    references: list[str] | None = None
    client: str = ""
    """The MCP client's announced name and version (recorded with the turn)."""


class AgentDesk:
    """The projects an MCP server works on: one :class:`Studio` per project, opened on first use."""

    def __init__(self, config: Config, *, project: str | None = None, project_dir: Path | None = None,
                 demo: bool = False, mix_demo: bool = False, demo_latency: float | None = None) -> None:
        self.config = config
        self.default_project = project or config.default_project or "default"
        self.project_dir = Path(project_dir).expanduser() if project_dir else None
        self.demo = demo
        self.mix_demo = mix_demo
        self.demo_latency = demo_latency
        self._studios: dict[str, Studio] = {}
        self._lock = asyncio.Lock()

    # -- projects -----------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        if self.project_dir is not None:
            return self.project_dir
        if self.demo:
            from banana_studio.paths import demo_projects_root

            return demo_projects_root(self.config.projects_root())
        return self.config.projects_root()

    async def studio(self, project: str | None, *, create: bool = False) -> Studio:
        """The studio of ``project`` (default: the server's project).  Reading never creates a
        project: an unknown name is an error; generating creates it like the studio does."""
        name = (project or "").strip() or self.default_project
        async with self._lock:
            studio = self._studios.get(name)
            if studio is not None:
                return studio
            if not create:
                from banana_studio.store import ProjectStore

                def probe() -> None:
                    ProjectStore.open(self.root, name, create=False).close()

                try:
                    await asyncio.to_thread(probe)
                except ProjectError as exc:
                    raise AgentError(f"{exc} (projects: list_projects)") from exc
            from banana_studio.services import Studio

            try:
                studio = await asyncio.to_thread(Studio.open, self.config, name, self.project_dir, self.demo,
                                                 demo_latency=self.demo_latency)
            except ProjectError as exc:
                raise AgentError(str(exc)) from exc
            self._studios[name] = studio
            return studio

    async def projects(self) -> list[dict[str, Any]]:
        from banana_studio.agents.views import when
        from banana_studio.store import list_projects

        infos = await asyncio.to_thread(list_projects, self.root)
        return [{"name": i.name, "uri": project_uri(i.name), "turns": i.n_turns,
                 "updated_at": when(i.updated_at), "cost": round(i.cost, 6), "demo_cost": round(i.demo_cost, 6),
                 **({"error": i.error} if i.error else {})} for i in infos]

    # -- reading ------------------------------------------------------------------------------------
    async def list_turns(self, project: str | None = None, *, search: str = "", starred: bool = False,
                         limit: int = 50) -> dict[str, Any]:
        studio = await self.studio(project)
        store = studio.store
        limit = max(1, min(MAX_LIST, int(limit)))
        if search or starred:
            nodes = await asyncio.to_thread(store.search, search, limit=limit, starred=starred)
        else:
            nodes = await asyncio.to_thread(store.recent, limit)
        costs = await asyncio.to_thread(studio.costs)
        ids, _parents = await asyncio.to_thread(store.tree_skeleton)
        return {"project": store.name, "turn_count": len(ids), "shown": len(nodes),
                "turns": [node_json(n) for n in sorted(nodes, key=lambda n: n.id, reverse=True)],
                "costs": money(costs)}

    async def _turn(self, studio: Studio, turn_id: int) -> Turn:
        try:
            return await asyncio.to_thread(studio.store.get_turn, int(turn_id))
        except ProjectError as exc:
            raise AgentError(str(exc)) from exc

    async def recipe(self, turn_id: int, project: str | None = None) -> dict[str, Any]:
        studio = await self.studio(project)
        turn = await self._turn(studio, turn_id)
        kids = await asyncio.to_thread(studio.store.children, turn.id)
        costs = await asyncio.to_thread(studio.costs, turn.id)
        return turn_json(turn, studio.store.name, studio.store.path, children=[k.id for k in kids], costs=costs)

    async def image(self, turn_id: int, project: str | None = None, *, index: int = 0, max_size: int | None = None,
                    fmt: str = "", draft: bool = False) -> tuple[FittedImage, dict[str, Any]]:
        """The turn's final image ``index`` (or draft ``index``) at most ``max_size`` px on its long
        side (0 = full size), re-encoded off the event loop."""
        studio = await self.studio(project)
        turn = await self._turn(studio, turn_id)
        images = turn.draft_images if draft else turn.final_images
        what = "draft" if draft else "final image"
        if not images:
            raise AgentError(f"Turn {turn.id} has no {what}s (status {turn.status}).")
        if not 0 <= index < len(images):
            raise AgentError(f"Turn {turn.id} has {plural(len(images), what)}: index must be 0..{len(images) - 1}.")
        if fmt and fmt.lower() not in ("png", "jpeg", "jpg", "webp"):
            raise AgentError("format must be png, jpeg or webp (or empty: the stored format).")
        im = images[index]
        store = studio.store

        def load() -> FittedImage:
            try:
                data = store.abs_path(im.path).read_bytes()
            except OSError:
                data = store.blob_bytes(im.sha256)
            return fit_image(data, im.mime_type, clamp_size(max_size), fmt)

        try:
            fitted = await asyncio.to_thread(load)
        except (OSError, ValueError, ProjectError) as exc:
            raise AgentError(f"Cannot read the image of turn {turn.id}: {exc}") from exc
        info = {"project": store.name, "turn_id": turn.id, "index": index, "kind": im.kind,
                "path": str(store.path / im.path), "mime_type": fitted.mime_type, "width": fitted.width,
                "height": fitted.height, "original_width": fitted.original_width,
                "original_height": fitted.original_height, "bytes": len(fitted.data)}
        return fitted, info

    # -- generating ---------------------------------------------------------------------------------
    def _settings(self, base: GenerationSettings, changes: dict[str, Any] | None) -> tuple[GenerationSettings,
                                                                                           list[str]]:
        changes = {k: v for k, v in (changes or {}).items() if v is not None}
        unknown = sorted(set(changes) - set(SETTING_NAMES))
        if unknown:
            raise AgentError(f"Unknown setting(s) {', '.join(unknown)}; the settings an agent may set: "
                             f"{', '.join(SETTING_NAMES)}.")
        notes: list[str] = []
        if isinstance(changes.get("model"), str):
            changes["model"] = normalize_model_id(changes["model"])
        size = changes.get("image_size")
        if isinstance(size, str) and size.upper() in ("1K", "2K", "4K") and size != size.upper():
            notes.append(f"image_size {size} read as {size.upper()}.")
            changes["image_size"] = size.upper()
        settings = base.copy(**changes)
        problems = validate_settings(settings)
        fatal = [p.message for p in problems if p.fatal]
        if fatal:
            raise AgentError("Not sent: " + " ".join(fatal))
        return settings, notes + [p.message for p in problems if not p.fatal]

    async def generate(self, ask: Ask, *, progress: Progress | None = None) -> dict[str, Any]:
        """A new root turn (a new thread) in the project."""
        studio = await self.studio(ask.project, create=True)
        return await self._run(studio, ask, None, self.config.defaults, "generate", progress)

    async def edit(self, turn_id: int, ask: Ask, *, progress: Progress | None = None) -> dict[str, Any]:
        """Continue the conversation of ``turn_id``: a child turn (its settings unless changed)."""
        studio = await self.studio(ask.project)
        parent = await self._turn(studio, turn_id)
        return await self._run(studio, ask, parent.id, parent.settings, "edit", progress)

    async def fork(self, turn_id: int, ask: Ask, *, progress: Progress | None = None) -> dict[str, Any]:
        """An alternative to ``turn_id``: a sibling with a new prompt (same parent, same settings
        unless changed); forking a root starts a new thread."""
        studio = await self.studio(ask.project)
        turn = await self._turn(studio, turn_id)
        kind = "edit" if turn.parent_id is not None else "generate"
        return await self._run(studio, ask, turn.parent_id, turn.settings, kind, progress)

    async def reroll(self, turn_id: int, project: str | None = None, client: str = "",
                     *, progress: Progress | None = None) -> dict[str, Any]:
        """Same prompt, references and settings as ``turn_id``: a new sibling."""
        studio = await self.studio(project)
        turn = await self._turn(studio, turn_id)
        req = await asyncio.to_thread(studio.reroll, turn.id)
        ask = Ask(prompt=req.prompt, project=project, client=client)
        return await self._send(studio, ask, req, [], progress)

    async def _run(self, studio: Studio, ask: Ask, parent_id: int | None, base: GenerationSettings, kind: str,
                   progress: Progress | None) -> dict[str, Any]:
        from banana_studio.services import GenerateRequest

        prompt = valid_text(ask.prompt or "").strip()
        if not prompt:
            raise AgentError("The prompt is empty.")
        settings, notes = self._settings(base, ask.settings)
        refs = [Path(r).expanduser() for r in ask.references or []]
        req = GenerateRequest(prompt=prompt, parent_id=parent_id, references=list(refs), settings=settings, kind=kind)
        return await self._send(studio, ask, req, notes, progress)

    async def _check_sendable(self, studio: Studio) -> None:
        if studio.needs_demo:
            raise AgentError("No Gemini API key found: set GOOGLE_API_KEY (or GEMINI_API_KEY) in the MCP server's "
                             "environment, store one with `banana-studio config --set-key`, or run "
                             "`banana-studio mcp --demo` (the local server: no key, no cost).")
        if studio.demo and studio.demo_into_real and not self.mix_demo:
            raise AgentError(f"Project {studio.store.name!r} is a real project ({studio.demo_into_real}); demo turns "
                             "belong in the demo projects folder (start the server with --mix-demo to allow it).")
        setup = await studio.check_target()
        if setup is not None:
            raise AgentError(setup.message)

    async def _send(self, studio: Studio, ask: Ask, req: Any, notes: list[str],
                    progress: Progress | None) -> dict[str, Any]:
        await self._check_sendable(studio)
        req.source, req.source_client = SOURCE, valid_text(ask.client)[:200]
        n_refs = len(req.references)
        verdict = await asyncio.to_thread(studio.check_budget, req.settings, 1, n_refs=n_refs)
        if not verdict.ok:
            raise AgentError(f"{verdict.message} Not sent: an agent cannot go over the budget; a person can raise "
                             "the [budget] limits in the config.")
        estimate = studio.estimate_cost(req.settings, n_refs)
        saved: Turn | None = None
        started = False
        error = ""
        warnings = list(notes)
        async with contextlib.aclosing(studio.generate(req)) as events:  # closed on a refusal too
            async for ev in events:
                if isinstance(ev, TurnStarted):
                    started = True
                    await _say(progress, f"Turn #{ev.turn.id} started ({studio.target_label}, est. ${estimate:.3f})")
                elif isinstance(ev, ThoughtText):
                    first = ev.text.strip().splitlines()[0][:120] if ev.text.strip() else ""
                    if first:  # a long think keeps the client's request alive (progress resets its timeout)
                        await _say(progress, f"thinking: {first}")
                elif isinstance(ev, DraftImage):
                    await _say(progress, f"draft {ev.index + 1} received")
                elif isinstance(ev, FinalImage):
                    await _say(progress, f"final image {ev.index + 1} received")
                elif isinstance(ev, Retrying):
                    await _say(progress, f"retrying in {ev.delay:.1f} s (attempt {ev.attempt}/{ev.max_attempts}): "
                                         f"{ev.reason}")
                elif isinstance(ev, Finished):
                    warnings += list(ev.warnings)
                    if not ev.ok:
                        error = ev.error.message if ev.error else "The model returned no image."
                elif isinstance(ev, Failed):
                    if not started:  # refused before anything was recorded or sent
                        raise AgentError(f"Not sent: {ev.error.message}"
                                         + await _image_alone_hint(studio, req.parent_id, ev.error.kind))
                    error = ev.error.message
                elif isinstance(ev, TurnSaved):
                    saved = ev.turn
        if saved is None:
            raise AgentError(error or "The generation ended without a turn.")
        costs = await asyncio.to_thread(studio.costs, saved.id)
        kids = await asyncio.to_thread(studio.store.children, saved.id)
        out = turn_json(saved, studio.store.name, studio.store.path, children=[k.id for k in kids], costs=costs)
        out.update({"ok": saved.status == "done" and not error, "estimated_cost": round(estimate, 6),
                    "warnings": warnings, "sent_to": studio.target_label, "uri": turn_uri(studio.store.name, saved.id)})
        if error and not out.get("error"):
            out["error"] = error
        return out

    async def aclose(self) -> None:
        studios, self._studios = list(self._studios.values()), {}
        for studio in studios:
            try:
                await studio.aclose()
            except Exception:  # closing the others matters more
                pass


async def _say(progress: Progress | None, text: str) -> None:
    if progress is not None:
        try:
            await progress(text)
        except Exception:  # a client that went away must not fail the generation
            pass


async def _image_alone_hint(studio: Studio, parent_id: int | None, kind: str) -> str:
    """For a cross-target refusal: how an agent continues from the image alone ('' otherwise)."""
    if kind != "cross_target" or parent_id is None:
        return ""
    from banana_studio.services.continuity import final_image_path

    try:
        path = await asyncio.to_thread(final_image_path, studio.store, parent_id)
    except ProjectError:
        return ""
    return f" To do that, call generate with references=[{json.dumps(str(path))}] (no parent turn)."
