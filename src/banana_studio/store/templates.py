"""Template files on disk: the user's library and a project's ``templates/`` folder.

Each template is ``<name>.toml`` (see :mod:`banana_studio.domain.template` for the format).  Looking a
name up tries the project's folder first, then the user's library, so a project can pin its own
version of a shared template.  Files are written atomically (temp file + fsync + rename) and read
with a size cap; their content and names are hostile input (shown through ``domain.safetext``).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from banana_studio.domain.template import (
    MAX_VALUES,
    NAME_RE,
    SUFFIX,
    Template,
    TemplateError,
    parse_template,
    valid_name,
    value_lines,
)
from banana_studio.store.files import atomic_write

PROJECT_DIR = "templates"
MAX_TEMPLATE_BYTES = 1024 * 1024
MAX_VALUES_BYTES = 4 * 1024 * 1024
PROJECT, USER = "project", "user"


@dataclass(frozen=True, slots=True)
class Entry:
    """A template file found in a library (parsed or not)."""

    name: str
    path: Path
    origin: str
    template: Template | None
    error: str = ""
    shadowed: bool = False
    """A project template of the same name hides this one."""


def folders(project_path: Path | None, user_dir: Path) -> list[tuple[str, Path]]:
    """(origin, folder) in lookup order: the project's ``templates/`` first, then the user's library."""
    out: list[tuple[str, Path]] = []
    if project_path is not None:
        out.append((PROJECT, Path(project_path) / PROJECT_DIR))
    out.append((USER, Path(user_dir)))
    return out


def read_text(path: Path, limit: int = MAX_TEMPLATE_BYTES, what: str = "Template") -> str:
    """A regular file's UTF-8 text, at most ``limit`` bytes; :class:`TemplateError` naming it otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TemplateError(f"{what} file {path} does not exist.") from None
    except OSError as exc:
        raise TemplateError(f"Cannot read {path}: {exc.strerror}.") from None
    if not stat.S_ISREG(st.st_mode):
        raise TemplateError(f"{path} is not a regular file.")
    if st.st_size > limit:
        raise TemplateError(f"{path} is larger than {limit // 1024} KB; that is not a {what.lower()} file.")
    try:
        data = path.read_bytes()[: limit + 1]
    except OSError as exc:
        raise TemplateError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise TemplateError(f"{path}, line {line}: not valid UTF-8 (byte 0x{data[exc.start]:02x}); save it as "
                            "UTF-8.") from None


def load(path: Path, origin: str = "") -> Template:
    """Parse the template file at ``path`` (its name is the file's stem)."""
    tpl = parse_template(read_text(path), path.stem, source=str(path))
    tpl.path = path
    tpl.origin = origin
    return tpl


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and not p.name.startswith("."))
    except OSError:
        return []


def list_entries(project_path: Path | None, user_dir: Path) -> list[Entry]:
    """Every template file of both libraries, by name (project first on a clash; the user's copy is
    listed as shadowed).  Broken files are listed with their error rather than hidden."""
    seen: set[str] = set()
    out: list[Entry] = []
    for origin, folder in folders(project_path, user_dir):
        for path in _files(folder):
            name = path.stem
            if not NAME_RE.fullmatch(name):
                out.append(Entry(name, path, origin, None, "not a usable template name (rename the file: "
                                 "letters, digits, '.', '_', '-')"))
                continue
            try:
                tpl: Template | None = load(path, origin)
                error = ""
            except TemplateError as exc:
                tpl, error = None, str(exc)
            out.append(Entry(name, path, origin, tpl, error, shadowed=name in seen))
            seen.add(name)
    return sorted(out, key=lambda e: (e.name.lower(), e.shadowed))


def locate(name: str, project_path: Path | None, user_dir: Path) -> tuple[str, Path]:
    """(origin, file) of the template called ``name`` (project folder first), parsed or not."""
    valid_name(name)
    for origin, folder in folders(project_path, user_dir):
        path = folder / f"{name}{SUFFIX}"
        if path.exists() or path.is_symlink():
            return origin, path
    where = " or ".join(str(f) for _, f in folders(project_path, user_dir))
    raise TemplateError(f"No template {name!r} in {where}. `banana-studio template list` shows them.")


def find(name: str, project_path: Path | None, user_dir: Path) -> Template:
    """The template called ``name`` (project folder first); :class:`TemplateError` if none or broken."""
    origin, path = locate(name, project_path, user_dir)
    return load(path, origin)


def path_for(name: str, origin: str, project_path: Path | None, user_dir: Path) -> Path:
    valid_name(name)
    if origin == PROJECT:
        if project_path is None:
            raise TemplateError("No project is open to hold a project template.")
        return Path(project_path) / PROJECT_DIR / f"{name}{SUFFIX}"
    return Path(user_dir) / f"{name}{SUFFIX}"


def write(path: Path, text: str, *, overwrite: bool = False) -> Path:
    """Write a template file atomically; refuses to replace one unless ``overwrite``."""
    if not overwrite and (path.exists() or path.is_symlink()):
        raise TemplateError(f"A template {path.stem!r} already exists ({path}); edit it or choose another name.")
    try:
        atomic_write(path, text.encode("utf-8"))
    except OSError as exc:
        raise TemplateError(f"Could not write {path}: {exc.strerror or exc}.") from None
    return path


def read_values(path: Path, base: Path | None = None) -> list[str]:
    """The values of an ``@file`` slot: its non-blank, non-``#`` lines (relative paths from ``base``)."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base is not None:
        p = base / p
    values = value_lines(read_text(p, MAX_VALUES_BYTES, "Values"))
    if not values:
        raise TemplateError(f"Values file {p} has no values (one per line; # starts a comment).")
    if len(values) > MAX_VALUES:
        raise TemplateError(f"Values file {p} has {len(values):,} values, more than {MAX_VALUES:,} for one slot.")
    return values
