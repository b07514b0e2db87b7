"""Region edits: what is sent, and the guarantee applied to what comes back.

**What is sent** (the choice, and why).  Gemini image models have no mask parameter; Google's own
guidance for local edits is an instruction that names what to change and says everything else stays
("Using the provided image, change only ... Keep everything else exactly the same", the *inpainting /
semantic masking* template of the image-generation docs), and Gemini's native way to name a place in an
image is a ``box_2d`` of ``[ymin, xmin, ymax, xmax]`` scaled to 0-1000 (the spatial-understanding docs).
So a region edit sends, in the new user turn: the instruction (template below, editable in
``[region] template``) naming the boxes in that notation, then the **source** picture, then a **guide**:
the same picture with the outside dimmed and the boxes outlined in magenta.  Words and picture say the
same thing twice, which is what the public prompt guides recommend for the Pro and 3.1 Flash models.

**The guarantee** does not rely on the model: with protect on, every pixel farther than ``feather``
pixels outside the boxes is copied from the source at the answer's resolution
(:func:`region_pixels.protect`); the untouched answer stays a file of the turn (see store/variants.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.content import Content, Part
from banana_studio.domain.named_refs import annotate
from banana_studio.domain.region import (
    Box,
    RegionError,
    RegionSpec,
    nearest_ratio,
    outpaint_layout,
    parse_outpaint,
    parse_zoom,
    region_of,
)
from banana_studio.domain.turn import Reference, Turn
from banana_studio.services import region_pixels as px
from banana_studio.store import variants

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.config import Config
    from banana_studio.store import ProjectStore

DEFAULT_TEMPLATE = (
    "Edit the first image. Change only the marked area: {where}. The second image is the same picture with "
    "that area outlined in magenta and everything outside it dimmed. In the marked area: {prompt}\n"
    "Keep everything outside the marked area exactly as it is in the first image: the same pixels, "
    "composition, framing, lighting and style. Do not draw the outline or the dimming in the result."
)
DEFAULT_OUTPAINT_TEMPLATE = (
    "Extend the first image: it is the original picture placed on a larger canvas, and the flat grey "
    "area ({where}) is empty canvas, outlined in magenta in the second image. Fill the empty area so the "
    "scene continues naturally beyond the original edges. {prompt}\n"
    "Keep the original picture exactly as it is: do not move, crop, resize or repaint it, and do not draw "
    "the outline in the result."
)
BOX_NOTATION = "box_2d [ymin, xmin, ymax, xmax] on a 0-1000 scale"


def where_text(boxes: tuple[Box, ...] | list[Box]) -> str:
    coords = "; ".join("[" + ", ".join(str(v) for v in b.box_2d()) + "]" for b in boxes)
    return f"{len(boxes)} rectangle{'s' if len(boxes) != 1 else ''} at {BOX_NOTATION}: {coords}"


def region_prompt(prompt: str, refs: list[Reference], parent_id: int | None) -> str:
    """The prompt with its named references numbered as a region request orders its images: source,
    guide, then the references (a new root: the first reference is the source)."""
    named = [r.named for r in refs]
    if parent_id is not None:
        return annotate(prompt, named, lambda i: i + 3)
    return annotate(prompt, named, lambda i: 1 if i == 0 else i + 2)


def instruction(prompt: str, spec: RegionSpec, template: str = "", outpaint_template: str = "") -> str:
    """The text of the request (``{prompt}``, ``{where}``, ``{boxes}``, ``{count}`` are filled in)."""
    if spec.outpaint:
        tpl = outpaint_template or DEFAULT_OUTPAINT_TEMPLATE
        prompt = prompt.strip() or "Match the original's style, light and perspective."
    else:
        tpl = template or DEFAULT_TEMPLATE
    boxes = "; ".join("[" + ", ".join(str(v) for v in b.box_2d()) + "]" for b in spec.boxes)
    values = {"prompt": prompt.strip(), "where": where_text(spec.boxes), "boxes": boxes,
              "count": str(len(spec.boxes))}
    out = tpl
    for key, value in values.items():  # not str.format: a template or prompt with braces must not break it
        out = out.replace("{" + key + "}", value)
    return out


@dataclass(slots=True)
class RegionPlan:
    """What a region request was made from (kept until the answer is protected)."""

    spec: RegionSpec
    source: bytes
    """The picture the region refers to (for an outpaint: the padded canvas), PNG or the file's bytes."""
    guide: bytes
    """The guide as sent (JPEG: it only has to show where)."""
    send: tuple[bytes, str] = (b"", "")
    """The source as sent: the picture's own bytes when the API takes them (no re-encode), else a JPEG."""
    settings_changes: dict[str, Any] = field(default_factory=dict)
    keep: Box | None = None
    """Outpaint: the original picture's area on the canvas (kept exactly)."""


