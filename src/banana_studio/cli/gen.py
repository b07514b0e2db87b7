"""``banana-studio gen`` — generate headlessly.

Thought summaries stream to stderr (drafts are noted), the turn is saved into the project, final
images are optionally copied to ``-o OUT``, and the saved paths are printed on stdout, one a line.
Exit codes: see :mod:`banana_studio.cli.exits` (0 done, 1 API failure / no image, 2 invalid request
or setup, 3 over budget — ``--yes`` sends anyway, 130 cancelled).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from banana_studio.cli.exits import EXIT_BUDGET, EXIT_CANCELLED, EXIT_FAILED, EXIT_INVALID, EXIT_OK
from banana_studio.config import Config, load_config, resolve_api_key, uses_vertex
from banana_studio.domain.catalogue import get_model
from banana_studio.domain.events import (
    AnswerText,
    DraftImage,
    Failed,
    FinalImage,
    Finished,
    Grounding,
    Retrying,
    ThoughtText,
    TurnSaved,
    TurnStarted,
)
from banana_studio.domain.safetext import display_text
from banana_studio.domain.turn import Turn

_MIME_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
             "image/heic": ".heic", "image/heif": ".heif"}
_EQUIVALENT_EXT = {".jpeg": ".jpg", ".jpe": ".jpg"}

NO_KEY_MESSAGE = (  # one wording for every command (gen, batch, template run)
    "error: No Gemini API key found.\n"
    "  • export GOOGLE_API_KEY=...   (or GEMINI_API_KEY; get a key at https://aistudio.google.com/apikey)\n"
    "  • or store it: banana-studio config --set-key\n"
    "  • or try the built-in local demo server (no key, no cost): add --demo"
)


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _settings(config: Config, args: argparse.Namespace) -> Any:
    s = config.defaults.copy()
    changes: dict[str, Any] = {}
    if getattr(args, "model", None):
        changes["model"] = args.model
    if getattr(args, "aspect", None):
        changes["aspect_ratio"] = args.aspect
    if getattr(args, "size", None):
        size = str(args.size)
        if size.upper() in ("1K", "2K", "4K") and size != size.upper():
            _err(f"note: --size {size} read as {size.upper()} (sizes are written with an uppercase K).")
            size = size.upper()
        changes["image_size"] = size
    if getattr(args, "search", None):
        changes["google_search"] = True
    if getattr(args, "temperature", None) is not None:
        changes["temperature"] = args.temperature
    if getattr(args, "seed", None) is not None:
        changes["seed"] = args.seed
    if getattr(args, "system", None):
        changes["system_instruction"] = args.system
    if getattr(args, "output_mime", None):
        changes["output_mime_type"] = f"image/{args.output_mime}"
    if getattr(args, "quality", None) is not None:
        changes["output_quality"] = args.quality
    if getattr(args, "person_generation", None):
        changes["person_generation"] = args.person_generation.upper()
    if getattr(args, "no_thoughts", False):
        changes["include_thoughts"] = False
    return s.copy(**changes) if changes else s


def output_paths(out_arg: str | Path, mimes: list[str], names: list[str]) -> list[Path]:
    """Where to copy each final image for ``-o OUT``: a folder (existing, or ending in a separator)
    keeps the project file names; otherwise OUT is a file name whose extension follows the mime."""
    raw = os.path.expanduser(str(out_arg))
    out = Path(raw)
    if out.is_dir() or raw.endswith(("/", os.sep)):
        return [out / name for name in names]
    result: list[Path] = []
    for i, mime in enumerate(mimes):
        ext = _MIME_EXT.get(mime, Path(names[i]).suffix or ".img")
        suffix = _EQUIVALENT_EXT.get(out.suffix.lower(), out.suffix.lower())
        base = out.with_suffix("") if suffix in _MIME_EXT.values() or suffix in (".img",) else out
        stem = base.name if i == 0 else f"{base.name}-{i + 1}"
        result.append(base.with_name(stem + ext))
    return result


class _Printer:
    def __init__(self, quiet: bool, stream: TextIO) -> None:
        self.quiet = quiet
        self.stream = stream
        self.at_line_start = True

    def write(self, text: str) -> None:
        if not text:
            return
        text = display_text(text)  # streamed model text (it echoes the prompt) must not drive the terminal
        self.stream.write(text)
        self.stream.flush()
        self.at_line_start = text.endswith("\n")

    def line(self, text: str) -> None:
        if not self.at_line_start:
            self.write("\n")
        self.write(text + "\n")


async def _generate(args: argparse.Namespace, config: Config, prompt: str,
                    parent: int | None, from_image: int | None = None) -> tuple[int, Turn | None, Path | None]:
    from banana_studio.services import GenerateRequest, Studio
    from banana_studio.store import ProjectError

    demo = bool(getattr(args, "demo", False))
    if not demo and not resolve_api_key(config)[0] and not uses_vertex():
        _err(NO_KEY_MESSAGE)
        return EXIT_INVALID, None, None
    target = Studio.target_for(config, demo=demo)
    setup = await asyncio.to_thread(target.check_vertex)  # Vertex AI: before a project is even made
    if setup is not None and setup.error is not None:
        _err(f"error: {setup.error.message}")
        return EXIT_INVALID, None, None
    try:
        studio = Studio.open(config, project=getattr(args, "project", None),
                             project_dir=Path(args.project_dir) if getattr(args, "project_dir", None) else None,
                             demo=demo, target=target)
    except ProjectError as exc:
        _err(f"error: {exc}")
        return EXIT_INVALID, None, None
    out = _Printer(bool(getattr(args, "quiet", False)), sys.stderr)
    try:
        if studio.needs_demo:
            _err(NO_KEY_MESSAGE)
            return EXIT_INVALID, None, None
        if studio.demo and studio.demo_into_real and not getattr(args, "mix_demo", False):
            _err(f"error: project {studio.store.name!r} is a real project ({studio.demo_into_real}). Demo turns "
                 "belong in the demo projects folder (the default with --demo); pass --mix-demo to add them "
                 "here anyway (they are marked demo and cost nothing).")
            return EXIT_INVALID, None, None
        setup_error = await studio.check_target()  # Vertex AI: project, location, credentials
        if setup_error is not None:
            _err(f"error: {setup_error.message}")
            return EXIT_INVALID, None, None
        settings = _settings(config, args)
        from banana_studio.domain.settings import validate_settings

        for problem in validate_settings(settings):
            if not problem.fatal:  # e.g. an unknown model id: sent as asked, with a warning
                _err(f"warning: {problem.message}")
        kind = "edit" if parent is not None else "generate"
        try:
            region = await asyncio.to_thread(_region_settings, args, config, studio, parent)
        except (ValueError, ProjectError, OSError) as exc:  # RegionError is a ValueError
            _err(f"error: {exc}")
            return EXIT_INVALID, None, None
        if region:
            settings = settings.copy(region=region)
            kind = "outpaint" if region.get("outpaint") else "region"
        req = GenerateRequest(prompt=prompt, parent_id=parent, references=[Path(r) for r in args.ref or []],
                              settings=settings, kind=kind, expand_names=True)
        if from_image is not None:
            try:
                image_req = await asyncio.to_thread(studio.start_from_image, from_image, prompt,
                                                    settings if _settings_given(args) else None)
            except ProjectError as exc:
                _err(f"error: {exc}")
                return EXIT_INVALID, None, None
            image_req.references += req.references
            image_req.expand_names = True
            if region:
                image_req.settings = image_req.settings.copy(region=region)
                image_req.kind = kind
            req = image_req
            settings = req.settings
        verdict = await asyncio.to_thread(studio.check_budget, settings, 1, n_refs=len(req.references))
        if not verdict.ok and not getattr(args, "yes", False):
            _err(f"error: {verdict.message}")
            _err("Not sent. Pass --yes to send anyway, or raise the [budget] limits in the config.")
            return EXIT_BUDGET, None, None
        code = EXIT_FAILED
        turn: Turn | None = None
        async for ev in studio.generate(req):
            if isinstance(ev, TurnStarted):
                spec = get_model(settings.model)
                est = studio.estimate_cost(settings, len(ev.turn.references))  # named references expanded
                if not out.quiet:
                    out.line(f"Turn #{ev.turn.id} in project {studio.store.name!r} · {spec.label} · "
                             f"{settings.aspect_ratio} {settings.image_size} · {studio.target_label} · "
                             f"est. ${est:.3f}")
            elif isinstance(ev, ThoughtText):
                if not out.quiet:
                    out.write(ev.text)
            elif isinstance(ev, DraftImage):
                if not out.quiet:
                    out.line(f"[draft {ev.index + 1} received ({len(ev.data) // 1024} KB)]")
            elif isinstance(ev, FinalImage):
                if not out.quiet:
                    out.line(f"[final image {ev.index + 1} received ({len(ev.data) // 1024} KB)]")
            elif isinstance(ev, AnswerText):
                if not out.quiet:
                    out.write(ev.text)
            elif isinstance(ev, Grounding):
                if not out.quiet and ev.sources:
                    out.line("Sources (Google Search): " + " · ".join(
                        f"{src.title or src.uri} <{src.uri}>" for src in ev.sources))
            elif isinstance(ev, Retrying):
                out.line(f"Retrying in {ev.delay:.1f} s (attempt {ev.attempt}/{ev.max_attempts}): {ev.reason}")
            elif isinstance(ev, Finished):
                for w in ev.warnings:
                    out.line(f"warning: {w}")
                if ev.ok:
                    code = EXIT_OK
                else:
                    out.line(f"error: {ev.error.message if ev.error else 'no image'}")
                    if ev.error is not None and ev.error.kind == "missing_signature" and parent is not None:
                        out.line(f"Try: {_from_image_command(args, parent, prompt)}")  # e.g. another key's
                    code = EXIT_FAILED
            elif isinstance(ev, Failed):
                out.line(f"error: {ev.error.message}")
                if ev.error.kind in ("cross_target", "missing_signature") and parent is not None:
                    out.line(f"Try: {_from_image_command(args, parent, prompt)}")  # the way that works
                code = EXIT_INVALID if ev.error.kind in ("validation", "cross_target") else EXIT_FAILED
            elif isinstance(ev, TurnSaved):
                turn = ev.turn
        if turn is not None and code == EXIT_OK and turn.settings.region and not out.quiet:
            out.line(_region_note(turn, studio.store.path))
        if turn is not None and code == EXIT_OK and not out.quiet:
            price = f"demo: ${turn.cost:.3f} simulated" if turn.is_demo else f"${turn.cost:.3f}"
            out.line(f"Saved turn #{turn.id} ({price}).")
        return code, turn, studio.store.path
    finally:
        await studio.aclose()


def _region_settings(args: argparse.Namespace, config: Config, studio: Any, parent: int | None) -> dict[str, Any]:
    """``settings.region`` from --region / --outpaint / --protect / --feather ({} = not a region edit).
    Sync (may read the source's size): call it in a thread.  Raises ValueError with the message."""
    from banana_studio.domain.region import RegionError, RegionSpec, parse_boxes, parse_outpaint

    region, outpaint = getattr(args, "region", None), getattr(args, "outpaint", None)
    if not region and not outpaint:
        if getattr(args, "protect", None) is not None or getattr(args, "feather", None) is not None:
            _err("note: --protect and --feather apply to --region and --outpaint only; ignored.")
        return {}
    if region and outpaint:
        raise RegionError("--region and --outpaint are two kinds of edit: give one of them.")
    if parent is None and not args.ref and getattr(args, "from_image", None) is None:
        raise RegionError("A region edit needs a picture: --parent TURN, --from-image TURN or --ref IMAGE.")
    protect = config.region_protect if getattr(args, "protect", None) is None else bool(args.protect)
    feather = config.region_feather if getattr(args, "feather", None) is None else max(0, min(512, args.feather))
    if outpaint:
        parse_outpaint(outpaint)
        return RegionSpec(protect=protect, feather=feather, outpaint=outpaint).to_json()
    try:
        boxes = parse_boxes(region)
    except RegionError:
        size = _source_size(args, studio, parent)
        if size is None:
            raise
        boxes = parse_boxes(region, size)
    return RegionSpec(tuple(boxes), protect=protect, feather=feather).to_json()


def _source_size(args: argparse.Namespace, studio: Any, parent: int | None) -> tuple[int, int] | None:
    """Pixels of the picture a region refers to (for pixel coordinates)."""
    source = parent if parent is not None else getattr(args, "from_image", None)
    if source is not None:
        finals = studio.store.get_turn(int(str(source).lstrip("#"))).final_images
        return (finals[0].width, finals[0].height) if finals and finals[0].width else None
    if args.ref:
        from PIL import Image

        with Image.open(Path(args.ref[0]).expanduser()) as img:
            return img.size
    return None


def _region_note(turn: Turn, root: Path) -> str:
    from banana_studio.domain.region import region_of
    from banana_studio.store.variants import variants

    spec = region_of(turn.settings)
    _protected, model, shown = variants(turn)
    if shown and model is not None:
        return (f"Region: {spec.describe()}. Outside the region every pixel is the source's; the model's own "
                f"output is kept: {root / model.path}")
    if spec.protect:
        return f"warning: the region could not be protected; the model's output is shown ({spec.describe()})."
    return f"Region: {spec.describe()} — see what changed: banana-studio diff {turn.id}"


def _settings_given(args: argparse.Namespace) -> bool:
    """Did the command line set any generation setting (else --from-image keeps the turn's own)?"""
    return any(getattr(args, name, None) not in (None, False) for name in
               ("model", "aspect", "size", "search", "temperature", "seed", "system", "no_thoughts"))


def _from_image_command(args: argparse.Namespace, turn_id: int, prompt: str) -> str:
    """The command that continues from ``turn_id``'s image alone, in the same project and mode."""
    words = ["banana-studio", "gen", "--from-image", str(turn_id)]
    if getattr(args, "demo", False):
        words += ["--demo"] + (["--mix-demo"] if getattr(args, "mix_demo", False) else [])
    for flag, attr in (("--project", "project"), ("--project-dir", "project_dir")):
        if getattr(args, attr, None):
            words += [flag, _shell_quote(str(getattr(args, attr)))]
    return " ".join([*words, _shell_quote(prompt)])


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text if len(text) <= 200 else text[:200] + "…")


