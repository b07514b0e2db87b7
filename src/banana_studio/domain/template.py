"""Prompt templates: a prompt with ``{slot}`` placeholders, default slot values and optional settings.

A template is a plain TOML file (``<name>.toml``)::

    description = "Animal portraits"
    prompt = "A {style} portrait of a {subject}, {light} light"

    [slots]                         # default values: one value, or a list (a matrix by default)
    subject = "red fox"
    style = ["watercolour", "ink"]
    light = "@lights.txt"           # the lines of a file (relative to the template's folder)

    [settings]                      # every key optional
    model = "gemini-3-pro-image"
    aspect_ratio = "16:9"           # or: aspect
    image_size = "2K"               # or: size
    system_instruction = "..."      # or: system
    seed = 7

    [[references]]                  # images sent with every request of the template
    path = "refs/fox.png"           # relative to the template's folder
    sha256 = "..."                  # optional: the project's copy (by hash) is used when it has one

``{{`` and ``}}`` are literal braces; a brace not around a slot name is kept as written.  The name of
a template is its file's stem.  Pure: parsing only (no file access; ``@file`` values are resolved by
the caller).  Every string here may be hostile: display it through :mod:`domain.safetext`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError

SUFFIX = ".toml"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SLOT_RE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_VALUES = 1000
"""Values of one slot (a longer file is refused rather than expanded into a huge matrix)."""

SETTING_KEYS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "model": ("model", str), "aspect_ratio": ("aspect_ratio", str), "aspect": ("aspect_ratio", str),
    "image_size": ("image_size", str), "size": ("image_size", str),
    "system_instruction": ("system_instruction", str), "system": ("system_instruction", str),
    "seed": ("seed", int), "temperature": ("temperature", (int, float)),
    "google_search": ("google_search", bool), "search": ("google_search", bool),
    "include_thoughts": ("include_thoughts", bool), "thinking_level": ("thinking_level", str),
    "image_search": ("image_search", bool),
}
"""Template setting key → (GenerationSettings field, TOML type)."""
TOP_KEYS = ("name", "description", "prompt", "slots", "settings", "references")


class TemplateError(ValueError):
    """A template that cannot be used; the message names the file (and line, when known)."""


@dataclass(frozen=True, slots=True)
class TemplateRef:
    path: str = ""
    """A file, relative to the template's folder (or absolute / ``~``)."""
    sha256: str = ""
    """A reference already in the project (tried first when both are given)."""


@dataclass(slots=True)
class Template:
    name: str
    prompt: str
    slots: dict[str, list[str]] = field(default_factory=dict)
    """Default values per slot, in declaration order (a list of one or more)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """GenerationSettings field → value (only what the template sets)."""
    references: list[TemplateRef] = field(default_factory=list)
    description: str = ""
    text: str = ""
    """The file's text as read (recorded with every run)."""
    path: Path | None = None
    origin: str = ""
    """``project`` or ``user``: which library it came from."""
    warnings: list[str] = field(default_factory=list)

    @property
    def slot_names(self) -> list[str]:
        """Slots in the order the prompt uses them, then the declared ones it does not use."""
        names = slot_names(self.prompt)
        return names + [s for s in self.slots if s not in names]


def valid_name(name: str) -> str:
    """``name`` if it can name a template file (letters, digits, ``.``, ``_``, ``-``; no path)."""
    if not NAME_RE.fullmatch(name or "") or name.endswith(SUFFIX):
        raise TemplateError(f"{name!r} is not a usable template name: use letters, digits, '.', '_' and '-' "
                            "(at most 64, starting with a letter or digit, without .toml).")
    return name


def slot_names(prompt: str) -> list[str]:
    """The slots ``prompt`` uses, in order of first use."""
    out: list[str] = []
    for m in SLOT_RE.finditer(prompt):
        if m.group(1) and m.group(1) not in out:
            out.append(m.group(1))
    return out


def fill(prompt: str, values: dict[str, str]) -> str:
    """``prompt`` with every ``{slot}`` replaced; ``{{``/``}}`` become braces.  A missing slot raises."""
    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "{{":
            return "{"
        if tok == "}}":
            return "}"
        name = m.group(1)
        if name not in values:
            raise TemplateError(f"Slot {{{name}}} has no value.")
        return values[name]

    return SLOT_RE.sub(sub, prompt)


def escape_braces(text: str) -> str:
    """``text`` as a literal template prompt (its braces never read as slots)."""
    return text.replace("{", "{{").replace("}", "}}")


