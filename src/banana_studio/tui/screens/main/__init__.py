"""The main screen, in parts: :mod:`.screen` (the screen: compose, state, the generation),
:mod:`.stage` (preview + turn detail / thinking log), :mod:`.composer` (prompt, references,
settings), :mod:`.turn_actions` and :mod:`.file_actions` (what the keys do), :mod:`.layout` (which
panels are shown)."""

from banana_studio.tui.screens.main.screen import NEW_ROOT, MainScreen

__all__ = ["NEW_ROOT", "MainScreen"]
