"""Generation settings and their validation (pure)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from banana_studio.domain.catalogue import DEFAULT_MODEL, bare_model_id, get_model

MAX_REFERENCES = 14
MAX_REQUEST_BYTES = 100 * 1024 * 1024
"""Inline request limit, measured on the base64-encoded request: 100 MB since January 2026 (Google
blog "Increased file size limits and expanded inputs support in Gemini API"; it was 20 MB before)."""
REQUEST_WARN_FRACTION = 0.8
"""The studio warns once the next request reaches this share of :data:`MAX_REQUEST_BYTES`."""
THINKING_LEVELS = ("", "MINIMAL", "LOW", "MEDIUM", "HIGH")


def thinking_levels_for(model: str) -> tuple[str, ...]:
    """The thinking levels to offer for ``model`` ("" = model default first)."""
    spec = get_model(model)
    if not spec.thinking_optional:
        return ("",)
    return ("", *spec.thinking_levels) if spec.thinking_levels else THINKING_LEVELS


@dataclass(slots=True)
class GenerationSettings:
    model: str = DEFAULT_MODEL
    aspect_ratio: str = "1:1"
    image_size: str = "1K"
    include_thoughts: bool = True
    google_search: bool = False
    temperature: float | None = None
    seed: int | None = None
    system_instruction: str = ""
    thinking_level: str = ""
    """Empty = model default.  Only models with ``thinking_optional`` accept a level."""
    image_only: bool = False
    """responseModalities = ["IMAGE"] instead of ["TEXT", "IMAGE"]."""
    image_search: bool = False
    """With ``google_search``: also search images (3.1 Flash Image family; ``searchTypes.imageSearch``)."""
    replay_drafts: bool = True
    """Replay the draft (thought) images of earlier turns in the branch history.  Off: they are left out
    of the request (much smaller; the signed final image and text stay)."""
    output_mime_type: str = ""
    """Vertex AI only: image/png or image/jpeg ("" = the model's choice)."""
    output_quality: int | None = None
    """Vertex AI only: JPEG compression quality 0-100."""
    person_generation: str = ""
    """Vertex AI only: ALLOW_ALL | ALLOW_ADULT | ALLOW_NONE ("" = the default)."""
    region: dict[str, Any] = field(default_factory=dict)
    """A region edit (``{}`` = none): :class:`banana_studio.domain.region.RegionSpec` as JSON — the boxes,
    protect outside, feather, outpaint.  Part of the recipe, so re-roll and fork replay it."""

    def __post_init__(self) -> None:
        # One place for every way a model id arrives (flags, config, templates, prompts files, old turns).
        if isinstance(self.model, str):
            self.model = bare_model_id(self.model)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any] | None) -> GenerationSettings:
        obj = obj or {}
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})

    def copy(self, **changes: Any) -> GenerationSettings:
        data = self.to_json()
        data.update(changes)
        return GenerationSettings.from_json(data)


OUTPUT_MIME_TYPES = ("image/png", "image/jpeg")
PERSON_GENERATION = ("ALLOW_ALL", "ALLOW_ADULT", "ALLOW_NONE")
VERTEX_ONLY_SETTINGS = ("output_mime_type", "output_quality", "person_generation")
"""Image options only Vertex AI accepts (google-genai refuses them for the Gemini API)."""


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    message: str
    fatal: bool = True


def validate_settings(s: GenerationSettings) -> list[Problem]:
    """Everything wrong with ``s`` for its model.  Non-fatal problems are warnings."""
    spec = get_model(s.model)
    out: list[Problem] = []
    if not s.model.strip():
        out.append(Problem("model", "Model id is empty."))
    if not spec.known:
        out.append(Problem("model", f"{spec.note} ({s.model})", fatal=False))
    if s.aspect_ratio not in spec.aspect_ratios:
        out.append(Problem("aspect_ratio",
                           f"{spec.label} does not support aspect ratio {s.aspect_ratio}; "
                           f"choose one of {', '.join(spec.aspect_ratios)}."))
    if s.image_size not in spec.sizes:
        # The case hint only when the uppercase spelling is one this model has ("2k" → "2K").
        hint = (f" (write it {s.image_size.upper()}, with an uppercase K)"
                if s.image_size.upper() in spec.sizes else "")
        out.append(Problem("image_size",
                           f"{spec.label} does not support size {s.image_size}{hint}; "
                           f"choose one of {', '.join(spec.sizes)}."))
    if s.google_search and not spec.supports_search:
        out.append(Problem("google_search", f"{spec.label} does not support Google Search grounding."))
    if s.temperature is not None and not (0.0 <= s.temperature <= 2.0):
        out.append(Problem("temperature", "Temperature must be between 0.0 and 2.0."))
    if s.seed is not None and not (0 <= s.seed < 2**31):
        out.append(Problem("seed", "Seed must be an integer between 0 and 2147483647."))
    if s.thinking_level and s.thinking_level.upper() not in THINKING_LEVELS:
        out.append(Problem("thinking_level", f"Unknown thinking level {s.thinking_level!r}."))
    if s.output_mime_type and s.output_mime_type not in OUTPUT_MIME_TYPES:
        out.append(Problem("output_mime_type", f"Output type must be one of {', '.join(OUTPUT_MIME_TYPES)}."))
    if s.output_quality is not None and not (0 <= s.output_quality <= 100):
        out.append(Problem("output_quality", "Output quality must be between 0 and 100."))
    if s.output_quality is not None and s.output_mime_type != "image/jpeg":
        out.append(Problem("output_quality", "Output quality applies to JPEG only: also ask for image/jpeg."))
    if s.person_generation and s.person_generation.upper() not in PERSON_GENERATION:
        out.append(Problem("person_generation", f"Person generation must be one of {', '.join(PERSON_GENERATION)}."))
    if s.thinking_level and not spec.thinking_optional:
        out.append(Problem("thinking_level",
                           f"{spec.label} always thinks; its thinking level cannot be set."))
    elif s.thinking_level and s.thinking_level.upper() in THINKING_LEVELS and spec.thinking_levels \
            and s.thinking_level.upper() not in spec.thinking_levels:
        out.append(Problem("thinking_level",
                           f"{spec.label} accepts thinking level {' or '.join(spec.thinking_levels).lower()} only, "
                           f"not {s.thinking_level.lower()}."))
    if s.image_search and not spec.image_search:
        out.append(Problem("image_search", f"{spec.label} does not support Google image search."))
    return out
