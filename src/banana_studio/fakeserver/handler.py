"""The request handler of the fake Gemini server: routing, the API's checks, unary and streamed answers
(stdlib ``http.server``; the server object and its state live in :mod:`banana_studio.fakeserver.server`)."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import banana_studio.fakeserver.http_guard as http_guard
from banana_studio.domain.catalogue import MODELS, get_model
from banana_studio.fakeserver import answers, batch_script, hostile, protocol
from banana_studio.fakeserver.faults import (
    ERROR_FAULTS,
    FAULTS,
    ApiError,
    Fault,
    error_for_fault,
    invalid,
    overloaded_error,
    parse_spec,
)
from banana_studio.fakeserver.vertex import is_vertex_path

if TYPE_CHECKING:
    from banana_studio.fakeserver.server import FakeGemini

REDACTED = "<redacted>"
_SECRET_HEADERS = {"x-goog-api-key", "authorization", "proxy-authorization", "cookie"}
_API_RE = re.compile(r"^(?P<prefix>.*?)(?P<kind>/upload|/download)?/(?P<ver>v1|v1beta|v1alpha)/(?P<rest>.+)$")
_MODEL_CALL_RE = re.compile(r"^models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
MAX_BODY = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-case names; the API key value is replaced by ``"<redacted>"``."""
    body: Any
    """Parsed JSON, or None (empty or non-JSON body)."""
    received_at: float

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "query": self.query, "headers": self.headers,
                "body": self.body, "received_at": self.received_at}


class HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    """listen() backlog.  The stdlib default (5) overflows when many generations start at once:
    connections were reset (ReadError) or left hanging until the client timeout."""
    fake: FakeGemini

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, cancelled streams) are normal here; stay quiet about them."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.fake.stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Abort(Exception):
    """Stop handling: the connection is closed without (more) response."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HttpServer
    server_version = "FakeGemini/1.0"
    sys_version = ""
    _streaming = False

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def fake(self) -> FakeGemini:
        return self.server.fake

    def send_json(self, code: int, obj: Any, extra_headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_bytes(code, data, "application/json; charset=UTF-8", extra_headers)

    def send_bytes(self, code: int, data: bytes, ctype: str, extra_headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Vary", "Origin, X-Origin, Referer")
        for k, v in (extra_headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_json(self, err: ApiError) -> None:
        self.send_json(err.code, err.body())

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            http_guard.check_host(self.headers)
            raw = http_guard.read_body(method, self.headers, self.rfile, MAX_BODY)
            if "/_fake/" in url.path:
                http_guard.check_control(method, self.headers, self.fake.control_token)
        except http_guard.HttpError as err:
            # The rest of the request is not read: answer, then close the connection.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.send_json(err.code, err.body(), {"Connection": "close"})
                self.wfile.flush()
            http_guard.lingering_close(self.connection)
            return
        body: Any = None
        ctype = (self.headers.get("Content-Type") or "").lower()
        is_upload_bytes = "/upload/" in url.path and self.headers.get("X-Goog-Upload-Command", "").lower() != "start"
        if raw and not is_upload_bytes and ("json" in ctype or raw.lstrip()[:1] in (b"{", b"[")):
            try:
                body = json.loads(raw)
            except ValueError:
                body = _BadJson
        path = url.path
        if "/_fake/" in path:
            try:
                self._fake_route(method, path.split("/_fake/", 1)[1], body)
            except (TypeError, ValueError) as exc:
                self.send_json(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": str(exc)}})
            return
        headers = {k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        safe_query = {k: (REDACTED if k == "key" else v) for k, v in query.items()}
        self.fake.record(RecordedRequest(method, path, safe_query, headers,
                                         None if body is _BadJson else body, time.time()))
        self._streaming = False
        try:
            self._api_route(method, path, query, body, raw)
        except ApiError as err:
            if self._streaming:  # headers already sent: just end the broken stream
                self.close_connection = True
            else:
                self.send_error_json(err)
        except _Abort:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in the fake must still answer like the API would
            self.close_connection = True
            if not self._streaming:
                try:
                    self.send_error_json(ApiError(500, f"Internal error in the fake server: {type(exc).__name__}"))
                except OSError:
                    pass

    # -- control routes ------------------------------------------------------------------------
    def _fake_route(self, method: str, route: str, body: Any) -> None:
        fake = self.fake
        if route == "faults" and method == "POST":
            if not isinstance(body, dict) or body.get("name") not in FAULTS:
                self.send_json(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                               "message": f"name must be one of {', '.join(FAULTS)}"}})
                return
            params = {k: v for k, v in body.items() if k not in ("name", "count")}
            fake.inject(body["name"], int(body.get("count") or 1), **params)
            self.send_json(200, {"pending": [{"name": n, "count": c} for n, c in fake.pending_faults]})
        elif route == "faults" and method == "GET":
            self.send_json(200, {"pending": [{"name": n, "count": c} for n, c in fake.pending_faults],
                                 "faults": FAULTS})
        elif route == "batch" and method == "POST":  # the rude batch side (fakeserver/batch_script.py)
            self.send_json(200, batch_script.apply(fake.batches, body))
        elif route == "reset" and method == "POST":
            fake.reset()
            self.send_json(200, {})
        elif route == "requests" and method == "GET":
            self.send_json(200, {"requests": [r.to_json() for r in fake.requests]})
        else:
            self.send_json(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "unknown control route"}})

    # -- API routes ----------------------------------------------------------------------------
    def _api_route(self, method: str, path: str, query: dict[str, str], body: Any, raw: bytes) -> None:
        if is_vertex_path(path):  # Vertex AI REST paths (fakeserver/vertex.py)
            model, version, verb = self.fake.vertex.route(self, method, path)
            if body is _BadJson:
                raise invalid("Invalid JSON payload received. Unexpected token.")
            self._generate(model, version, body, stream=verb == "streamGenerateContent")
            return
        m = _API_RE.match(path)
        if not m:
            raise ApiError(404, f"Requested entity was not found: {path}", "NOT_FOUND")
        version, rest, kind = m.group("ver"), m.group("rest"), m.group("kind")
        key = self.headers.get("x-goog-api-key") or query.get("key") or ""
        if not (kind == "/upload" and query.get("upload_id")):  # the upload URL itself is the credential
            self.fake.check_key(key)
        if body is _BadJson:
            raise invalid("Invalid JSON payload received. Unexpected token.")
        if kind == "/upload":
            self.fake.batches.upload(self, method, version, rest, body, raw, m.group("prefix"))
            return
        if kind == "/download":
            self.fake.batches.download(self, version, rest, query)
            return
        call = _MODEL_CALL_RE.match(rest)
        if call and method == "POST":
            model, verb = call.group("model"), call.group("method")
            if verb in ("generateContent", "streamGenerateContent"):
                self._generate(model, version, body, stream=verb == "streamGenerateContent")
                return
            if verb == "batchGenerateContent":
                protocol.check_model(model, version, verb)
                fault = self._resolve_fault(None, errors_only=True)
                err = error_for_fault(fault, model, version) if fault else None
                if err is not None:
                    raise err
                self.send_json(200, self.fake.batches.create(model, body, version))
                return
            if verb == "countTokens":
                protocol.check_model(model, version, verb)
                self.send_json(200, _count_tokens(body))
                return
            raise ApiError(404, f"Method not found: {verb}", "NOT_FOUND")
        if method == "GET" and rest.rstrip("/") == "models":
            self.send_json(200, {"models": [_model_resource(s.id) for s in MODELS
                                            if s.id not in protocol.RETIRED_MODELS]})
            return
        if method == "GET" and rest.startswith("models/"):
            model = rest.removeprefix("models/")
            protocol.check_model(model, version, "get")
            self.send_json(200, _model_resource(model))
            return
        if rest.startswith(("batches", "files")):
            self.fake.batches.route(self, method, version, rest, query, body)
            return
        raise ApiError(404, f"Requested entity was not found: {path}", "NOT_FOUND")

    def _resolve_fault(self, req_fault: Fault | None, *, errors_only: bool = False) -> Fault | None:
        """Header fault, else the prompt tag, else the next injected one.  ``errors_only`` (batch
        creation) only takes faults that answer with an HTTP error."""
        header = self.headers.get("x-fake-fault")
        if header:
            f = parse_spec(header)
            if f is not None and (not errors_only or f.name in ERROR_FAULTS):
                return f
        if req_fault is not None:
            return req_fault
        return self.fake.take_fault(errors_only=errors_only)

    def _generate(self, model: str, version: str, body: Any, *, stream: bool) -> None:
        fake = self.fake
        protocol.check_model(model, version)
        # A prompt tag is found without validating, so faults work even on odd requests.
        tag_fault = _peek_tag(body)
        fault = self._resolve_fault(tag_fault)
        if fault is not None:
            err = error_for_fault(fault, model, version)
            if err is not None:
                raise err
            if fault.name == "hang":
                fake.sleep(fault.num("seconds", 120.0) or 0.0)
                raise _Abort
            if fault.name == "slow" and fake.sleep(fault.num("seconds", 5.0) or 0.0):
                raise _Abort
        steps = hostile.reshape(fake.generate_steps(model, version, body, fault), fault,
                                self.headers.get("x-goog-api-key") or "")
        name = fault.name if fault else ""
        if stream:
            self._stream(steps, name)
        else:
            self._unary(steps, name)

    def _unary(self, steps: list[answers.Step], fault: str) -> None:
        fake = self.fake
        if fake.sleep(fake.latency * len(steps)):
            raise _Abort
        if fault == "stream_error":
            raise overloaded_error()
        data = _json_bytes(answers.merge_steps(steps))
        if fault == "malformed_json":
            data = data[: max(1, len(data) // 3)]
            self.send_bytes(200, data, "application/json; charset=UTF-8")
            return
        if fault == "truncated":
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            raise _Abort
        self.send_bytes(200, data, "application/json; charset=UTF-8")

    def _stream(self, steps: list[answers.Step], fault: str) -> None:
        fake = self.fake
        self._streaming = True
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Vary", "Origin, X-Origin, Referer")
        self.end_headers()

        def chunk(data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode("ascii") + data + b"\r\n")
            self.wfile.flush()

        def send_event(obj: Any) -> None:
            chunk(b"data: " + _json_bytes(obj) + b"\r\n\r\n")

        if fault in ("stream_error", "truncated", "malformed_json"):
            pre = [s for s in steps if s.kind in ("thought", "draft")] or steps[:1]
            for i, s in enumerate(pre):
                if i and fake.sleep(fake.latency):
                    raise _Abort
                send_event(s.event)
            if fake.sleep(fake.latency):
                raise _Abort
            if fault == "stream_error":
                send_event(overloaded_error().body())
            elif fault == "malformed_json":
                chunk(b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "unterminated\r\n\r\n')
            else:
                raise _Abort  # truncated: no final event, no terminating chunk
            chunk(b"")
            return
        for i, s in enumerate(steps):
            if i and fake.sleep(fake.latency):
                raise _Abort
            send_event(s.event)
        chunk(b"")


def _json_bytes(obj: Any) -> bytes:
    """UTF-8 JSON; a lone surrogate (fault ``bad_unicode``) is sent as its ``\\udXXX`` escape."""
    try:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj).encode("ascii")


class _BadJsonType:
    pass


_BadJson = _BadJsonType()


def _peek_tag(body: Any) -> Fault | None:
    if not isinstance(body, dict):
        return None
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents or not isinstance(contents[-1], dict):
        return None
    last = contents[-1]
    if str(last.get("role") or "user") != "user":
        return None
    from banana_studio.fakeserver.faults import find_tag

    for part in last.get("parts") or []:
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            fault, _ = find_tag(part["text"])
            if fault is not None:
                return fault
    return None


def _count_tokens(body: Any) -> dict[str, Any]:
    text = json.dumps(body or {})
    return {"totalTokens": max(1, len(text) // 4)}


def _model_resource(model: str) -> dict[str, Any]:
    spec = get_model(model)
    return {
        "name": f"models/{spec.id}",
        "version": "001",
        "displayName": spec.label,
        "description": f"{spec.label} (served by the local fake Gemini server).",
        "inputTokenLimit": 65536,
        "outputTokenLimit": 32768,
        "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
        "temperature": 1.0,
        "topP": 0.95,
        "maxTemperature": 2.0,
        "thinking": spec.thinks,
    }
