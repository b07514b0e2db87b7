"""Cost estimate and actual cost from the catalogue prices (pure: no SDK import).

Formula (see the API reference §6.5): prompt tokens × input rate + output IMAGE tokens × image rate +
(other output tokens + thought tokens) × text rate + Google Search queries.  Interim (draft) images
are free.  All amounts in USD.
"""

from __future__ import annotations

from collections.abc import Sequence

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.events import Usage
from banana_studio.domain.settings import GenerationSettings

PROMPT_TOKENS_GUESS = 60
"""A typical prompt's text tokens (only matters for the estimate; it is a fraction of a cent)."""
THOUGHT_TOKENS_GUESS = 250
"""Typical thought-summary tokens billed for one Pro image (observed 170-250)."""


def estimate_cost(settings: GenerationSettings, n_refs: int = 0) -> float:
    """What one generation will probably cost, before sending.  A region edit (``settings.region``) also
    sends the source picture and the marked-region guide: two input images more (a new root whose first
    reference is the source sends one more; the estimate stays on the safe side)."""
    spec = get_model(settings.model)
    prices = spec.prices
    per_image = prices.per_image.get(settings.image_size)
    if per_image is None:
        tokens = spec.image_tokens.get(settings.image_size) or max(spec.image_tokens.values(), default=1120)
        per_image = tokens * prices.image_out_per_m / 1e6
    cost = per_image
    cost += (max(0, n_refs) + (2 if settings.region else 0)) * prices.input_image
    cost += PROMPT_TOKENS_GUESS * prices.input_per_m / 1e6
    if spec.thinks:
        cost += THOUGHT_TOKENS_GUESS * prices.text_out_per_m / 1e6
    if settings.google_search:
        cost += prices.search_per_1000 / 1000
    return round(cost, 6)


def billed_queries(queries: Sequence[str]) -> int:
    """Search queries that were run and billed: real answers list an empty ``""`` query too."""
    return sum(1 for q in queries if isinstance(q, str) and q.strip())


def actual_cost(settings: GenerationSettings, usage: Usage, search_queries: int | Sequence[str] = 0) -> float:
    """The billed cost of a finished (or failed-but-billed) generation from its usage metadata.
    ``search_queries``: the grounding's ``webSearchQueries`` (empty ones are not billed) or a count."""
    if not isinstance(search_queries, int):
        search_queries = billed_queries(search_queries)
    prices = get_model(settings.model).prices
    image_tokens = max(0, usage.image_tokens)
    other_out = max(0, usage.candidates_tokens - image_tokens)
    cost = usage.prompt_tokens * prices.input_per_m / 1e6
    cost += usage.tool_use_prompt_tokens * prices.input_per_m / 1e6
    cost += image_tokens * prices.image_out_per_m / 1e6
    cost += (other_out + max(0, usage.thoughts_tokens)) * prices.text_out_per_m / 1e6
    cost += max(0, search_queries) * prices.search_per_1000 / 1000
    return round(cost, 6)
