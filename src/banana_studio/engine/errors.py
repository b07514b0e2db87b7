"""Turn every failure into an :class:`EngineError` with a clear, actionable, key-free message.

No google-genai import here: SDK exceptions are recognised by duck typing (``code``/``status``/
``details``) so this module stays cheap to import.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from banana_studio.config import redact
from banana_studio.domain.catalogue import DEFAULT_MODEL
from banana_studio.domain.events import EngineError

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
SET_KEY_HINT = "set GOOGLE_API_KEY (or GEMINI_API_KEY) or run `banana-studio config --set-key`"
_MAX_DETAIL = 2000
_TRANSPORT_MODULES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "h11", "h2", "aiohttp", "anyio"})


def _error_body(exc: BaseException) -> dict[str, Any]:
    details = getattr(exc, "details", None)
    if isinstance(details, dict):
        inner = details.get("error", details)
        if isinstance(inner, dict):
            return inner
    return {}


def _detail_items(exc: BaseException) -> list[dict[str, Any]]:
    items = _error_body(exc).get("details")
    return [d for d in items if isinstance(d, dict)] if isinstance(items, list) else []


def _parse_duration(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*s?\s*", value)
        if m:
            return float(m.group(1))
    if isinstance(value, dict):  # proto Duration as {"seconds": .., "nanos": ..}
        try:
            return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9
        except (TypeError, ValueError):
            return None
    return None


def retry_delay_of(exc: BaseException) -> float | None:
    """``google.rpc.RetryInfo.retryDelay`` of an API error, in seconds, if the server sent one."""
    for item in _detail_items(exc):
        if str(item.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = _parse_duration(item.get("retryDelay", item.get("retry_delay")))
            if delay is not None and delay >= 0:
                return delay
    return None


def _reason(exc: BaseException) -> str:
    for item in _detail_items(exc):
        if str(item.get("@type", "")).endswith("google.rpc.ErrorInfo") and item.get("reason"):
            return str(item["reason"])
    return ""


def _quota_ids(exc: BaseException) -> list[str]:
    out: list[str] = []
    for item in _detail_items(exc):
        if str(item.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            for v in item.get("violations") or []:
                if isinstance(v, dict) and v.get("quotaId"):
                    out.append(str(v["quotaId"]))
    return out


def _is_api_error(exc: BaseException) -> bool:
    return isinstance(getattr(exc, "code", None), int) and hasattr(exc, "details") and hasattr(exc, "status")


def _api_message(exc: BaseException) -> str:
    msg = getattr(exc, "message", None) or _error_body(exc).get("message") or ""
    return " ".join(str(msg).split())


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _class_path(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}"


def map_error(exc: BaseException, *, model: str = "", secrets: list[str] | None = None, mid_stream: bool = False,
              timeout_seconds: float | None = None, vertex: bool = False) -> EngineError:
    """Map any exception raised while talking to the API to a user-facing :class:`EngineError`.

    ``mid_stream``: the failure happened after part of the answer had arrived (it may be billed; the
    engine does not retry it silently, but the error is marked retryable so the UI can offer it).
    """
    err = None
    if vertex and _is_api_error(exc) and not mid_stream:  # Vertex AI wording: engine/vertex.py
        from banana_studio.engine.vertex import api_error

        err = api_error(int(getattr(exc, "code", 0) or 0), str(getattr(exc, "status", "") or ""), _api_message(exc),
                        _reason(exc), model=model or DEFAULT_MODEL)
    if err is None:
        err = _map(exc, model=model or DEFAULT_MODEL, mid_stream=mid_stream, timeout_seconds=timeout_seconds)
        if vertex:
            err.message = err.message.replace("the Gemini API", "Vertex AI")
    err.message = redact(err.message, secrets)
    err.args = (err.message,)
    raw = err.detail or f"{type(exc).__name__}: {exc}"
    err.detail = redact(raw, secrets)[:_MAX_DETAIL]
    return err


def _map(exc: BaseException, *, model: str, mid_stream: bool, timeout_seconds: float | None) -> EngineError:
    if isinstance(exc, EngineError):
        return EngineError(exc.kind, exc.message, status=exc.status, retryable=exc.retryable, detail=exc.detail)
    if _is_api_error(exc):
        return _map_api_error(exc, model=model, mid_stream=mid_stream)
    cls = _class_path(exc)
    name = type(exc).__name__
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or "Timeout" in name:
        limit = f" within {timeout_seconds:g} s" if timeout_seconds else ""
        if mid_stream:
            return EngineError("timeout", f"The image stream stalled: no data arrived{limit}. Part of the answer "
                               "was received; retry to generate it again.", retryable=True)
        return EngineError("timeout", f"No answer from the API{limit} (timeout). 4K images can take several "
                           "minutes: raise network.timeout_seconds in the config, or retry.", retryable=True)
    if name == "UnknownApiResponseError" or "parse response as json" in str(exc).lower():
        return EngineError("malformed", "The API sent a malformed response (not valid JSON). Retry; if it persists, "
                           "report it.", retryable=True)
    if cls.split(".")[0] in _TRANSPORT_MODULES or isinstance(exc, (ConnectionError, OSError)):
        text = _shorten(str(exc) or name, 200)
        if mid_stream:
            return EngineError("truncated", "The connection dropped before the image was complete "
                               f"({text}). Retry to generate it again.", retryable=True)
        return EngineError("network", f"Could not reach the Gemini API ({text}). Check your internet connection, "
                           "proxy, or the configured base_url, then retry.", retryable=True)
    if isinstance(exc, json.JSONDecodeError) or cls.startswith("pydantic") or "binascii" in cls \
            or (isinstance(exc, ValueError) and "base64" in str(exc).lower()):
        what = "image data that is not valid base64" if "base64" in str(exc).lower() else "data the SDK cannot parse"
        return EngineError("malformed", f"The API sent a malformed response ({what}). Retry; if it persists, "
                           "report it.", retryable=True)
    if isinstance(exc, ValueError) and "api key" in str(exc).lower():
        return EngineError("bad_key", f"No API key was given: {SET_KEY_HINT}, or use demo mode (--demo).")
    return EngineError("unknown", f"Unexpected error: {name}: {_shorten(str(exc), 200)}", retryable=True)


def _map_api_error(exc: BaseException, *, model: str, mid_stream: bool) -> EngineError:
    code: int = getattr(exc, "code", 0) or 0
    status = str(getattr(exc, "status", "") or "")
    msg = _api_message(exc)
    short = _shorten(msg, 240)
    reason = _reason(exc)
    low = msg.lower()
    if mid_stream:
        return EngineError("stream_error", f"The API reported an error in the middle of the answer ({code} {status}: "
                           f"{short}). Part of the answer was received; retry to generate it again.",
                           status=code, retryable=True)
    if reason == "API_KEY_INVALID" or "api key not valid" in low or "api_key_invalid" in low:
        return EngineError("bad_key", "Your API key was rejected by Google (API_KEY_INVALID). Check it, then "
                           f"{SET_KEY_HINT}.", status=code)
    if code == 400:
        if "thought_signature" in low or "thought signature" in low:
            return EngineError("missing_signature", f"The API rejected the replayed history: {short} A thought "
                               "signature was missing or invalid (history from another model, key or server?). "
                               "Continue from the image alone (a new thread with the image as a reference), start "
                               "a new branch, or fork from an earlier turn.", status=code)
        return EngineError("invalid_request", f"The API rejected the request as invalid: {short}", status=code)
    if code in (401, 403):
        hint = ("No API key was sent: " + SET_KEY_HINT + ".") if "unregistered callers" in low else (
            "The key may be restricted, disabled (e.g. reported as leaked) or its project lacks access to the "
            "Gemini API; check it at https://aistudio.google.com/apikey.")
        return EngineError("permission", f"Permission denied ({code} {status or 'PERMISSION_DENIED'}): {short} {hint}",
                           status=code)
    if code == 404:
        failed = model.removeprefix("models/")
        if failed == DEFAULT_MODEL:
            hint = ("Check the model id in the settings, or see the available models at "
                    "https://ai.google.dev/gemini-api/docs/models.")
        else:
            hint = f"Use {DEFAULT_MODEL} (Nano Banana Pro)."
        return EngineError("not_found", f"The model {model!r} was not found: it may be retired or misspelled. "
                           f"{hint}", status=code)
    if code == 429:
        delay = retry_delay_of(exc)
        wait = f" Google asks to retry after {delay:g} s." if delay is not None else ""
        quota = _quota_ids(exc)
        which = f" ({', '.join(quota)})" if quota else ""
        free_tier = "free_tier" in low or any("freetier" in q.lower().replace("-", "").replace("_", "") for q in quota)
        free = (" The free tier has no image-generation quota: image models need a project with billing."
                if free_tier else "")
        return EngineError("quota", f"Quota exhausted (429 RESOURCE_EXHAUSTED){which}.{wait}{free}",
                           status=code, retryable=True)
    if code in (408, 504):
        return EngineError("timeout", f"The API timed out ({code} {status}). Large images can take minutes; retry.",
                           status=code, retryable=True)
    if code == 503:
        return EngineError("overloaded", f"The model is overloaded (503 {status or 'UNAVAILABLE'}): {short} "
                           "Retry in a minute.", status=code, retryable=True)
    if code >= 500:
        return EngineError("server", f"Google's server failed ({code} {status}): {short} This is usually "
                           "transient; retry.", status=code, retryable=True)
    return EngineError("unknown", f"The API answered {code} {status}: {short}", status=code,
                       retryable=code in RETRYABLE_STATUS)


# -- finish reasons -------------------------------------------------------------------------------

def finish_error(finish_reason: str, finish_message: str, *, answer_text: str = "") -> EngineError:
    """The error for a turn that finished without an image."""
    fm = f" The API said: {_shorten(finish_message, 300)}" if finish_message else ""
    fr = finish_reason or "STOP"
    if fr == "IMAGE_SAFETY" or fr == "SAFETY":
        return EngineError("safety", f"The image was blocked by Google's safety filter ({fr}).{fm} "
                           "Rephrase the prompt or change the references.", retryable=True)
    if fr in ("IMAGE_PROHIBITED_CONTENT", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"):
        return EngineError("prohibited", f"The request was refused as prohibited content ({fr}).{fm} "
                           "Change the prompt or references.")
    if fr == "MISSING_THOUGHT_SIGNATURE":
        return EngineError("missing_signature", f"The API says the history is missing a thought signature ({fr}).{fm} "
                           "Start a new branch or fork from an earlier turn.")
    if fr in ("IMAGE_RECITATION", "RECITATION"):
        return EngineError("no_image", f"No image: the result was too close to existing material ({fr}).{fm} "
                           "Rephrase the prompt.", retryable=True)
    if fr == "IMAGE_OTHER":
        return EngineError("no_image", f"No image was produced (IMAGE_OTHER).{fm} Try again or rephrase.",
                           retryable=True)
    if fr == "NO_IMAGE":
        return EngineError("no_image", f"The model produced no image (NO_IMAGE).{fm} Try again, or ask more "
                           "explicitly for an image.", retryable=True)
    if fr == "MAX_TOKENS":
        return EngineError("no_image", f"The answer hit the token limit before an image was produced.{fm}",
                           retryable=True)
    if answer_text.strip():
        return EngineError("no_image", "The model answered with text only, no image: "
                           f"“{_shorten(answer_text, 240)}” Try again or rephrase as an image request.",
                           retryable=True)
    return EngineError("no_image", f"The model returned no image ({fr}).{fm} Try again.", retryable=True)


def blocked_error(block_reason: str, message: str = "") -> EngineError:
    extra = f" {_shorten(message, 200)}" if message else ""
    return EngineError("blocked", f"The prompt was blocked before generation ({block_reason}).{extra} "
                       "Rephrase the prompt or change the references.")
