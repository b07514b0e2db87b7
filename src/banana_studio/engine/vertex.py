"""Vertex AI as a target: detection, the setup check, and the client's arguments.

The setup check runs once, off the event loop, before the first request (and when the studio or
``gen`` starts): it resolves the project, the location and where the credentials come from, and
turns every way this goes wrong into one clear message with the remedy — never a raw
``DefaultCredentialsError`` after a request was recorded.

Two ways to authenticate, as in google-genai:

* **project mode** — Application Default Credentials (``gcloud auth application-default login``, a
  service-account file in ``GOOGLE_APPLICATION_CREDENTIALS``, or the metadata server on Google
  Cloud) plus a project (``GOOGLE_CLOUD_PROJECT``, the config's ``[vertex] project``, or the ADC
  project) and a location (``GOOGLE_CLOUD_LOCATION``, ``[vertex] location``, default ``global``);
* **express mode** — a Vertex AI API key (``GOOGLE_API_KEY`` / ``GEMINI_API_KEY`` or the key saved
  in the config) and no project configured.

The client always gets project + location (or the key) explicitly, so a custom Vertex base URL never
puts the SDK into its unauthenticated "gateway" mode.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.events import EngineError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
DEFAULT_LOCATION = "global"
ADC_HINT = "run `gcloud auth application-default login` (or point GOOGLE_APPLICATION_CREDENTIALS at a " \
           "service-account key file)"
EXPRESS_HINT = "or use Vertex AI express mode: unset GOOGLE_CLOUD_PROJECT and give a Vertex AI API key " \
               "(GOOGLE_API_KEY or `banana-studio config --set-key`)"


@dataclass(slots=True)
class VertexSetup:
    """What the setup check found.  ``error`` set = not usable (nothing is sent)."""

    project: str = ""
    location: str = ""
    credential_source: str = ""
    api_key: str = field(default="", repr=False)
    credentials: Any = field(default=None, repr=False)
    error: EngineError | None = None

    @property
    def express(self) -> bool:
        return bool(self.api_key)

    def describe(self) -> list[tuple[str, str]]:
        """Rows for ``banana-studio config`` (never the key itself)."""
        if self.express:
            return [("Vertex AI", "express mode (API key, no project)"), ("Credentials", self.credential_source)]
        return [("Vertex AI", "project mode"), ("Project", self.project or "not set"),
                ("Location", self.location or "not set"), ("Credentials", self.credential_source or "none found")]


def _adc_source(credentials: Any) -> str:
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS", "").strip()
    who = getattr(credentials, "service_account_email", None)
    who_text = f", {who}" if isinstance(who, str) and "@" in who else ""
    if path:
        return f"credentials file {path} (GOOGLE_APPLICATION_CREDENTIALS{who_text})"
    kind = f"{type(credentials).__module__}.{type(credentials).__name__}"
    if "compute_engine" in kind:
        return f"the Google Cloud metadata server (attached service account{who_text})"
    try:
        from google.auth import _cloud_sdk

        well_known = _cloud_sdk.get_application_default_credentials_path()
        if os.path.exists(well_known):
            return f"gcloud application-default credentials ({well_known})"
    except Exception:  # pragma: no cover - an odd google-auth: describe by type
        pass
    return f"application default credentials ({type(credentials).__name__})"


def check_setup(*, api_key: str = "", key_source: str = "", project: str = "", location: str = "") -> VertexSetup:
    """Resolve the Vertex AI target (blocking: may read credential files or ask the metadata server).

    ``project`` / ``location``: from the config (the environment wins, as in the SDK)."""
    env_project = os.environ.get("GOOGLE_CLOUD_PROJECT", "").strip()
    env_location = os.environ.get("GOOGLE_CLOUD_LOCATION", "").strip()
    project = env_project or project.strip()
    location = env_location or location.strip()
    if api_key and not project:
        where = {"config": "the config file"}.get(key_source, key_source or "the environment")
        return VertexSetup(location="", api_key=api_key,
                           credential_source=f"API key from {where} (Vertex AI express mode)")
    try:
        import google.auth
        from google.auth import exceptions as auth_exceptions

        credentials, adc_project = google.auth.default(scopes=list(SCOPES))
    except Exception as exc:
        is_auth = type(exc).__name__ == "DefaultCredentialsError" or (
            "auth_exceptions" in locals() and isinstance(exc, auth_exceptions.GoogleAuthError))
        text = " ".join(str(exc).split())[:300]
        what = "No Google Cloud credentials were found" if is_auth else "Google Cloud credentials could not be loaded"
        return VertexSetup(project=project, location=location or DEFAULT_LOCATION, error=EngineError(
            "setup", f"Vertex AI: {what} ({text}). To fix: {ADC_HINT}; {EXPRESS_HINT}."))
    setup = VertexSetup(project=project or str(adc_project or ""), location=location or DEFAULT_LOCATION,
                        credentials=credentials, credential_source=_adc_source(credentials))
    if not setup.project:
        setup.error = EngineError(
            "setup", f"Vertex AI: no Google Cloud project is set (credentials: {setup.credential_source}). "
            "To fix: export GOOGLE_CLOUD_PROJECT=<your-project-id> (or set project under [vertex] in the config, "
            f"or `gcloud config set project`); {EXPRESS_HINT}.")
    return setup


def client_kwargs(setup: VertexSetup) -> dict[str, Any]:
    """``genai.Client`` arguments for a checked setup: always explicit, never the SDK's guesses."""
    if setup.express:
        # No location: with one the SDK would build projects/None/locations/... paths.
        return {"vertexai": True, "api_key": setup.api_key}
    return {"vertexai": True, "project": setup.project, "location": setup.location or DEFAULT_LOCATION,
            "credentials": setup.credentials}


