"""Request validation (pure) and request building (google-genai imported lazily)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from banana_studio.domain.catalogue import ModelSpec, get_model
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
            if not p.has_signature:
                continue
            prev = parts[-1] if parts else None
            if prev is not None and not prev.has_signature and not prev.thought:
                parts[-1] = Part(prev.text, prev.thought, p.thought_signature, prev.mime_type, prev.data,
                                 prev.blob, dict(prev.extra), p.signature_blob)
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
            elif p.signature_blob is not None and blob_size is not None:
                total += _b64_len(blob_size(p.signature_blob))
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


# -- the generation config: one field table for the SDK config and the REST body -------------------

@dataclass(frozen=True, slots=True)
class ConfigField:
    """One setting as it is sent.  ``path`` is the SDK's field (snake_case, nested for sub-configs);
    the REST name of each step is its camelCase form.  ``value`` is None when the field is not sent."""

    path: tuple[str, ...]
    value: Callable[[GenerationSettings, ModelSpec], Any]
    beside: bool = False
    """REST: a field of the request itself (``tools``, ``systemInstruction``), not of ``generationConfig``."""
    rest: Callable[[Any], Any] | None = None
    """The REST form of the value when it differs from the SDK's (the SDK turns a string into a Content)."""


def _tools(s: GenerationSettings, spec: ModelSpec) -> list[dict[str, Any]] | None:
    if not s.google_search:
        return None
    if s.image_search and spec.image_search:
        return [{"google_search": {"search_types": {"web_search": {}, "image_search": {}}}}]
    return [{"google_search": {}}]


def _thinks(s: GenerationSettings, spec: ModelSpec) -> bool:
    return spec.thinks or bool(s.thinking_level)


CONFIG_FIELDS: tuple[ConfigField, ...] = (
    ConfigField(("response_modalities",), lambda s, m: ["IMAGE"] if s.image_only else ["TEXT", "IMAGE"]),
    ConfigField(("image_config", "aspect_ratio"), lambda s, m: s.aspect_ratio),
    ConfigField(("image_config", "image_size"),
                lambda s, m: None if m.id.startswith("gemini-2.5-flash-image") else s.image_size),
    # Vertex AI only (refused earlier on the Gemini API):
    ConfigField(("image_config", "output_mime_type"), lambda s, m: s.output_mime_type or None),
    ConfigField(("image_config", "output_compression_quality"), lambda s, m: s.output_quality),
    ConfigField(("image_config", "person_generation"),
                lambda s, m: s.person_generation.upper() if s.person_generation else None),
    ConfigField(("thinking_config", "include_thoughts"),
                lambda s, m: bool(s.include_thoughts) if _thinks(s, m) else None),
    ConfigField(("thinking_config", "thinking_level"),
                lambda s, m: s.thinking_level.upper() if s.thinking_level else None),
    ConfigField(("temperature",), lambda s, m: s.temperature),
    ConfigField(("seed",), lambda s, m: s.seed),
    ConfigField(("tools",), _tools, beside=True),
    ConfigField(("system_instruction",),
                lambda s, m: s.system_instruction if s.system_instruction.strip() else None, beside=True,
                rest=lambda text: {"parts": [{"text": text}], "role": "user"}),
)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def _put(into: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for step in path[:-1]:
        into = into.setdefault(step, {})
    into[path[-1]] = value


def config_values(settings: GenerationSettings) -> dict[str, Any]:
    """The SDK config's field values (nested dicts, snake_case) from :data:`CONFIG_FIELDS`."""
    spec = get_model(settings.model)
    out: dict[str, Any] = {}
    for f in CONFIG_FIELDS:
        value = f.value(settings, spec)
        if value is not None:
            _put(out, f.path, value)
    return out


def build_config(settings: GenerationSettings) -> types.GenerateContentConfig:
    from google.genai import types

    return types.GenerateContentConfig(**config_values(settings))


def rest_config(settings: GenerationSettings) -> dict[str, Any]:
    """The same fields in the REST form: ``{"generationConfig": {...}, "tools": [...], "systemInstruction":
    {...}}`` (camelCase; only what is sent)."""
    spec = get_model(settings.model)
    out: dict[str, Any] = {}
    gen: dict[str, Any] = {}
    for f in CONFIG_FIELDS:
        value = f.value(settings, spec)
        if value is None:
            continue
        rest = _camel_keys(f.rest(value) if f.rest is not None else value)
        _put(out if f.beside else gen, tuple(_camel(p) for p in f.path), rest)
    return {**({"generationConfig": gen} if gen else {}), **out}


def rest_request(history: list[Content], user: Content, settings: GenerationSettings) -> dict[str, Any]:
    """A ``GenerateContentRequest`` body as JSON (what a Batch API input file line carries): contents in
    the SDK's own JSON form of its types (bytes base64), the config from :data:`CONFIG_FIELDS`."""
    contents = build_contents(history, user, settings)
    return {"contents": [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in contents],
            **rest_config(settings)}


def build_contents(history: list[Content], user: Content, settings: GenerationSettings) -> list[types.Content]:
    """The SDK contents exactly as they will be sent; history first, then the new user turn."""
    return [content_to_sdk(c) for c in [*replay_history(history, settings), user]]


def build_request(history: list[Content], user: Content, settings: GenerationSettings
                  ) -> tuple[list[types.Content], types.GenerateContentConfig]:
    """(contents, config) exactly as they will be sent; history first, then the new user turn."""
    return build_contents(history, user, settings), build_config(settings)


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
