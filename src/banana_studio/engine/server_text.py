"""Text from the server, made safe to keep: the one place every server-provided string passes."""

from __future__ import annotations

import warnings
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


def silence_sdk_value_warnings() -> None:
    """google-genai warns ``"<value> is not a valid <Enum>"`` for an enum value it does not know, with the
    server's string in the message: printed to stderr it would show an echoed key (and escape sequences)
    past every redaction.  The value itself is kept, cleaned, in the record; only the warning goes."""
    warnings.filterwarnings("ignore", message=r"(?s).* is not a valid [A-Za-z_]+$", category=UserWarning,
                            module=r"google\.genai\._common")
