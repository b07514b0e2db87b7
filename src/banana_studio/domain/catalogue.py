"""The model catalogue as data: ids, labels, aspect ratios, sizes, thinking, prices.

Update prices here (USD, paid tier, from ai.google.dev/gemini-api/docs/pricing).  Unknown model
ids are accepted everywhere: they get permissive defaults and an "unknown model" warning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Pixel sizes per aspect ratio at 1K / 2K / 4K (Gemini 3 image family).
_PRO_PIXELS: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    "1:1": ((1024, 1024), (2048, 2048), (4096, 4096)),
    "2:3": ((848, 1264), (1696, 2528), (3392, 5056)),
    "3:2": ((1264, 848), (2528, 1696), (5056, 3392)),
    "3:4": ((896, 1200), (1792, 2400), (3584, 4800)),
    "4:3": ((1200, 896), (2400, 1792), (4800, 3584)),
    "4:5": ((928, 1152), (1856, 2304), (3712, 4608)),
    "5:4": ((1152, 928), (2304, 1856), (4608, 3712)),
    "9:16": ((768, 1376), (1536, 2752), (3072, 5504)),
    "16:9": ((1376, 768), (2752, 1536), (5504, 3072)),
    "21:9": ((1584, 672), (3168, 1344), (6336, 2688)),
}
# 2.5 Flash Image: 1K only.
_FLASH25_PIXELS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
_WIDE = ("1:4", "4:1", "1:8", "8:1")
_SIZES = ("1K", "2K", "4K")
SIZE_INDEX = {"1K": 0, "2K": 1, "4K": 2}
STANDARD_RATIOS = tuple(_PRO_PIXELS)


@dataclass(frozen=True, slots=True)
class Prices:
    """USD.  ``per_image`` is the standard (interactive) price of one output image by size."""

    input_per_m: float
    text_out_per_m: float
    image_out_per_m: float
    per_image: dict[str, float]
    input_image: float = 0.0
    """Price of one input (reference) image."""
    search_per_1000: float = 14.0
    batch_discount: float = 0.5


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    label: str
    aspect_ratios: tuple[str, ...]
    sizes: tuple[str, ...]
    thinks: bool
    thinking_optional: bool
    max_references: int
    supports_search: bool
    prices: Prices
    image_tokens: dict[str, int] = field(default_factory=dict)
    known: bool = True
    note: str = ""
    thinking_levels: tuple[str, ...] = ()
    """Thinking levels the API accepts for this model (empty: the level cannot be set)."""
    image_search: bool = False
    """Google Search can also search images (``googleSearch.searchTypes.imageSearch``)."""
    verified: bool = True
    """False: the entry is not confirmed by a public Google source (see ``note``)."""

    def pixel_size(self, aspect_ratio: str, size: str) -> tuple[int, int]:
        return pixel_size(aspect_ratio, size, flash25=self.id.startswith("gemini-2.5-flash-image"))


DEFAULT_MODEL = "gemini-3-pro-image"
FLASH_IMAGE_THINKING = ("MINIMAL", "HIGH")
"""The 3.1 Flash Image family documents ``minimal`` (default) and ``high`` only
(ai.google.dev/gemini-api/docs/image-generation, "Thinking levels"); LOW/MEDIUM are rejected."""

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        id="gemini-3-pro-image",
        label="Nano Banana Pro",
        aspect_ratios=STANDARD_RATIOS,
        sizes=_SIZES,
        thinks=True,
        thinking_optional=False,
        max_references=14,
        supports_search=True,
        prices=Prices(2.00, 12.0, 120.0, {"1K": 0.134, "2K": 0.134, "4K": 0.24}, input_image=0.0011),
        image_tokens={"1K": 1120, "2K": 1120, "4K": 2000},
    ),
    ModelSpec(
        id="gemini-nano-banana-2.1",
        label="Nano Banana 2.1",
        aspect_ratios=STANDARD_RATIOS + _WIDE,
        sizes=_SIZES,
        thinks=True,
        thinking_optional=True,
        max_references=14,
        supports_search=True,
        prices=Prices(0.50, 3.0, 60.0, {"1K": 0.067, "2K": 0.101, "4K": 0.151}, input_image=0.00056),
        image_tokens={"1K": 1120, "2K": 1680, "4K": 2520},
        note="Prices assumed equal to Nano Banana 2 (3.1 Flash Image).",
        thinking_levels=FLASH_IMAGE_THINKING,
        image_search=True,
    ),
    ModelSpec(
        id="gemini-3.1-flash-image",
        label="Nano Banana 2 (deprecated)",
        aspect_ratios=STANDARD_RATIOS + _WIDE,
        sizes=("512", *_SIZES),
        thinks=True,
        thinking_optional=True,
        max_references=14,
        supports_search=True,
        prices=Prices(0.50, 3.0, 60.0, {"512": 0.045, "1K": 0.067, "2K": 0.101, "4K": 0.151}, input_image=0.00056),
        image_tokens={"512": 747, "1K": 1120, "2K": 1680, "4K": 2520},
        note="Deprecated 2026-10-06 in favour of gemini-nano-banana-2.1.",
        thinking_levels=FLASH_IMAGE_THINKING,
        image_search=True,
    ),
    ModelSpec(
        id="gemini-3.1-flash-lite-image",
        label="Nano Banana 2 Lite",
        aspect_ratios=STANDARD_RATIOS,
        sizes=("1K",),
        thinks=False,
        thinking_optional=True,
        max_references=3,
        supports_search=False,
        prices=Prices(0.25, 1.5, 30.0, {"1K": 0.0336}),
        image_tokens={"1K": 1120},
        verified=False,
        note="Unverified: no public Google model page or pricing entry was found for this id; limits and "
             "prices are guesses from the Flash Image family.",
    ),
    ModelSpec(
        id="gemini-2.5-flash-image",
        label="Nano Banana (retired)",
        aspect_ratios=STANDARD_RATIOS,
        sizes=("1K",),
        thinks=False,
        thinking_optional=True,
        max_references=3,
        supports_search=False,
        prices=Prices(0.30, 2.5, 30.0, {"1K": 0.039}),
        image_tokens={"1K": 1290},
        note="Shut down 2026-10-02 for new projects.",
    ),
)

_BY_ID = {m.id: m for m in MODELS}


MONEY_DECIMALS = 6
"""Prices are per million tokens: a token costs a few micro-dollars, so sums carry 6 decimals."""


def round_money(usd: float) -> float:
    """A sum of costs rounded to what the prices carry (no ``0.38511399999999996`` in files)."""
    return round(float(usd), MONEY_DECIMALS)


MODEL_ID_PREFIXES = ("publishers/google/models/", "models/")


def bare_model_id(model: str) -> str:
    """``models/gemini-3-pro-image`` or ``publishers/google/models/…`` → the bare id both APIs accept (on
    Vertex AI a ``models/`` id is sent as a path of its own and answered 404)."""
    mid = model.strip()
    for prefix in MODEL_ID_PREFIXES:
        if mid.startswith(prefix):
            return mid.removeprefix(prefix)
    return mid


def get_model(model_id: str) -> ModelSpec:
    """The spec for ``model_id``; any unknown id gets permissive Pro-like defaults (known=False)."""
    mid = bare_model_id(model_id)
    if mid in _BY_ID:
        return _BY_ID[mid]
    # Preview ids behave like their GA model.
    for suffix in ("-preview",):
        if mid.endswith(suffix) and mid.removesuffix(suffix) in _BY_ID:
            base = _BY_ID[mid.removesuffix(suffix)]
            return ModelSpec(**{**_spec_dict(base), "id": mid, "label": base.label + " (preview id)",
                                "known": False, "note": "Preview ids are retired; the API will likely answer 404."})
    pro = _BY_ID[DEFAULT_MODEL]
    return ModelSpec(**{**_spec_dict(pro), "id": mid, "label": mid,
                        "aspect_ratios": STANDARD_RATIOS + _WIDE, "sizes": ("512", *_SIZES),
                        "known": False, "note": "Unknown model id: limits and prices are guesses."})


def _spec_dict(spec: ModelSpec) -> dict[str, object]:
    return {f: getattr(spec, f) for f in spec.__dataclass_fields__}


def pixel_size(aspect_ratio: str, size: str, *, flash25: bool = False) -> tuple[int, int]:
    """Exact output pixel size for an aspect ratio and size label (what the real API returns)."""
    if flash25:
        return _FLASH25_PIXELS.get(aspect_ratio, (1024, 1024))
    if aspect_ratio in _PRO_PIXELS:
        if size == "512":
            w, h = _PRO_PIXELS[aspect_ratio][0]
            return (round(w / 2 / 16) * 16, round(h / 2 / 16) * 16)
        return _PRO_PIXELS[aspect_ratio][SIZE_INDEX.get(size, 0)]
    if aspect_ratio in _WIDE:
        a, b = (int(x) for x in aspect_ratio.split(":"))
        base = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}.get(size, 1024)
        # keep the pixel area close to base*base, multiples of 16
        import math

        w = math.sqrt(base * base * a / b)
        h = w * b / a
        return (int(round(w / 16) * 16), int(round(h / 16) * 16))
    return (1024, 1024)
