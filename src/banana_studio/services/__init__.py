"""Application services used by the TUI and the CLIs (no Textual, no SDK import at start-up)."""

from banana_studio.services.studio import Studio
from banana_studio.services.turn_request import GenerateRequest

__all__ = ["GenerateRequest", "Studio"]
