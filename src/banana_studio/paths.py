"""Where things live.  Functions only: nothing is created at import time.

Environment overrides (handy for tests, demos and portable installs):
``BANANA_STUDIO_CONFIG`` (config file), ``BANANA_STUDIO_DATA_DIR``, ``BANANA_STUDIO_CACHE_DIR``,
``BANANA_STUDIO_LOG_DIR``, ``BANANA_STUDIO_TEMPLATES_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "banana-studio"


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value).expanduser() if value else None


def config_file() -> Path:
    p = _env_path("BANANA_STUDIO_CONFIG")
    if p:
        return p
    from platformdirs import user_config_path

    return user_config_path(APP) / "config.toml"


def templates_dir() -> Path:
    """The user's prompt template library (``templates/`` next to the config file: plain TOML files
    you edit by hand).  A project's own ``templates/`` folder wins on a name clash."""
    p = _env_path("BANANA_STUDIO_TEMPLATES_DIR")
    if p:
        return p
    return config_file().parent / "templates"


def data_dir() -> Path:
    p = _env_path("BANANA_STUDIO_DATA_DIR")
    if p:
        return p
    from platformdirs import user_data_path

    return user_data_path(APP)


def projects_dir() -> Path:
    return data_dir() / "projects"


DEMO_SUFFIX = "-demo"


def demo_projects_root(real_root: Path) -> Path:
    """Demo mode's own projects folder: a sibling of the real one, e.g. ``projects`` →
    ``projects-demo``, so real projects never receive synthetic turns."""
    real_root = Path(real_root).expanduser()
    return real_root.with_name(real_root.name + DEMO_SUFFIX)


def cache_dir() -> Path:
    p = _env_path("BANANA_STUDIO_CACHE_DIR")
    if p:
        return p
    from platformdirs import user_cache_path

    return user_cache_path(APP)


def log_dir() -> Path:
    p = _env_path("BANANA_STUDIO_LOG_DIR")
    if p:
        return p
    from platformdirs import user_log_path

    return user_log_path(APP)


def export_dir() -> Path:
    """Where exports, storyboards and "save as" copies go by default: ``~/Pictures/Banana Studio``
    (the platform's pictures folder; ``BANANA_STUDIO_EXPORT_DIR`` overrides it).  Not the current
    directory: the studio is often started from wherever the shell happened to be."""
    p = _env_path("BANANA_STUDIO_EXPORT_DIR")
    if p:
        return p
    from platformdirs import user_pictures_path

    return user_pictures_path() / "Banana Studio"
