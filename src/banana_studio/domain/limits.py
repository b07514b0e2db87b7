"""Limits on images that come from outside (stated once; the engine and the exports use them)."""

from __future__ import annotations

RECEIVED_IMAGE_MAX_BYTES = 64 * 1024 * 1024
"""Largest image file accepted from the server (a 4K PNG is about 20-30 MB)."""

RECEIVED_IMAGE_MAX_PIXELS = 50_000_000
"""Largest image accepted from the server, and drawn by the exports, in pixels (4K output is at most
about 17 MP)."""