def _final_of(store: ProjectStore, turn_id: int) -> bytes:
    turn = store.get_turn(turn_id)
    finals = turn.final_images
    if not finals:
        raise RegionError(f"Turn #{turn_id} has no image to edit.")
    return store.blob_bytes(finals[0].sha256)  # the picture without the embedded recipe


def _build(source_bytes: bytes, spec: RegionSpec, ratios: tuple[str, ...] = ()) -> RegionPlan:
    """Pillow part of the plan (runs in a worker thread).  ``ratios``: the model's aspect ratios — a region
    edit asks for the one of the source, so the answer lines up with it."""
    src = px.open_rgb(source_bytes)
    changes: dict[str, Any] = {}
    near = nearest_ratio(src.width, src.height, ratios)
    if near is not None and not spec.outpaint:
        changes["aspect_ratio"] = near
    keep = None
    if spec.outpaint:
        ratio, side = parse_outpaint(spec.outpaint)
        layout = outpaint_layout(src.width, src.height, ratio, side)
        src = px.pad_canvas(src, layout)
        keep = layout.original
        spec = RegionSpec(layout.fill, spec.protect, spec.feather, spec.outpaint)
        source_bytes = px.png_bytes(src)
        if parse_zoom(ratio) is None:
            changes["aspect_ratio"] = ratio
        elif near is not None:  # a zoom keeps the picture's own ratio
            changes["aspect_ratio"] = near
    elif not spec.boxes:
        raise RegionError("A region edit needs at least one rectangle.")
    changes["region"] = spec.to_json()
    mime = "" if keep is not None else px.mime_of(source_bytes)
    send = (source_bytes, mime) if mime else (px.jpeg_bytes(src, 95), "image/jpeg")
    return RegionPlan(spec, source_bytes, px.jpeg_bytes(px.guide_image(src, spec.boxes)), send, changes, keep)


async def plan_request(store: ProjectStore, config: Config | None, prompt: str, parent_id: int | None,
                       refs: list[Reference], settings: Any) -> tuple[RegionPlan, Content]:
    """The plan and the user content of a region request: instruction, source, guide, then the other
    references.  The source is the parent's shown picture, or (a new root) the first reference."""
    spec = region_of(settings)
    rest = list(refs)
    if parent_id is not None:
        source_bytes = await asyncio.to_thread(_final_of, store, parent_id)
    elif refs:
        first = rest.pop(0)
        source_bytes = await asyncio.to_thread(store.reference_bytes, first)
    else:
        raise RegionError("A region edit needs a picture: continue from a turn, or give the image as a reference.")
    plan = await asyncio.to_thread(_build, source_bytes, spec, tuple(get_model(settings.model).aspect_ratios))
    text = instruction(prompt, plan.spec, getattr(config, "region_template", ""),
                       getattr(config, "outpaint_template", ""))
    parts = [Part(text=text), Part(mime_type=plan.send[1], data=plan.send[0]),
             Part(mime_type="image/jpeg", data=plan.guide)]
    for r in rest:
        parts.append(Part(mime_type=r.mime_type, data=await asyncio.to_thread(store.reference_bytes, r)))
    return plan, Content("user", parts)


def _protect_one(source: bytes, answer: bytes, plan: RegionPlan) -> tuple[bytes, tuple[int, int]]:
    src, ans = px.open_rgb(source), px.open_rgb(answer)
    if plan.keep is not None:
        out = px.protect_keep(src, ans, plan.keep, plan.spec.feather)
    else:
        out = px.protect(src, ans, plan.spec.boxes, plan.spec.feather)
    return px.png_bytes(out), out.size


