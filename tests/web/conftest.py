"""Fixtures of the web gallery tests (defined in gallery_data.py, which the tests import by name)."""

from gallery_data import gallery, projects  # noqa: F401  (pytest fixtures)
