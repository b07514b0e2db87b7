"""The MCP tools and resources of ``banana-studio mcp`` (official ``mcp`` SDK, stdio transport).

Every tool goes through :class:`~banana_studio.agents.desk.AgentDesk`, which goes through the
``Studio`` service.  Results are JSON text plus the same object as structured content, every string
sanitised and redacted (:func:`~banana_studio.agents.views.clean`); refusals and failures come back
as tool errors (``isError``) with the same treatment, and an unexpected exception says only its
type and redacted message, never a traceback.  Images come back as MCP image content at the size
the client asks for, resized in a worker thread.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from banana_studio import __version__
from banana_studio.agents.desk import AgentDesk, AgentError, Ask
from banana_studio.agents.views import clean
from banana_studio.domain.safetext import dumps_json

log = logging.getLogger("banana_studio.mcp")

INSTRUCTIONS = (
    "Banana Studio: Gemini image generation (Nano Banana / Nano Banana Pro) into local projects that a person "
    "reviews in a terminal studio. A project is a tree of turns: `generate` starts a new thread, `edit` continues "
    "a turn's conversation (the model sees the earlier images), `fork` makes an alternative to a turn, `reroll` "
    "repeats one. `list_turns` / `get_recipe` read the tree, `get_image` returns a picture at the size you ask. "
    "Every generation reports its cost; the configured budgets apply and cannot be overridden from here."
)


class Settings(BaseModel):
    """Generation settings to change (anything left out keeps the config's or the parent turn's value)."""

    model: str | None = Field(None, description="model id, e.g. gemini-3-pro-image, gemini-3.1-flash-image")
    aspect_ratio: str | None = Field(None, description="e.g. 1:1, 16:9, 9:16, 4:3, 21:9")
    image_size: str | None = Field(None, description="512 (some models), 1K, 2K or 4K")
    google_search: bool | None = Field(None, description="ground the answer with Google Search")
    image_search: bool | None = Field(None, description="with google_search: also search images (some models)")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    seed: int | None = Field(None, ge=0, lt=2**31)
    system_instruction: str | None = None
    thinking_level: str | None = Field(None, description="MINIMAL, LOW, MEDIUM or HIGH (models that allow it)")
    include_thoughts: bool | None = Field(None, description="ask for thought summaries (default on)")
    image_only: bool | None = Field(None, description="answer with images only, no text")


ProjectArg = Annotated[str | None, Field(description="project name (default: the server's project)")]
TurnArg = Annotated[int, Field(description="turn id in the project")]
PromptArg = Annotated[str, Field(description="what to make or change")]
RefsArg = Annotated[list[str] | None, Field(description="reference image files on this machine, absolute paths "
                                                           "(up to 14; PNG, JPEG, WebP, GIF, HEIC)")]
PreviewArg = Annotated[int, Field(ge=0, le=2048, description="also return the image inline, at most this many "
                                                             "pixels on its long side (0 = no inline image)")]


def client_name(ctx: Context | None) -> str:
    """The connected client's announced name and version ("" if it gave none)."""
    try:
        info = ctx.session.client_params.client_info  # type: ignore[union-attr]
    except Exception:
        return ""
    if info is None:
        return ""
    name = str(getattr(info, "title", None) or getattr(info, "name", "") or "")
    version = str(getattr(info, "version", "") or "")
    return f"{name} {version}".strip()[:200]


def _secrets(desk: AgentDesk) -> list[str]:
    from banana_studio.config import resolve_api_key

    out: list[str] = []
    with contextlib.suppress(Exception):
        out.append(resolve_api_key(desk.config)[0] or "")
    for studio in list(desk._studios.values()):
        with contextlib.suppress(Exception):
            out += list(studio.target.secrets())
    return out


def _result(desk: AgentDesk, obj: dict[str, Any], *, error: bool = False,
            images: list[ImageContent] | None = None) -> CallToolResult:
    safe = clean(obj, _secrets(desk))
    content: list[Any] = [TextContent(type="text", text=dumps_json(safe, indent=1))]
    content += images or []
    return CallToolResult(content=content, structured_content=safe, is_error=error)


