"""Text from the server, made safe to keep: the one place every server-provided string passes."""

from __future__ import annotations

from typing import Any

from banana_studio.config import redact
from banana_studio.domain.safetext import valid_text


class ServerText:
    """Every string the server sends passes here before it is stored, shown or exported: the API key
    (and anything shaped like one) is redacted, and invalid text (lone surrogates) is made valid.
    Bytes (thought signatures, image data) are never touched."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self.secrets = list(secrets or [])

    def __call__(self, text: str | None) -> str:
        if not text:
            return text or ""
        return redact(valid_text(text), self.secrets)

    def tree(self, obj: Any) -> Any:
        """Clean every string (keys too) inside JSON-like data."""
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {self(k) if isinstance(k, str) else k: self.tree(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.tree(v) for v in obj]
        return obj
