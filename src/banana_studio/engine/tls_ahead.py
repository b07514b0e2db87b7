"""The TLS contexts of the SDK's client, built ahead of time in a thread.

Building a ``genai.Client`` makes google-genai load a CA bundle twice: the context of its httpx
client and the one of its websocket connections (``BaseApiClient.__init__``).  Each is ~40-50 ms of
OpenSSL parsing certificates, and it sits on the critical path of a turn: after the SDK's import,
before the request.  OpenSSL does that parsing without the GIL, so it can run on another core while
the process imports the SDK and records the turn.  :func:`start` does that for the Gemini API (not
Vertex AI, whose context may carry a client certificate: the SDK builds that one itself), and
:func:`client_args` hands the contexts to the SDK through ``HttpOptions.client_args`` /
``async_client_args``, the SDK's public way to pass them.

The contexts are the ones the SDK would build, made by the same calls under the same conditions
(``tests/test_tls_ahead.py`` compares them with the SDK's own): the httpx2 backend's
``httpx2.create_ssl_context()`` (system trust store) or, with ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``
set, ``ssl.create_default_context`` of those; the websocket's certifi bundle unless ``SSL_CERT_FILE``
names another.  They are used only when the SDK resolves the backend they were made for; any doubt
(another backend forced, an SDK without the resolver) leaves the SDK to build its own, as does
``BANANA_STUDIO_TLS_AHEAD=off``.
"""

from __future__ import annotations

import concurrent.futures
import os
import ssl
import threading
from dataclasses import dataclass
from typing import Any

_LOCK = threading.Lock()
_FUTURE: concurrent.futures.Future[Contexts | None] | None = None
WAIT_SECONDS = 10.0
"""How long a client build waits for contexts still being made (they take ~0.1-0.3 s)."""


@dataclass(frozen=True, slots=True)
class Contexts:
    backend: str
    """The SDK's HTTP backend the httpx context was made for (``httpx2``)."""
    httpx: ssl.SSLContext
    websocket: ssl.SSLContext
    env: tuple[str | None, str | None]
    """``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when they were made: a change means they are stale."""


def _cert_env() -> tuple[str | None, str | None]:
    return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")


def build() -> Contexts | None:
    """Make the contexts the SDK would make for the Gemini API with the httpx2 backend, or ``None``
    when the SDK would not use that backend (``GOOGLE_GENAI_HTTP_CLIENT=httpx``, httpx2 missing)."""
    choice = os.environ.get("GOOGLE_GENAI_HTTP_CLIENT", "").lower().strip()
    if choice not in ("", "auto", "httpx2"):
        return None
    try:
        import certifi
        import httpx2
    except ImportError:
        return None
    cafile, capath = _cert_env()
    if cafile or capath:
        httpx_ctx = ssl.create_default_context(cafile=cafile, capath=capath)
    else:
        httpx_ctx = httpx2.create_ssl_context()
    websocket_ctx = ssl.create_default_context(cafile=cafile or certifi.where(), capath=capath)
    return Contexts("httpx2", httpx_ctx, websocket_ctx, (cafile, capath))


def _build_quietly() -> Contexts | None:
    try:
        return build()
    except Exception:  # a bad bundle etc.: the SDK builds its own and reports it
        return None


def start() -> None:
    """Begin making the contexts in a daemon thread (once per process; cheap to call again)."""
    global _FUTURE
    if os.environ.get("BANANA_STUDIO_TLS_AHEAD", "").lower() == "off":  # the SDK builds them, as before
        return
    with _LOCK:
        if _FUTURE is not None:
            return
        future: concurrent.futures.Future[Contexts | None] = concurrent.futures.Future()
        _FUTURE = future

    def work() -> None:
        future.set_result(_build_quietly())

    threading.Thread(target=work, name="tls-ahead", daemon=True).start()


def take(timeout: float = WAIT_SECONDS) -> Contexts | None:
    """The contexts made by :func:`start` (waiting for them), or ``None`` if it was not called, they
    could not be made in time, or the certificate environment changed since."""
    with _LOCK:
        future = _FUTURE
    if future is None:
        return None
    try:
        made = future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        return None
    if made is None or made.env != _cert_env():
        return None
    return made


def client_args(http_options: Any, async_args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(client_args, async_client_args)`` carrying the made contexts, for ``http_options`` of a
    Gemini API client, or ``None`` when they must not be used (the SDK then builds its own)."""
    made = take()
    if made is None:
        return None
    try:
        from google.genai import _api_client
    except ImportError:
        return None
    resolve = getattr(_api_client, "_get_http_client_backend", None)
    if resolve is None:
        return None
    try:
        backend = resolve(http_options)
    except Exception:  # the SDK will say what is wrong when it builds the client
        return None
    if backend != made.backend:
        return None
    # "verify" is httpx's context (the SDK gives both of its httpx clients the one it finds); "ssl" is
    # the context the SDK takes from async_client_args for websockets, and drops for httpx.
    return {"verify": made.httpx}, {**async_args, "verify": made.httpx, "ssl": made.websocket}


def reset_for_tests() -> None:
    global _FUTURE
    with _LOCK:
        _FUTURE = None
