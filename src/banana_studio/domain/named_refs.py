"""Named references: ``@hero`` in a prompt stands for the images saved under that name.

Pure rules, shared by the library (store), the expansion (services), the prompt's completion (TUI)
and the command line:

* a name is ``@`` followed by 1-40 of ``a-z 0-9 _ -``, starting with a letter or digit
  (:func:`validate_name`);
* a mention is ``@name`` with no word character or ``@`` before it and no word character after it
  (``me@example.com``, ``@Hero`` and ``@héro`` are no mentions); ``@@name`` is the escape for a literal
  ``@name`` (:func:`mentions`);
* the text sent to the model keeps the mention and says which attached images it means:
  ``@hero (reference images 2-3)`` (:func:`annotate`).  The turn keeps the prompt as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

MAX_NAME_LEN = 40
"""Characters after the ``@``."""
NAME_RE = re.compile(r"^@[a-z0-9][a-z0-9_-]{0,39}$")
_MENTION = re.compile(r"(?<![\w@])(@?)@([a-z0-9][a-z0-9_-]*)(?!\w)")
_PARTIAL = re.compile(r"(?<![\w@])@([a-z0-9_-]*)$")

SCOPES = ("project", "user")
"""Where a name lives: a project's own library (looked up first) or the user's."""


class RefNameError(ValueError):
    """A name that is not a valid reference name; the message says why."""


def validate_name(raw: str) -> str:
    """``raw`` as a canonical name (``hero`` and ``@hero`` both give ``@hero``), else
    :class:`RefNameError` with a message fit to show."""
    text = raw if isinstance(raw, str) else ""
    name = text.strip()
    if not name or name == "@":
        raise RefNameError("A reference name is empty: write @ and a name, e.g. @hero.")
    if not name.startswith("@"):
        name = "@" + name
    if NAME_RE.match(name):
        return name
    body = name[1:]
    if len(body) > MAX_NAME_LEN:
        raise RefNameError(f"Reference name is too long ({len(body)} characters after the @; at most {MAX_NAME_LEN}).")
    if body.lower() != body and NAME_RE.match("@" + body.lower()):
        raise RefNameError(f"Reference names are lowercase: try @{body.lower()}.")
    if body[:1] in ("_", "-"):
        raise RefNameError("A reference name starts with a letter or a digit (after the @).")
    raise RefNameError("A reference name is @ followed by lowercase letters, digits, _ or - only (e.g. @hero, "
                     "@logo-v2).")


def is_name(raw: str) -> bool:
    try:
        validate_name(raw)
    except RefNameError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Mention:
    start: int
    end: int
    name: str
    """``@hero``."""
    literal: bool = False
    """``@@hero``: the user wants the text ``@hero``, no images."""


def mentions(prompt: str) -> list[Mention]:
    """Every ``@name`` in ``prompt`` in order (literal ``@@name`` escapes included, marked)."""
    out: list[Mention] = []
    for m in _MENTION.finditer(prompt or ""):
        body = m.group(2)
        if len(body) > MAX_NAME_LEN:
            continue
        out.append(Mention(m.start(), m.end(), "@" + body, literal=bool(m.group(1))))
    return out


def names_in(prompt: str) -> list[str]:
    """The distinct names ``prompt`` asks for, in order of first mention (escapes left out)."""
    seen: list[str] = []
    for m in mentions(prompt):
        if not m.literal and m.name not in seen:
            seen.append(m.name)
    return seen


def partial_at(text_before_cursor: str) -> str | None:
    """The name being typed right before the cursor (``"@he"`` → ``"@he"``, a lone ``"@"`` → ``"@"``),
    or None when the cursor is not in a mention."""
    m = _PARTIAL.search(text_before_cursor or "")
    if m is None or len(m.group(1)) > MAX_NAME_LEN:
        return None
    return "@" + m.group(1)


def complete(partial: str, names: Sequence[str]) -> list[str]:
    """Names that start with ``partial`` first, then those that contain it, each group sorted."""
    key = partial.lstrip("@")
    starts = sorted(n for n in names if n[1:].startswith(key))
    inside = sorted(n for n in names if key and key in n[1:] and n not in starts)
    return starts + inside


def _span(positions: list[int]) -> str:
    if len(positions) == 1:
        return f"reference image {positions[0]}"
    if positions == list(range(positions[0], positions[-1] + 1)):
        return f"reference images {positions[0]}-{positions[-1]}"
    return "reference images " + ", ".join(str(p) for p in positions)


def annotate(prompt: str, named: Sequence[str], position: Callable[[int], int] | None = None) -> str:
    """The prompt text the model reads: each mention of a name whose images are attached gets the
    numbers of those images, ``@hero`` → ``@hero (reference images 2-3)``; ``@@x`` becomes ``@x``.

    ``named[i]`` is the name the i-th attached reference came from ("" = a plain reference);
    ``position(i)`` is its place among the message's images, 1-based (default ``i + 1``)."""
    where = position or (lambda i: i + 1)
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(named):
        if name:
            groups.setdefault(name, []).append(where(i))
    if not groups and "@@" not in (prompt or ""):
        return prompt
    out: list[str] = []
    last = 0
    for m in mentions(prompt):
        out.append(prompt[last:m.start])
        if m.literal:
            out.append(m.name)
        elif m.name in groups:
            out.append(f"{m.name} ({_span(groups[m.name])})")
        else:
            out.append(prompt[m.start:m.end])
        last = m.end
    out.append(prompt[last:])
    return "".join(out)


def named_groups(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``{"@hero": [sha256, ...]}`` from ``(named, sha256)`` of a turn's references (recipes, listings)."""
    out: dict[str, list[str]] = {}
    for name, sha in pairs:
        if name:
            out.setdefault(name, []).append(sha)
    return out
