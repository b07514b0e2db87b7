"""Tags: any number per turn, compared without case ("Hero" and "hero" are one tag)."""

from __future__ import annotations

import re
from collections.abc import Iterable

MAX_TAG = 64
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


class TagError(ValueError):
    """A tag that cannot be stored (empty, too long, control characters)."""


def normalise_tag(raw: str) -> str:
    """``raw`` as it is stored: trimmed, inner whitespace collapsed to one space, a leading ``#``
    dropped.  Raises :class:`TagError` with a message a person can act on."""
    tag = " ".join(str(raw).split()).removeprefix("#").strip()
    if not tag:
        raise TagError("A tag cannot be empty.")
    if _CONTROL.search(tag):
        raise TagError("A tag cannot contain control characters.")
    if tag.startswith("-"):
        raise TagError(f"A tag cannot start with '-' (that means \"not\" in a search): {tag!r}.")
    if '"' in tag:
        raise TagError(f"A tag cannot contain a double quote: {tag!r}.")
    if len(tag) > MAX_TAG:
        raise TagError(f"A tag is at most {MAX_TAG} characters (this one has {len(tag)}).")
    return tag


def parse_tags(text: str | Iterable[str]) -> list[str]:
    """Tags from a comma-separated string (or a list of such strings), normalised, duplicates (without
    case) dropped, order kept."""
    items = [text] if isinstance(text, str) else list(text)
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        for piece in str(item).split(","):
            if not piece.strip():
                continue
            tag = normalise_tag(piece)
            if tag.casefold() not in seen:
                seen.add(tag.casefold())
                out.append(tag)
    return out


def tag_token(tag: str) -> str:
    """The query term that finds ``tag`` (quoted when it holds a space)."""
    return f'tag:"{tag}"' if " " in tag else f"tag:{tag}"