# -- Vertex AI error wording (Google's text is always kept) ------------------------------------------

def api_error(code: int, status: str, message: str, reason: str, *, model: str) -> EngineError | None:
    """The Vertex AI remedy for an API error, or None to use the Gemini API wording."""
    said = f" Google said: {message}" if message else ""
    low = message.lower()
    if code == 401:
        return EngineError("permission", f"Vertex AI rejected the credentials (401 {status or 'UNAUTHENTICATED'})."
                           f"{said} To fix: {ADC_HINT}; if you use express mode, check the API key.", status=code)
    if code == 403:
        if reason == "SERVICE_DISABLED" or "has not been used" in low or "is disabled" in low:
            return EngineError("permission", f"The Vertex AI API is not enabled for this project (403)."
                               f"{said} To fix: `gcloud services enable aiplatform.googleapis.com` for the project "
                               "(or enable it in the Cloud console), wait a minute, then retry.", status=code)
        return EngineError("permission", f"Vertex AI denied access (403 {status or 'PERMISSION_DENIED'}).{said} "
                           "To fix: give your account (or service account) the Vertex AI User role "
                           "(roles/aiplatform.user) on the project, or check GOOGLE_CLOUD_PROJECT.", status=code)
    if code == 404:
        hint = ("Gemini 3 image models are served only in the global location: export GOOGLE_CLOUD_LOCATION=global "
                "(or set location = \"global\" under [vertex] in the config)."
                if model.startswith("gemini-3") and "/locations/global/" not in message else
                "Check the model id (a bare id such as gemini-3-pro-image, without models/) and that your project "
                "has access to it in this location.")
        return EngineError("not_found", f"Vertex AI did not find the model {model!r} (404).{said} {hint}",
                           status=code)
    if code == 429:
        return EngineError("quota", f"Vertex AI is out of capacity or quota for this model (429 RESOURCE_EXHAUSTED)."
                           f"{said} Vertex AI shares capacity between customers: retry in a minute, or ask for more "
                           "quota (or Provisioned Throughput) in the Cloud console.", status=code, retryable=True)
    return None


def target_problems(settings: Any, *, vertex: bool) -> list[str]:
    """Settings the target cannot take: Vertex-only image options on the Gemini API."""
    from banana_studio.domain.settings import VERTEX_ONLY_SETTINGS

    if vertex:
        return []
    used = [name for name in VERTEX_ONLY_SETTINGS if getattr(settings, name, None) not in (None, "")]
    if not used:
        return []
    names = ", ".join(n.replace("_", " ") for n in used)
    one = len(used) == 1
    return [f"{names}: only Vertex AI accepts {'this option' if one else 'these options'}; the Gemini API refuses "
            f"{'it' if one else 'them'}. Clear {'it' if one else 'them'}, or use Vertex AI "
            "(GOOGLE_GENAI_USE_ENTERPRISE=true)."]
