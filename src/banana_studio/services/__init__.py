"""Application services used by the TUI and the CLIs (no Textual, no SDK import at start-up)."""

from banana_studio.services.studio import GenerateRequest, Studio

__all__ = ["GenerateRequest", "Studio"]