def _error(desk: AgentDesk, message: str) -> CallToolResult:
    text = clean(message, _secrets(desk))
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


async def _guarded(desk: AgentDesk, name: str, job: Callable[[], Awaitable[CallToolResult]]) -> CallToolResult:
    try:
        return await job()
    except AgentError as exc:
        return _error(desk, str(exc))
    except Exception as exc:  # a bug or the disk: say what, redacted, without a traceback to the client
        log.error("tool %s failed: %s", name, clean(f"{type(exc).__name__}: {exc}", _secrets(desk)))
        return _error(desk, f"Internal error in {name}: {type(exc).__name__}: {exc}")


def _image_content(fitted: Any) -> ImageContent:
    return ImageContent(type="image", data=base64.b64encode(fitted.data).decode("ascii"), mime_type=fitted.mime_type)


def build_server(desk: AgentDesk) -> MCPServer[Any]:
    """The MCP server over ``desk`` (closed when the server's lifespan ends)."""

    @contextlib.asynccontextmanager
    async def lifespan(_server: MCPServer[Any]) -> AsyncIterator[None]:
        try:
            yield None
        finally:
            await desk.aclose()

    server: MCPServer[Any] = MCPServer("banana-studio", title="Banana Studio", version=__version__,
                                       instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING")
    writes = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
    reads = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    async def generated(ctx: Context | None, run: Callable[[Any], Awaitable[dict[str, Any]]],
                        preview: int) -> CallToolResult:
        step = 0

        async def progress(text: str) -> None:
            nonlocal step
            step += 1
            if ctx is not None:
                await ctx.report_progress(step, None, clean(text, _secrets(desk)))

        out = await run(progress)
        images: list[ImageContent] = []
        if preview and out.get("images"):
            fitted, _info = await desk.image(out["id"], out["project"], max_size=preview)
            images.append(_image_content(fitted))
        return _result(desk, out, error=not out.get("ok"), images=images)

    def ask(prompt: str, project: str | None, settings: Settings | None, references: list[str] | None,
            ctx: Context | None) -> Ask:
        return Ask(prompt=prompt, project=project, references=references, client=client_name(ctx),
                   settings=settings.model_dump(exclude_none=True) if settings is not None else None)

    @server.tool(annotations=writes, structured_output=False)
    async def generate(prompt: PromptArg, ctx: Context, project: ProjectArg = None, settings: Settings | None = None,
                       references: RefsArg = None, preview_size: PreviewArg = 0) -> CallToolResult:
        """Generate an image as a new thread (a root turn) in the project. Returns the turn (id, image files,
        text, cost). Settings default to the config's."""
        a = ask(prompt, project, settings, references, ctx)
        return await _guarded(desk, "generate", lambda: generated(
            ctx, lambda p: desk.generate(a, progress=p), preview_size))

    @server.tool(annotations=writes, structured_output=False)
    async def edit(turn_id: TurnArg, prompt: PromptArg, ctx: Context, project: ProjectArg = None,
                   settings: Settings | None = None, references: RefsArg = None,
                   preview_size: PreviewArg = 0) -> CallToolResult:
        """Continue from a turn: the model sees that turn's branch (its images and answers) and this prompt, e.g.
        "make the sky darker". The new turn is a child of turn_id, with its settings unless changed."""
        a = ask(prompt, project, settings, references, ctx)
        return await _guarded(desk, "edit", lambda: generated(
            ctx, lambda p: desk.edit(turn_id, a, progress=p), preview_size))

    @server.tool(annotations=writes, structured_output=False)
    async def fork(turn_id: TurnArg, prompt: PromptArg, ctx: Context, project: ProjectArg = None,
                   settings: Settings | None = None, references: RefsArg = None,
                   preview_size: PreviewArg = 0) -> CallToolResult:
        """An alternative to a turn: a sibling (same parent, same settings unless changed) with a new prompt."""
        a = ask(prompt, project, settings, references, ctx)
        return await _guarded(desk, "fork", lambda: generated(
            ctx, lambda p: desk.fork(turn_id, a, progress=p), preview_size))

    @server.tool(annotations=writes, structured_output=False)
    async def reroll(turn_id: TurnArg, ctx: Context, project: ProjectArg = None,
                     preview_size: PreviewArg = 0) -> CallToolResult:
        """Run a turn's request again (same prompt, references and settings) as a new sibling."""
        name = client_name(ctx)
        return await _guarded(desk, "reroll", lambda: generated(
            ctx, lambda p: desk.reroll(turn_id, project, name, progress=p), preview_size))

    @server.tool(annotations=reads, structured_output=False)
    async def list_turns(project: ProjectArg = None,
                         search: Annotated[str, Field(description="full-text search over prompts")] = "",
                         starred: bool = False, limit: Annotated[int, Field(ge=1, le=500)] = 50) -> CallToolResult:
        """The project's turns, newest first (id, parent, prompt, status, images, cost, who made it)."""
        async def job() -> CallToolResult:
            return _result(desk, await desk.list_turns(project, search=search, starred=starred, limit=limit))
        return await _guarded(desk, "list_turns", job)

    @server.tool(annotations=reads, structured_output=False)
    async def get_recipe(turn_id: TurnArg, project: ProjectArg = None) -> CallToolResult:
        """A turn's full recipe: prompt, settings, references, parent and children, image files, the model's text,
        grounding sources, status or error, cost, and who asked for it."""
        async def job() -> CallToolResult:
            return _result(desk, await desk.recipe(turn_id, project))
        return await _guarded(desk, "get_recipe", job)

    @server.tool(annotations=reads, structured_output=False)
    async def get_image(turn_id: TurnArg, project: ProjectArg = None,
                        index: Annotated[int, Field(ge=0, description="which final image of the turn")] = 0,
                        max_size: Annotated[int, Field(ge=0, le=4096, description="longest side in pixels "
                                                       "(0 = full size)")] = 1024,
                        format: Annotated[str, Field(description="png, jpeg, webp or empty (stored format)")] = "",
                        draft: Annotated[bool, Field(description="a draft (thought) image instead")] = False,
                        ) -> CallToolResult:
        """A turn's image as image content, scaled down to max_size on its long side."""
        async def job() -> CallToolResult:
            fitted, info = await desk.image(turn_id, project, index=index, max_size=max_size, fmt=format,
                                            draft=draft)
            return _result(desk, info, images=[_image_content(fitted)])
        return await _guarded(desk, "get_image", job)

    @server.tool(annotations=reads, structured_output=False)
    async def list_projects() -> CallToolResult:
        """The projects in the server's projects folder (turns, spending)."""
        async def job() -> CallToolResult:
            return _result(desk, {"root": str(desk.root), "default_project": desk.default_project,
                                  "demo": desk.demo, "projects": await desk.projects()})
        return await _guarded(desk, "list_projects", job)

    async def resource_json(make: Callable[[], Awaitable[Any]]) -> str:
        try:
            return dumps_json(clean(await make(), _secrets(desk)), indent=1)
        except AgentError as exc:
            raise ResourceError(clean(str(exc), _secrets(desk))) from None

    @server.resource("banana://projects", name="projects", mime_type="application/json",
                     description="The projects (name, turns, spending)")
    async def projects_resource() -> str:
        return await resource_json(desk.projects)

    @server.resource("banana://projects/{project}", name="project", mime_type="application/json",
                     description="A project's newest 200 turns and its spending")
    async def project_resource(project: str) -> str:
        return await resource_json(lambda: desk.list_turns(project, limit=200))

    @server.resource("banana://projects/{project}/turns/{turn_id}", name="turn", mime_type="application/json",
                     description="A turn's recipe")
    async def turn_resource(project: str, turn_id: str) -> str:
        async def make() -> Any:
            try:
                tid = int(turn_id)
            except ValueError:
                raise AgentError(f"Turn id must be a number, got {turn_id!r}.") from None
            return await desk.recipe(tid, project)
        return await resource_json(make)

    return server
