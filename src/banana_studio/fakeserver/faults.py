"""Fault names, their parsing from headers / prompt tags, and Google-shaped error bodies."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

FAULTS: dict[str, str] = {
    "bad_key": "400 INVALID_ARGUMENT, ErrorInfo reason API_KEY_INVALID",
    "permission": "403 PERMISSION_DENIED",
    "not_found": "404 NOT_FOUND for the requested model",
    "quota": "429 RESOURCE_EXHAUSTED with QuotaFailure (+ RetryInfo if retry_delay=SECONDS is given; "
             "free_tier=1: the free tier's limit-0 image quota)",
    "server": "500 INTERNAL",
    "overloaded": "503 UNAVAILABLE 'The model is overloaded. Please try again later.'",
    "high_demand": "503 UNAVAILABLE 'This model is currently experiencing high demand. ...' (the newer wording)",
    "slow": "wait seconds=S (default 5) before answering normally",
    "hang": "accept the request, send nothing for seconds=S (default 120), then close the connection",
    "stream_error": "200, a few events, then a data: {\"error\": {...503...}} event (non-stream: plain 503)",
    "truncated": "200, thought events, then the connection closes without a final event (non-stream: body cut)",
    "malformed_json": "an SSE event (non-stream: the body) that is not valid JSON",
    "bad_base64": "the final image data is not valid base64",
    "image_safety": "content {role: model} + finishReason IMAGE_SAFETY + finishMessage",
    "image_prohibited": "content {role: model} + finishReason IMAGE_PROHIBITED_CONTENT + finishMessage",
    "no_image": "content {} + finishReason NO_IMAGE",
    "blocked_prompt": "no candidates; promptFeedback.blockReason PROHIBITED_CONTENT",
    "parts_null": "content {role: model, parts: null} + finishReason STOP",
    "candidates_null": "\"candidates\": null",
    "text_base64": "the final image arrives as a text part holding base64",
    "empty_signature": "the final image carries thoughtSignature \"\"",
    "text_only": "the model answers with text only (no image), finishReason STOP",
    "region_leak": "a region edit also changes the picture outside its boxes (a colour drift and a stroke "
                   "across the edge), like the leaky edits users report",
    # hostile servers (shaped in fakeserver/hostile.py)
    "key_echo": "the API key sent comes back in field=finish_message|block_message|model_version|response_id|"
                "grounding|thought|answer|usage|part_field|all (default all)",
    "hostile_text": "thoughts, answer, finishMessage, modelVersion, grounding carry terminal escapes, C1, bidi "
                    "overrides and a lone surrogate",
    "lying_image": "the final image is kind=svg|html|text_png|truncated_jpeg|random (mb=N, default 100)|huge",
    "bad_unicode": "IMAGE_SAFETY with a lone surrogate in finishMessage",
}

ERROR_FAULTS = frozenset({"bad_key", "permission", "not_found", "quota", "server", "overloaded", "high_demand"})
"""Faults that answer with an HTTP error status (the others shape a 200 answer or the timing)."""

_TAG_RE = re.compile(r"\[fault:([a-z0-9_]+)((?:;[A-Za-z0-9_]+=[^;\]\s]*)*)\]")


@dataclass(slots=True)
class Fault:
    name: str
    params: dict[str, str] = field(default_factory=dict)

    def num(self, key: str, default: float | None = None) -> float | None:
        raw = self.params.get(key)
        if raw is None or raw == "":
            return default
        try:
            return float(raw.removesuffix("s"))
        except ValueError:
            return default


def parse_spec(text: str) -> Fault | None:
    """``name;param=value;...`` (the x-fake-fault header form).  Unknown names give None."""
    bits = [b.strip() for b in text.split(";") if b.strip()]
    if not bits or bits[0] not in FAULTS:
        return None
    params: dict[str, str] = {}
    for bit in bits[1:]:
        k, _, v = bit.partition("=")
        params[k.strip()] = v.strip()
    return Fault(bits[0], params)


def find_tag(text: str) -> tuple[Fault | None, str]:
    """The first ``[fault:name;k=v]`` tag in ``text`` and the text with every tag removed."""
    fault: Fault | None = None
    m = _TAG_RE.search(text)
    if m:
        fault = parse_spec(m.group(1) + m.group(2))
    cleaned = _TAG_RE.sub("", text).strip() if m else text
    return fault, cleaned


def format_delay(seconds: float) -> str:
    """Google's Duration JSON: ``"1.5s"``, ``"2s"``."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


