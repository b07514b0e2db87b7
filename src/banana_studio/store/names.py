"""Project-name validation and human-readable slugs for file names."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LEN = 64
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


class ProjectError(Exception):
    """Any problem opening or using a project, with a message fit to show the user."""


def validate_project_name(name: str, *, new: bool = True) -> str:
    """Return ``name`` if it is a safe single directory name, else raise :class:`ProjectError`.  An
    existing folder (``new=False``) may have a name that is not UTF-8 (renamed by hand): it opens."""
    if not isinstance(name, str) or not name.strip():
        raise ProjectError("Project name is empty.")
    if name != name.strip():
        raise ProjectError(f"Project name {name!r} must not start or end with spaces.")
    if len(name) > MAX_NAME_LEN:
        raise ProjectError(f"Project name is too long ({len(name)} characters; at most {MAX_NAME_LEN}).")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise ProjectError(f"Project name {name!r} contains control characters.")
    if new and any(unicodedata.category(ch) == "Cs" for ch in name):  # a byte that is not UTF-8 (from argv, a folder)
        raise ProjectError(f"Project name {name!r} is not valid UTF-8 text.")
    for bad in ("/", "\\", ":", "\0"):
        if bad in name:
            raise ProjectError(f"Project name {name!r} must not contain {bad!r}.")
    if name in (".", "..") or ".." in name:
        raise ProjectError(f"Project name {name!r} must not contain '..'.")
    if name.startswith("."):
        raise ProjectError(f"Project name {name!r} must not start with a dot.")
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        raise ProjectError(f"Project name {name!r} is a reserved device name on Windows.")
    return name


def slugify(text: str, max_len: int = 40) -> str:
    """Lowercase ASCII slug of ``text`` (at most ``max_len`` characters), ``"image"`` if empty."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if len(slug) > max_len:
        cut = slug[:max_len]
        # Prefer to cut at a word boundary when that keeps most of the text.
        if "-" in cut and cut.rfind("-") > max_len // 2:
            cut = cut[: cut.rfind("-")]
        slug = cut.strip("-")
    return slug or "image"
