"""Counters of the image machinery, read by tests and benchmarks (no Textual, no Pillow)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class RenderStats:
    """Counters used by tests and benchmarks (never reset by the app)."""

    decodes: int = 0
    """Full decodes + downscales done (cache misses)."""
    renderables: int = 0
    """Renderables built by the cell/kitty widgets (each one rescales; kitty re-uploads)."""
    sixel_encodes: int = 0
    """Calls of the sixel encoder."""
    sixel_writes: int = 0
    """Sixel pictures handed to Textual to write to the terminal."""
    sixel_skips: int = 0
    """Repaints of a sixel picture that was already on the terminal, untouched (nothing written)."""


STATS = RenderStats()
