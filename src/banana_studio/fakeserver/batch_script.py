"""``POST /_fake/batch``: script the local server's rude batch side over HTTP (for ``serve-fake`` users;
tests set the same :class:`~banana_studio.fakeserver.batch.BatchStore` fields directly).

Body (every key optional)::

    {"outcome": "failed" | "expired" | "succeeded",  # how the next created job ends
     "message": "...", "code": 13,                   # the FAILED job's error
     "status_errors": [503, 500],                    # answered to the next status checks, in order
     "download_errors": [503],                       # the same for result downloads
     "download_cut": 3000,                           # every download closes after that many bytes (null: off)
     "cancel_polls": 2}                              # after a cancel, still RUNNING for that many checks
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.fakeserver.batch import BatchStore

HTTP_ERRORS = frozenset({400, 403, 404, 408, 429, 500, 502, 503, 504})


def _codes(body: dict[str, Any], key: str) -> list[int] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, int) and c in HTTP_ERRORS for c in value):
        raise ValueError(f"{key} must be a list of HTTP error codes ({', '.join(map(str, sorted(HTTP_ERRORS)))}).")
    return list(value)


def _count(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} must be a whole number >= 0.")
    return value


def apply(store: BatchStore, body: Any) -> dict[str, Any]:
    """Validate everything first, then change the store; returns what is now scripted."""
    if not isinstance(body, dict):
        raise ValueError("The body must be a JSON object.")
    unknown = sorted(set(body) - {"outcome", "message", "code", "status_errors", "download_errors", "download_cut",
                                  "cancel_polls"})
    if unknown:
        raise ValueError(f"Unknown key(s): {', '.join(unknown)}.")
    outcome = body.get("outcome")
    if outcome is not None and outcome not in ("failed", "expired", "succeeded"):
        raise ValueError("outcome must be failed, expired or succeeded.")
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise ValueError("message must be a string.")
    code = _count(body, "code")
    status, downloads = _codes(body, "status_errors"), _codes(body, "download_errors")
    cancel_polls = _count(body, "cancel_polls")
    cut = _count(body, "download_cut") if "download_cut" in body else -1
    if outcome == "failed":
        store.fail_next(**{k: v for k, v in (("message", message), ("code", code)) if v is not None})
    elif outcome == "expired":
        store.expire_next()
    elif outcome == "succeeded":
        store.outcome, store.outcome_error = "SUCCEEDED", None
    if status is not None:
        store.status_errors = status
    if downloads is not None:
        store.download_errors = downloads
    if cut != -1:
        store.download_cut = cut
    if cancel_polls is not None:
        store.cancel_polls = cancel_polls
    return {"outcome": store.outcome.lower(), "status_errors": store.status_errors,
            "download_errors": store.download_errors, "download_cut": store.download_cut,
            "cancel_polls": store.cancel_polls}
