"""Vertex AI routes of the fake server: the REST paths google-genai uses with ``vertexai=True``.

* project mode: ``POST /v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:streamGenerateContent``
  (and ``:generateContent``), authenticated by ``Authorization: Bearer <OAuth token>``;
* express mode: ``POST /v1beta1/publishers/google/models/{m}:…`` authenticated by ``x-goog-api-key``.

Generation itself is the Gemini fake's (same answers); what differs is what Vertex AI says when
things go wrong, worded as Google words it: no/invalid token (401 UNAUTHENTICATED), a Gemini 3 model
outside the ``global`` location or an unknown model (404 naming the publisher-model path), IAM denied
and API disabled (403 with ErrorInfo), quota (429 pointing to the Vertex error-code page).  Script
them with :attr:`VertexRoutes.errors` (``"iam"``, ``"disabled"``, ``"quota"``; one per request).
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from banana_studio.domain.catalogue import MODELS
from banana_studio.fakeserver.faults import ApiError

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.fakeserver.server import FakeGemini

VERSIONS = ("v1beta1", "v1")
PATH_RE = re.compile(r"^/(?P<ver>v1beta1|v1)/(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
                     r"publishers/google/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def is_vertex_path(path: str) -> bool:
    return path.startswith(tuple(f"/{v}/" for v in VERSIONS)) and "/publishers/google/models/" in path


class VertexRoutes:
    def __init__(self, fake: FakeGemini) -> None:
        self.fake = fake
        self._lock = threading.Lock()
        self.errors: list[str] = []
        """Scripted failures for the next requests: iam | disabled | quota."""
        self.valid_tokens: set[str] | None = None
        """OAuth tokens accepted in project mode (None = any non-empty token)."""
        self.auth_seen: list[str] = []
        """How each request authenticated: "bearer" or "api-key" (never the secret)."""

    def _take(self) -> str:
        with self._lock:
            return self.errors.pop(0) if self.errors else ""

    def route(self, handler: Any, method: str, path: str) -> tuple[str, str, str] | None:
        """Check auth, model and scripted errors; returns (model, version, method) to generate, or raises
        :class:`ApiError`."""
        m = PATH_RE.match(path)
        if m is None or method != "POST":
            raise ApiError(404, f"The requested URL {path} was not found on this server.", "NOT_FOUND")
        project, location, model, verb = m.group("project"), m.group("location"), m.group("model"), m.group("method")
        auth = handler.headers.get("Authorization") or ""
        key = handler.headers.get("x-goog-api-key") or ""
        if project is not None:
            token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
            if not token or (self.valid_tokens is not None and token not in self.valid_tokens):
                raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                               "login cookie or other valid authentication credential. See "
                               "https://developers.google.com/identity/sign-in/web/devconsole-project.",
                               "UNAUTHENTICATED")
            seen = "bearer"
        else:
            if not key:
                raise ApiError(401, "API keys are not supported by this API. Expected OAuth2 access token or other "
                               "authentication credentials that assert a principal.", "UNAUTHENTICATED")
            self.fake.check_key(key)
            seen = "api-key"
        with self._lock:
            self.auth_seen.append(seen)
        resource = (f"projects/{project}/locations/{location}/publishers/google/models/{model}" if project
                    else f"publishers/google/models/{model}")
        known = any(s.id == model for s in MODELS)
        if not known or (project is not None and model.startswith("gemini-3") and location != "global"):
            raise ApiError(404, f"Publisher Model `{resource}` was not found or your project does not have access "
                           "to it. Please ensure you are using a valid model version. For more information, see: "
                           "https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions", "NOT_FOUND")
        scripted = self._take()
        where = project or "your project"
        if scripted == "iam":
            raise ApiError(403, f"Permission 'aiplatform.endpoints.predict' denied on resource "
                           f"'//aiplatform.googleapis.com/{resource}' (or it may not exist).", "PERMISSION_DENIED",
                           [{"@type": _ERROR_INFO, "reason": "IAM_PERMISSION_DENIED",
                             "domain": "aiplatform.googleapis.com",
                             "metadata": {"permission": "aiplatform.endpoints.predict",
                                          "resource": f"projects/{where}"}}])
        if scripted == "disabled":
            raise ApiError(403, f"Vertex AI API has not been used in project {where} before or it is disabled. Enable "
                           "it by visiting https://console.developers.google.com/apis/api/aiplatform.googleapis.com/"
                           f"overview?project={where} then retry. If you enabled this API recently, wait a few "
                           "minutes for the action to propagate to our systems and retry.", "PERMISSION_DENIED",
                           [{"@type": _ERROR_INFO, "reason": "SERVICE_DISABLED", "domain": "googleapis.com",
                             "metadata": {"service": "aiplatform.googleapis.com", "consumer": f"projects/{where}"}}])
        if scripted == "quota":
            raise ApiError(429, "Resource exhausted. Please try again later. Please refer to "
                           "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.",
                           "RESOURCE_EXHAUSTED")
        if verb not in ("generateContent", "streamGenerateContent"):
            raise ApiError(404, f"Method not found: {verb}", "NOT_FOUND")
        return model, m.group("ver"), verb
