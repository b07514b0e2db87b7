"""The Gemini engine: build requests, stream one turn as typed events, map errors, estimate cost.

No Textual here; google-genai is imported lazily (first request), never at import time.
"""

from banana_studio.engine.cost import actual_cost, estimate_cost
from banana_studio.engine.errors import map_error, retry_delay_of
from banana_studio.engine.request import build_request, request_size, sniff_image_mime, validate_request
from banana_studio.engine.runner import ApiTarget, TurnAssembler, run_turn

__all__ = [
    "ApiTarget",
    "TurnAssembler",
    "actual_cost",
    "build_request",
    "estimate_cost",
    "map_error",
    "request_size",
    "retry_delay_of",
    "run_turn",
    "sniff_image_mime",
    "validate_request",
]