# ---------------------------------------------------------------------------------------------
# Error bodies
# ---------------------------------------------------------------------------------------------

STATUS_TEXT = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
               500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class ApiError(Exception):
    """An error answered as Google's JSON error body."""

    def __init__(self, code: int, message: str, status: str | None = None,
                 details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_TEXT.get(code, "UNKNOWN")
        self.details = details

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


def invalid(message: str, field_path: str | None = None) -> ApiError:
    details = None
    if field_path:
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": field_path, "description": message}]}]
    return ApiError(400, message, details=details)


def bad_key_error() -> ApiError:
    msg = "API key not valid. Please pass a valid API key."
    return ApiError(400, msg, details=[
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": msg},
    ])


def missing_key_error() -> ApiError:
    return ApiError(403, "Method doesn't allow unregistered callers (callers without established identity). "
                         "Please use API Key or other form of API consumer identity to call this API.")


def permission_error() -> ApiError:
    return ApiError(403, "Permission denied: Consumer 'api_key:<redacted>' has been suspended.", details=[
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_SUSPENDED",
         "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com",
                                                  "consumer": "projects/000000000000"}},
    ])


def not_found_error(model: str, version: str, method: str = "generateContent") -> ApiError:
    return ApiError(404, f"models/{model} is not found for API version {version}, or is not supported for "
                         f"{method}. Call ListModels to see the list of available models and their "
                         "supported methods.")


def quota_error(model: str, retry_delay: float | None, *, free_tier: bool = False) -> ApiError:
    metric, limit, quota_id = ("generate_requests_per_model", "20", "GenerateRequestsPerMinutePerProjectPerModel")
    if free_tier:  # a key without billing: image models have no free quota at all
        metric, limit, quota_id = ("generate_content_free_tier_requests", "0",
                                   "GenerateRequestsPerDayPerProjectPerModel-FreeTier")
    msg = ("You exceeded your current quota, please check your plan and billing details. For more information "
           "on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current "
           "usage, head to: https://ai.dev/rate-limit. \n* Quota exceeded for metric: "
           f"generativelanguage.googleapis.com/{metric}, limit: {limit}, model: " + model)
    if retry_delay is not None:
        msg += f"\nPlease retry in {format_delay(retry_delay)}."
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.Help",
         "links": [{"description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}]},
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                         "quotaId": quota_id,
                         "quotaDimensions": {"location": "global", "model": model},
                         "quotaValue": limit}]},
    ]
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format_delay(retry_delay)})
    return ApiError(429, msg, details=details)


def server_error() -> ApiError:
    return ApiError(500, "An internal error has occurred. Please retry or report in "
                         "https://developers.generativeai.google/guide/troubleshooting")


def overloaded_error() -> ApiError:
    return ApiError(503, "The model is overloaded. Please try again later.")


def high_demand_error() -> ApiError:
    return ApiError(503, "This model is currently experiencing high demand. Spikes in demand are usually "
                         "temporary. Please try again later.")


def error_for_fault(fault: Fault, model: str, version: str) -> ApiError | None:
    """The HTTP error a fault answers with, or None for faults that shape a 200 response."""
    name = fault.name
    if name == "bad_key":
        return bad_key_error()
    if name == "permission":
        return permission_error()
    if name == "not_found":
        return not_found_error(model, version)
    if name == "quota":
        return quota_error(model, fault.num("retry_delay"), free_tier=bool(fault.num("free_tier", 0)))
    if name == "server":
        return server_error()
    if name == "overloaded":
        return overloaded_error()
    if name == "high_demand":
        return high_demand_error()
    return None