def _copy_outputs(root: Path, turn: Turn, out_arg: str) -> list[Path]:
    from banana_studio.store.project import check_outside_project, copy_out

    finals = turn.final_images
    names = [Path(f.path).name for f in finals]
    targets = output_paths(out_arg, [f.mime_type for f in finals], names)
    out = Path(os.path.expanduser(out_arg))
    written: list[Path] = []
    for img, dest in zip(finals, targets, strict=True):
        if not out.is_dir() and out.suffix and dest.suffix != out.suffix and len(finals) == 1:
            _err(f"note: the model returned {img.mime_type}; writing {dest.name} instead of {out.name}.")
        check_outside_project(root, dest)  # a copy into the project would be an image off the record
        dest.parent.mkdir(parents=True, exist_ok=True)
        copy_out(root / img.path, dest)
        written.append(dest)
    return written


def run(args: argparse.Namespace) -> int:
    config = load_config()
    for problem in config.problems:
        _err(f"warning: {problem}")
    prompt = args.prompt
    if prompt == "-":
        buffer = getattr(sys.stdin, "buffer", None)
        prompt = buffer.read().decode("utf-8", "replace") if buffer is not None else sys.stdin.read()
    # Bytes that are not UTF-8 (argv, or stdin in some locales) arrive as lone surrogates, which cannot
    # be encoded for the request and crashed it: turn them into U+FFFD instead.
    prompt = prompt.encode("utf-8", "surrogateescape").decode("utf-8", "replace").strip()
    if not prompt:
        _err("error: the prompt is empty.")
        return EXIT_INVALID
    parent: int | None = None
    if getattr(args, "parent", None) is not None:
        try:
            parent = int(str(args.parent).lstrip("#"))
        except ValueError:
            _err(f"error: --parent expects a turn id (a number), got {args.parent!r}.")
            return EXIT_INVALID
    from_image: int | None = None
    if getattr(args, "from_image", None) is not None:
        if parent is not None:
            _err("error: --from-image starts a new root turn; it cannot be combined with --parent.")
            return EXIT_INVALID
        try:
            from_image = int(str(args.from_image).lstrip("#"))
        except ValueError:
            _err(f"error: --from-image expects a turn id (a number), got {args.from_image!r}.")
            return EXIT_INVALID
    try:
        code, turn, root = asyncio.run(_generate(args, config, prompt, parent, from_image))
    except KeyboardInterrupt:
        _err("Cancelled (the turn is marked cancelled).")
        return EXIT_CANCELLED
    if turn is None or root is None or code != EXIT_OK:
        return code
    from banana_studio.store import ProjectError

    paths = [root / f.path for f in turn.final_images]
    if getattr(args, "output", None):
        try:
            paths = _copy_outputs(root, turn, str(args.output))
        except (OSError, ProjectError) as exc:
            why = f"{exc.strerror}." if isinstance(exc, OSError) and exc.strerror else str(exc)
            _err(f"error: cannot write {args.output}: {why} The image is saved in the project: "
                 + ", ".join(str(root / f.path) for f in turn.final_images))
            return EXIT_FAILED
    for p in paths:
        print(p, flush=True)
    return EXIT_OK