async def protect_turn(store: ProjectStore, turn: Turn, plan: RegionPlan) -> Turn:
    """With protect on: composite each final image over the source and show the composite (the model
    output stays as the turn's ``model`` image).  Off, or a turn without images: unchanged."""
    if not plan.spec.protect or turn.status != "done":
        return turn
    for img in list(turn.final_images):
        answer = await asyncio.to_thread(store.blob_bytes, img.sha256)
        png, size = await asyncio.to_thread(_protect_one, plan.source, answer, plan)
        turn = await asyncio.to_thread(variants.record_protected, store, turn.id, img.index, png, size)
    return turn


def image_variants(turn: Turn, index: int = 0) -> tuple[Any, Any, bool]:
    """``(protected, model_output, protected_is_shown)`` of a turn's final image (see store/variants.py)."""
    return variants.variants(turn, index)


async def show_variant(store: ProjectStore, turn_id: int, protected: bool) -> Turn:
    return await asyncio.to_thread(variants.show, store, turn_id, protected)


# -- change map ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangeMap:
    png: bytes
    stats: px.ChangeStats
    before: int | None
    """Turn id compared against (the parent), None when it had no picture."""
    after: int
    boxes: tuple[Box, ...] = ()
    source: str = ""
    """A new thread's region edit of a reference: that reference's name (compared against, ``before``
    None)."""

    @property
    def against(self) -> str:
        return f"#{self.before}" if self.before is not None else f"its source picture ({self.source})"

    def caption(self) -> str:
        return f"change map #{self.after} vs {self.against}: {self.stats.text()}"


def _map(before: bytes, after: bytes, boxes: tuple[Box, ...],
         max_side: int | None = None) -> tuple[bytes, px.ChangeStats]:
    img, stats = px.change_map(px.open_rgb(before), px.open_rgb(after), boxes, max_side=max_side)
    return px.png_bytes(img), stats


def _image_bytes(store: ProjectStore, turn: Turn) -> bytes:
    if not turn.final_images:
        raise RegionError(f"Turn #{turn.id} has no image.")
    return store.abs_path(turn.final_images[0].path).read_bytes()


async def change_map(store: ProjectStore, after_id: int, before_id: int | None = None, *,
                     max_side: int | None = None) -> ChangeMap:
    """Where turn ``after_id`` differs from ``before_id`` (default: its parent), region shares included
    (counted at full resolution; ``max_side`` shrinks the heat map, for the terminal)."""
    after = await asyncio.to_thread(store.get_turn, after_id)
    spec = region_of(after.settings)
    source = ""
    if before_id is None:
        before_id = after.parent_id
    if before_id is None and spec.active and after.references:  # a new thread's edit of a reference
        first = after.references[0]
        source = first.name or first.sha256[:12]
        a, b = await asyncio.gather(asyncio.to_thread(store.reference_bytes, first),
                                    asyncio.to_thread(_image_bytes, store, after))
    elif before_id is None:
        raise RegionError(f"Turn #{after_id} has no parent to compare with.")
    else:
        before = await asyncio.to_thread(store.get_turn, before_id)
        a, b = await asyncio.gather(asyncio.to_thread(_image_bytes, store, before),
                                    asyncio.to_thread(_image_bytes, store, after))
    if spec.outpaint:  # compare on the padded canvas, so the original area lines up
        plan = await asyncio.to_thread(_build, a, RegionSpec((), spec.protect, spec.feather, spec.outpaint))
        a, boxes = plan.source, plan.spec.boxes
    else:
        boxes = spec.boxes
    png, stats = await asyncio.to_thread(_map, a, b, boxes, max_side)
    return ChangeMap(png, stats, before_id, after_id, boxes, source)


def turn_for_path(store: ProjectStore, path: Path) -> int | None:
    """The turn whose image file is ``path`` (sync; a small indexed query)."""
    try:
        rel = Path(path).resolve().relative_to(store.path.resolve()).as_posix()
    except (ValueError, OSError):
        return None
    return variants.turn_of_path(store, rel)
