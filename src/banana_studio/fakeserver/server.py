"""The HTTP side of the fake Gemini server: stdlib ``ThreadingHTTPServer`` on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import secrets
import threading
from typing import Any

from banana_studio.fakeserver import answers, protocol
from banana_studio.fakeserver.batch import BatchStore
from banana_studio.fakeserver.faults import (
    ERROR_FAULTS,
    FAULTS,
    Fault,
    bad_key_error,
    missing_key_error,
)
from banana_studio.fakeserver.handler import Handler, HttpServer, RecordedRequest
from banana_studio.fakeserver.vertex import VertexRoutes

RECORD_MAX_STRING = 64 * 1024
"""A real-size server records longer strings (images, signatures) as ``"<N chars>"``."""


class FakeGemini:
    """A protocol-faithful local stand-in for the Gemini API (Nano Banana Pro behaviour).

    ``latency``: seconds of simulated thinking between streamed steps.  ``valid_keys``: None
    accepts any non-empty key; a set rejects others with the real 400 API_KEY_INVALID.
    ``batch_seconds``: how long a batch job takes from PENDING to SUCCEEDED.
    """

    def __init__(self, port: int = 0, latency: float = 0.0, valid_keys: set[str] | None = None,
                 image_format: str = "jpeg", batch_seconds: float = 3.0,
                 secret: bytes = protocol.DEFAULT_SECRET, vary_unseeded: bool = False, small: bool = False) -> None:
        if image_format not in ("jpeg", "png"):
            raise ValueError("image_format must be 'jpeg' or 'png'")
        self.port = port
        self.latency = float(latency)
        self.valid_keys = set(valid_keys) if valid_keys is not None else None
        self.image_format = image_format
        self.batch_seconds = float(batch_seconds)
        self.small = small
        """Small answers (smooth ~100 KB images, 500-byte signatures) for fast unit tests; the default
        is real size: 0.5-2.5 MB signatures, ~1 MB 1K JPEGs, full-size drafts, like Google's."""
        self.signer = protocol.Signer(secret, real_size=not small)
        self.vary_unseeded = vary_unseeded
        """Like the real model, give each unseeded request a different picture (demo mode); off by
        default so tests get one deterministic image per request."""
        self._unseeded_count = 0
        self.region_leak = False
        """Answer every region edit with a leak outside the region (tests of protect-outside)."""
        self.control_token = secrets.token_urlsafe(24)
        """Required (``X-Fake-Token`` header) by the ``/_fake/`` control routes; new for every server."""
        self.batches = BatchStore(self)
        self.vertex = VertexRoutes(self)
        self._lock = threading.Lock()
        self._faults: list[list[Any]] = []  # [Fault, remaining]
        self._requests: list[RecordedRequest] = []
        self.max_recorded = 2000
        """Only the newest requests are kept (bodies can hold megabytes of base64 images)."""
        self._server: HttpServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeGemini:
        if self._server is not None:
            return self
        self.stopping.clear()
        server = HttpServer(("127.0.0.1", self.port), Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-gemini-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    # -- faults and recording ------------------------------------------------------------------
    def inject(self, name: str, count: int = 1, **params: Any) -> None:
        """Queue fault ``name`` for the next ``count`` model requests."""
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._faults.append([Fault(name, {k: str(v) for k, v in params.items()}), int(count)])

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def take_fault(self, *, errors_only: bool = False) -> Fault | None:
        with self._lock:
            if not self._faults:
                return None
            entry = self._faults[0]
            if errors_only and entry[0].name not in ERROR_FAULTS:
                return None
            entry[1] -= 1
            if entry[1] <= 0:
                self._faults.pop(0)
            return entry[0]

    @property
    def pending_faults(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(f.name, n) for f, n in self._faults]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def record(self, req: RecordedRequest) -> None:
        if not self.small and req.body is not None:  # don't hold every replayed branch's images in memory
            req = RecordedRequest(req.method, req.path, req.query, req.headers,
                                  protocol.slim(req.body, RECORD_MAX_STRING), req.received_at)
        with self._lock:
            self._requests.append(req)
            if len(self._requests) > self.max_recorded:
                del self._requests[: len(self._requests) - self.max_recorded]

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when the server is stopping."""
        if seconds <= 0:
            return self.stopping.is_set()
        return self.stopping.wait(seconds)

    def generate_steps(self, model: str, version: str, body: Any, fault: Fault | None) -> list[answers.Step]:
        """Parse/validate ``body`` and build the answer's streamed steps (raises ApiError)."""
        req = protocol.parse_generate(body, model, version, self.signer)
        from banana_studio.fakeserver.images import ImageSpec, render

        w, h = req.pixel_size
        variant = 0
        if req.seed is None and self.vary_unseeded:
            with self._lock:
                self._unseeded_count += 1
                variant = self._unseeded_count
        rendered = render(ImageSpec(
            prompt=req.prompt, model=model, aspect_ratio=req.aspect_ratio, image_size=req.image_size,
            width=w, height=h, seed=req.seed, variant=variant, fmt=self.image_format, base_image=req.base_image,
            base_digest=hashlib.sha256(req.base_image).hexdigest() if req.base_image else "",
            references=tuple(req.references),
            reference_digests=tuple(hashlib.sha256(r).hexdigest() for r in req.references),
            history_digest=req.history_digest, real_size=not self.small,
        ))
        final = rendered.final
        from banana_studio.fakeserver.region import paint, region_boxes, user_words

        boxes = region_boxes(req.prompt)
        if boxes and req.references:  # a region edit: paint inside the boxes only (or leak, on purpose)
            leak = self.region_leak or (fault is not None and fault.name == "region_leak")
            words = user_words(req.prompt)
            fill = render(ImageSpec(
                prompt=words, model=model, aspect_ratio=req.aspect_ratio,
                image_size=req.image_size, width=w, height=h, seed=req.seed, variant=variant, fmt=self.image_format,
                base_image=req.references[0], base_digest=hashlib.sha256(req.references[0]).hexdigest(),
                history_digest=req.history_digest, real_size=not self.small)).final
            final = paint(req.references[0], fill, boxes, (w, h), self.image_format, leak=leak,
                          label=words) or final
        response_id = secrets.token_urlsafe(16)[:22]
        return answers.build_steps(req, response_id=response_id, signer=self.signer, mime=rendered.mime_type,
                                    final=final, drafts=rendered.drafts, fault=fault)

    def check_key(self, key: str) -> None:
        if not key:
            raise missing_key_error()
        if self.valid_keys is not None and key not in self.valid_keys:
            raise bad_key_error()