def _line_of(text: str, key: str, table: str = "") -> int | None:
    """The line (1-based) where ``key`` is set, inside ``[table]`` when given (best effort)."""
    current = ""
    pat = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
    for n, line in enumerate(text.splitlines(), 1):
        head = re.match(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if head:
            current = head.group(1)
            if not table and current == key:
                return n
            continue
        if current == table and pat.match(line):
            return n
    return None


def _where(source: str, text: str, key: str, table: str = "") -> str:
    line = _line_of(text, key, table)
    return f"{source}, line {line}" if line else source


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


def parse_template(text: str, name: str, *, source: str = "") -> Template:
    """Read a template file's ``text``; :class:`TemplateError` naming ``source`` (and the line) if bad."""
    source = source or f"template {name}"
    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:
        raise TemplateError(f"{source}, line {exc.line}, column {exc.col}: not valid TOML "
                            f"({str(exc).split(' at line')[0]}).") from None
    except TOMLKitError as exc:
        raise TemplateError(f"{source}: not valid TOML ({exc}).") from None
    data: dict[str, Any] = _plain(doc)
    warnings = [f"{_where(source, text, k)}: unknown key {k!r} (ignored)." for k in data if k not in TOP_KEYS]
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise TemplateError(f"{_where(source, text, 'prompt')}: the template needs a non-empty "
                            "prompt = \"...\" (with {slot} placeholders).")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise TemplateError(f"{_where(source, text, 'description')}: description must be a string.")
    tpl = Template(name=name, prompt=prompt, description=description, text=text, warnings=warnings)
    slots = data.get("slots", {})
    if not isinstance(slots, dict):
        raise TemplateError(f"{_where(source, text, 'slots')}: [slots] must be a table of slot = value.")
    for key, value in slots.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise TemplateError(f"{_where(source, text, key, 'slots')}: {key!r} is not a slot name "
                                "(letters, digits, _).")
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
            raise TemplateError(f"{_where(source, text, key, 'slots')}: slot {key!r} must be a string, "
                                "a number or a non-empty list of them.")
        tpl.slots[key] = [str(v) for v in values]
    used = slot_names(prompt)
    tpl.warnings += [f"{_where(source, text, k, 'slots')}: slot {k!r} is not used in the prompt."
                     for k in tpl.slots if k not in used]
    tpl.settings = _settings(data.get("settings", {}), source, text, tpl.warnings)
    tpl.references = _references(data.get("references", []), source, text)
    return tpl


def _settings(raw: Any, source: str, text: str, warnings: list[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise TemplateError(f"{_where(source, text, 'settings')}: [settings] must be a table.")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        spec = SETTING_KEYS.get(key)
        if spec is None:
            warnings.append(f"{_where(source, text, key, 'settings')}: unknown setting {key!r} (ignored); "
                            f"known: {', '.join(sorted(SETTING_KEYS))}.")
            continue
        fld, typ = spec
        if (isinstance(value, bool) and typ is not bool) or not isinstance(value, typ):
            kind = {str: "a string", int: "an integer", bool: "true or false"}.get(typ, "a number")  # type: ignore[call-overload]
            raise TemplateError(f"{_where(source, text, key, 'settings')}: {key} must be {kind}.")
        out[fld] = float(value) if fld == "temperature" else value
    return out


def _references(raw: Any, source: str, text: str) -> list[TemplateRef]:
    if not isinstance(raw, list):
        raise TemplateError(f"{_where(source, text, 'references')}: references must be [[references]] "
                            "tables (path = \"...\" or sha256 = \"...\").")
    out: list[TemplateRef] = []
    for i, item in enumerate(raw, 1):
        if isinstance(item, str):
            item = {"path": item}
        path = item.get("path", "") if isinstance(item, dict) else None
        sha = item.get("sha256", "") if isinstance(item, dict) else None
        if not isinstance(path, str) or not isinstance(sha, str) or not (path or sha):
            raise TemplateError(f"{_where(source, text, 'references')}: reference {i} needs path = \"...\" "
                                "or sha256 = \"...\" (or both: the project's copy first, else the file).")
        if sha and not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise TemplateError(f"{_where(source, text, 'sha256', 'references')}: reference {i}: sha256 must be "
                                "64 lowercase hex digits.")
        out.append(TemplateRef(path=path, sha256=sha))
    return out


def render_template(prompt: str, *, description: str = "", slots: dict[str, list[str]] | None = None,
                    settings: dict[str, Any] | None = None, references: list[TemplateRef] | None = None,
                    note: str = "") -> str:
    """A template file's text (tomlkit), with comments a person can follow when editing it."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Banana Studio prompt template. {slot} is filled from [slots] or --set slot=a,b;"))
    doc.add(tomlkit.comment("{{ and }} are literal braces. See the README's Templates section."))
    if note:
        doc.add(tomlkit.comment(note.replace("\n", " ")))
    doc.add(tomlkit.nl())
    if description:
        doc["description"] = description
    doc["prompt"] = tomlkit.string(prompt, multiline="\n" in prompt) if "\n" in prompt else prompt
    table = tomlkit.table()
    for key, values in (slots or {}).items():
        table[key] = values[0] if len(values) == 1 else values
    if not table:
        table.add(tomlkit.comment('subject = ["red fox", "snowy owl"]'))
    doc["slots"] = table
    st = tomlkit.table()
    for key, value in (settings or {}).items():
        if value is not None and value != "":
            st[key] = value
    doc["settings"] = st
    if references:
        aot = tomlkit.aot()
        for r in references:
            t = tomlkit.table()
            if r.sha256:
                t["sha256"] = r.sha256
            if r.path:
                t["path"] = r.path
            aot.append(t)
        doc["references"] = aot
    return tomlkit.dumps(doc)


def value_lines(text: str) -> list[str]:
    """The values of an ``@file``: one per line; blank lines and ``#`` comments skipped."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
