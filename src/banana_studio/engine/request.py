"""Request validation (pure) and request building (google-genai imported lazily)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.content import Content, Part
from banana_studio.domain.imagetype import sniff_image_mime
from banana_studio.domain.settings import (
    MAX_REQUEST_BYTES,
    REQUEST_WARN_FRACTION,
    GenerationSettings,
    validate_settings,
)
from banana_studio.domain.words import too_many_references

if TYPE_CHECKING:  # pragma: no cover
    from google.genai import types

API_VERSION = "v1beta"
_JSON_OVERHEAD_PER_PART = 64


def _b64_len(n: int) -> int:
    return 4 * ((n + 2) // 3)


def replay_content(c: Content, *, drafts: bool = True) -> Content:
    """``c`` as it is sent back in a later request's history.

    * A closing empty text part (``{"text": ""}``, the last event of a real stream) is not a part of
      its own: the API answers 400 "empty text parameter".  A signature riding on it belongs to the
      part before it, so it moves there (if that part has none); otherwise the part is kept as is.
    * ``drafts=False`` leaves out draft (thought) images; they never carry signatures.
    Every other part is sent exactly as received (signed parts are never merged or changed)."""
    if c.role != "model":
        return c
    parts: list[Part] = []
    for p in c.parts:
        if not drafts and p.thought and (p.data is not None or p.blob is not None or p.mime_type is not None):
            continue
        if p.text == "" and not p.thought and p.mime_type is None and p.data is None and not p.extra:
            if p.thought_signature is None:
                continue
            prev = parts[-1] if parts else None
            if prev is not None and prev.thought_signature is None and not prev.thought:
                parts[-1] = Part(prev.text, prev.thought, p.thought_signature, prev.mime_type, prev.data,
                                 prev.blob, dict(prev.extra))
                continue
        parts.append(p)
    if not parts:  # nothing left to send: keep the turn's parts rather than an invalid empty content
        return c
    return Content(c.role, parts)


def replay_history(history: list[Content], settings: GenerationSettings) -> list[Content]:
    return [replay_content(c, drafts=settings.replay_drafts) for c in history]


def request_size(history: list[Content], user: Content, settings: GenerationSettings,
                 blob_size: Callable[[str], int] | None = None) -> int:
    """Approximate JSON size of the request in bytes (base64-inflated images and signatures), as it
    will be sent (after :func:`replay_history`).  ``blob_size`` sizes images held as blob references
    (so a branch can be measured without reading its images)."""
    total = len(settings.system_instruction.encode("utf-8")) + 512
    for content in [*replay_history(history, settings), user]:
        total += contents_size([content], blob_size)
    return total


def contents_size(contents: list[Content], blob_size: Callable[[str], int] | None = None) -> int:
    """The request bytes ``contents`` add (base64-inflated images and signatures)."""
    total = 0
    for content in contents:
        for p in content.parts:
            total += _JSON_OVERHEAD_PER_PART
            if p.text:
                total += len(p.text.encode("utf-8"))
            if p.thought_signature:
                total += _b64_len(len(p.thought_signature))
            if p.data is not None:
                total += _b64_len(len(p.data))
            elif p.blob is not None and blob_size is not None:
                total += _b64_len(blob_size(p.blob))
            total += sum(len(str(v)) for v in p.extra.values())
    return total


def validate_request(history: list[Content], user: Content, settings: GenerationSettings) -> list[str]:
    """Everything that would make the request fail; empty list = OK to send."""
    out = [p.message for p in validate_settings(settings) if p.fatal]
    spec = get_model(settings.model)
    images = [p for p in user.parts if p.mime_type is not None or p.data is not None or p.blob is not None]
    if len(images) > spec.max_references:
        out.append(too_many_references(len(images), spec.label, spec.max_references))
    if not any(p.text and p.text.strip() for p in user.parts) and not images:
        out.append("The prompt is empty.")
    for i, p in enumerate(images, 1):
        if p.data is None:
            out.append(f"Reference image {i} has no bytes loaded (internal error: blob not inflated).")
        elif sniff_image_mime(p.data) is None:
            out.append(f"Reference image {i} ({p.mime_type or 'unknown type'}) is not a PNG, JPEG, WebP, GIF or "
                       "HEIC image.")
    for ci, content in enumerate(history):
        for pi, p in enumerate(content.parts):
            if p.blob is not None and p.data is None:
                out.append(f"History content {ci} part {pi} has no image bytes (internal error: blob not inflated).")
    size = request_size(history, user, settings)
    if size > MAX_REQUEST_BYTES:
        out.append(_too_big(size, history, user, settings))
    return out


MB = 1024 * 1024
WAY_ON = ("Continue from the image alone (new root whose reference is this turn's final image; the "
          "conversation is not carried over).")


def size_warning(size: int, settings: GenerationSettings | None = None) -> str:
    """The warning for a next request of ``size`` bytes ("" below :data:`REQUEST_WARN_FRACTION`)."""
    if size < MAX_REQUEST_BYTES * REQUEST_WARN_FRACTION:
        return ""
    pct = 100 * size / MAX_REQUEST_BYTES
    head = (f"Next request {size / MB:.1f} MB: over the {MAX_REQUEST_BYTES / MB:.0f} MB limit."
            if size > MAX_REQUEST_BYTES else
            f"Next request {size / MB:.1f} MB, {pct:.0f}% of the {MAX_REQUEST_BYTES / MB:.0f} MB limit.")
    drafts = " Or turn off replaying draft images (settings: replay_drafts)." \
        if settings is not None and settings.replay_drafts else ""
    return f"{head} {WAY_ON}{drafts}"


def _too_big(size: int, history: list[Content], user: Content, settings: GenerationSettings) -> str:
    """Say what actually makes the request too big: the prompt, the references or the branch history."""
    text = len(settings.system_instruction.encode("utf-8")) + sum(
        len(p.text.encode("utf-8")) for p in user.parts if p.text)
    refs = sum(_b64_len(len(p.data)) for p in user.parts if p.data is not None)
    past = request_size(history, Content(user.role, []), settings) - request_size([], Content(user.role, []),
                                                                                  settings)
    head = f"The request would be {size / MB:.1f} MB (limit {MAX_REQUEST_BYTES / MB:.0f} MB)"
    biggest = max((past, "history"), (refs, "refs"), (text, "text"))[1]
    if biggest == "text":
        return (f"{head}: the prompt text alone is {text / MB:.1f} MB. Shorten the prompt or the system "
                "instruction.")
    if biggest == "refs":
        return (f"{head}: the reference images are {refs / MB:.1f} MB once encoded. Drop some references or use "
                "smaller files.")
    return (f"{head}: the branch history re-sends every earlier image ({past / MB:.1f} MB). {WAY_ON} Or fork from "
            "an earlier turn, or drop some references.")


# -- SDK conversion ---------------------------------------------------------------------------------

def part_to_sdk(p: Part) -> types.Part:
    from google.genai import types

    data = _part_data(p)
    if p.extra:
        try:
            return types.Part.model_validate({**p.extra, **data})
        except Exception:  # unknown/foreign extra fields: send what the SDK can represent
            pass
    return types.Part.model_validate(data)


def _part_data(p: Part) -> dict[str, Any]:
    """The SDK field values of ``p`` (snake_case, bytes as bytes), without ``extra``."""
    data: dict[str, Any] = {}
    if p.text is not None:
        data["text"] = p.text
    if p.thought:
        data["thought"] = True
    if p.thought_signature is not None:
        data["thought_signature"] = p.thought_signature
    if p.mime_type is not None or p.data is not None:
        if p.data is None:
            raise ValueError("image part without bytes (inflate the content before sending)")
        data["inline_data"] = {"data": p.data, "mime_type": p.mime_type or sniff_image_mime(p.data) or "image/png"}
    return data


def content_to_sdk(c: Content) -> types.Content:
    from google.genai import types

    return types.Content(role=c.role, parts=[part_to_sdk(p) for p in c.parts])


def build_config(settings: GenerationSettings) -> types.GenerateContentConfig:
    from google.genai import types

    spec = get_model(settings.model)
    kwargs: dict[str, Any] = {
        "response_modalities": ["IMAGE"] if settings.image_only else ["TEXT", "IMAGE"],
    }
    image_cfg: dict[str, Any] = {"aspect_ratio": settings.aspect_ratio}
    if not spec.id.startswith("gemini-2.5-flash-image"):
        image_cfg["image_size"] = settings.image_size
    if settings.output_mime_type:  # Vertex AI only (refused earlier on the Gemini API)
        image_cfg["output_mime_type"] = settings.output_mime_type
    if settings.output_quality is not None:
        image_cfg["output_compression_quality"] = settings.output_quality
    if settings.person_generation:
        image_cfg["person_generation"] = settings.person_generation.upper()
    kwargs["image_config"] = types.ImageConfig(**image_cfg)
    if spec.thinks or settings.thinking_level:
        thinking: dict[str, Any] = {"include_thoughts": bool(settings.include_thoughts)}
        if settings.thinking_level:
            thinking["thinking_level"] = settings.thinking_level.upper()
        kwargs["thinking_config"] = types.ThinkingConfig(**thinking)
    if settings.temperature is not None:
        kwargs["temperature"] = settings.temperature
    if settings.seed is not None:
        kwargs["seed"] = settings.seed
    if settings.google_search:
        if settings.image_search and spec.image_search:
            search = types.GoogleSearch(search_types=types.SearchTypes(web_search=types.WebSearch(),
                                                                       image_search=types.ImageSearch()))
        else:
            search = types.GoogleSearch()
        kwargs["tools"] = [types.Tool(google_search=search)]
    if settings.system_instruction.strip():
        kwargs["system_instruction"] = settings.system_instruction
    return types.GenerateContentConfig(**kwargs)


def build_request(history: list[Content], user: Content, settings: GenerationSettings
                  ) -> tuple[list[types.Content], types.GenerateContentConfig]:
    """(contents, config) exactly as they will be sent; history first, then the new user turn."""
    contents = [content_to_sdk(c) for c in [*replay_history(history, settings), user]]
    return contents, build_config(settings)


def build_stream_request(history: list[Content], user: Content, settings: GenerationSettings
                         ) -> tuple[list[Any], types.GenerateContentConfig]:
    """Like :func:`build_request`, but contents of plain parts as the same field values in dicts: the
    SDK validates dicts into its types faster than it re-validates typed objects (about a third of
    the engine's own overhead per request, benchmarks/bench_engine.py).  Parts carrying ``extra``
    fields go through :func:`build_request` (it drops fields the SDK cannot represent)."""
    everything = [*replay_history(history, settings), user]
    if any(p.extra for c in everything for p in c.parts):
        return build_request(history, user, settings)
    contents = [{"role": c.role, "parts": [_part_data(p) for p in c.parts]} for c in everything]
    return contents, build_config(settings)
