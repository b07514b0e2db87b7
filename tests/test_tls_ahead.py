"""TLS contexts made ahead on another core (engine/tls_ahead.py): they are the SDK's own contexts, the
SDK does not build them again, and where they could differ from the SDK's they are not used."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from banana_studio.engine import tls_ahead
from banana_studio.engine.runner import ApiTarget

CERT_ENV = ("SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    tls_ahead.reset_for_tests()
    yield
    tls_ahead.reset_for_tests()


def _client(**kw: Any) -> Any:
    return ApiTarget(api_key="k-tls-ahead", base_url="http://127.0.0.1:9", **kw)._new_client(stream=True)


def _contexts(client: Any) -> tuple[ssl.SSLContext, ssl.SSLContext, ssl.SSLContext]:
    """(async httpx, sync httpx, websocket) contexts of a built ``genai.Client``."""
    api = client._api_client
    return (api._async_httpx_client_args["verify"], api._httpx_client._transport._pool._ssl_context,
            api._websocket_ssl_ctx["ssl"])


def _same(a: ssl.SSLContext, b: ssl.SSLContext) -> None:
    assert (a.protocol, a.verify_mode, a.check_hostname, a.options, a.minimum_version, a.maximum_version,
            a.verify_flags) == (b.protocol, b.verify_mode, b.check_hostname, b.options, b.minimum_version,
                                b.maximum_version, b.verify_flags)
    assert a.cert_store_stats() == b.cert_store_stats()
    assert sorted(a.get_ca_certs(binary_form=True)) == sorted(b.get_ca_certs(binary_form=True))


class _Calls:
    """Counts the calls that load a CA bundle, on the thread that builds the client."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import httpx2

        self.n = 0
        me = threading.get_ident()
        for owner, name in ((ssl, "create_default_context"), (httpx2, "create_ssl_context")):
            original = getattr(owner, name)

            def counted(*a: Any, _original: Any = original, **k: Any) -> Any:
                if threading.get_ident() == me:
                    self.n += 1
                return _original(*a, **k)

            monkeypatch.setattr(owner, name, counted)


@pytest.mark.parametrize("cert_env", ["set", "unset"])
def test_the_contexts_made_ahead_are_the_sdks_own(monkeypatch: pytest.MonkeyPatch, cert_env: str) -> None:
    if cert_env == "unset":  # the httpx2 path: its system trust store (httpcore2.default_ssl_context)
        for name in CERT_ENV:
            monkeypatch.delenv(name, raising=False)
    else:  # the SSL_CERT_FILE / SSL_CERT_DIR path
        bundle = ssl.get_default_verify_paths().openssl_cafile
        monkeypatch.setenv("SSL_CERT_FILE", bundle)
        monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    sdk_own = _contexts(_client())  # not started: the SDK builds its own
    tls_ahead.start()
    made = tls_ahead.take()
    assert made is not None and made.backend == "httpx2"
    calls = _Calls(monkeypatch)
    ours = _contexts(_client())
    assert calls.n == 0, "the SDK loaded a CA bundle again"
    assert ours[0] is made.httpx and ours[1] is made.httpx and ours[2] is made.websocket
    for mine, theirs in zip(ours, sdk_own, strict=True):
        _same(mine, theirs)


def test_an_other_backend_or_a_changed_environment_leaves_the_sdk_to_build_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tls_ahead.start()
    made = tls_ahead.take()
    assert made is not None
    monkeypatch.setenv("SSL_CERT_DIR", "/nonexistent-changed-after-start")
    assert tls_ahead.take() is None
    assert made.httpx not in _contexts(_client())
    monkeypatch.undo()
    tls_ahead.reset_for_tests()
    monkeypatch.setenv("GOOGLE_GENAI_HTTP_CLIENT", "httpx")
    assert tls_ahead.build() is None


def test_off_switch_and_vertex_targets_do_not_use_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANANA_STUDIO_TLS_AHEAD", "off")
    tls_ahead.start()
    assert tls_ahead.take() is None
    monkeypatch.delenv("BANANA_STUDIO_TLS_AHEAD")
    tls_ahead.start()
    made = tls_ahead.take()
    assert made is not None
    built: list[dict[str, Any]] = []
    monkeypatch.setattr("google.genai.Client", lambda **kw: built.append(kw))
    monkeypatch.setattr("banana_studio.engine.vertex.client_kwargs", lambda setup: {"vertexai": True})
    ApiTarget(api_key="k", base_url="http://127.0.0.1:9")._new_client(stream=True)
    ApiTarget(api_key="k", vertex=True, vertex_setup=_VertexReady())._new_client(stream=True)
    gemini, vertex = (kw["http_options"] for kw in built)
    assert gemini.client_args == {"verify": made.httpx}
    assert gemini.async_client_args["ssl"] is made.websocket and "event_hooks" in gemini.async_client_args
    assert vertex.client_args is None and "ssl" not in vertex.async_client_args  # may carry a client cert


class _VertexReady:
    error = None
