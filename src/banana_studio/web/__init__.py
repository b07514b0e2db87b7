"""The read-only web gallery of the projects (``banana-studio serve``; the studio's hand-off key)."""

from banana_studio.web.server import Gallery

__all__ = ["Gallery"]
