"""Named references for the studio and the command line: the libraries (a project's, then the
user's), saving images under a name, and expanding ``@name`` in a prompt into reference images.

:func:`expand_references` is the one expansion, used by :meth:`Studio.generate` for every request
that asks for it (the studio's send, ``banana-studio gen``, variations): each ``@name`` of the prompt
becomes its images, copied into the project's references and tagged with the name, so the turn
records the name and the hashes.  A re-roll or retry sends the turn's recorded references and never
expands again: it uses the same images even if the name points elsewhere by then.

Sync functions (files, SQLite through the store): async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from banana_studio.domain.catalogue import get_model
from banana_studio.domain.named_refs import RefNameError, names_in, validate_name
from banana_studio.domain.safetext import display_text
from banana_studio.domain.turn import Reference
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store.named_refs import NamedRef, RefLibrary
from banana_studio.store.references import read_reference_file

__all__ = ["NamedRef", "NamedReferences", "expand_references"]


class NamedReferences:
    """The reference libraries seen from one project (``project_path`` None: the user's only)."""

    def __init__(self, project_path: Path | None = None, *, user_root: Path | None = None) -> None:
        self.user = RefLibrary(user_root, "user") if user_root is not None else RefLibrary.user()
        self.project = RefLibrary.for_project(project_path) if project_path is not None else None

    def library(self, scope: str) -> RefLibrary:
        if scope == "project":
            if self.project is None:
                raise ProjectError("No project is open: save the name in the user library (--user).")
            return self.project
        if scope == "user":
            return self.user
        raise ProjectError(f"Unknown reference library {display_text(scope, one_line=True)!r} (project or user).")

    def _libraries(self) -> list[RefLibrary]:
        return [lib for lib in (self.project, self.user) if lib is not None]

    # -- reads ----------------------------------------------------------------------------------
    def resolve(self, name: str) -> NamedRef | None:
        """The pointing ``name`` has now: the project's library first, then the user's."""
        name = check_name(name)
        for lib in self._libraries():
            found = lib.get(name)
            if found is not None:
                return found
        return None

    def all(self) -> list[NamedRef]:
        """Every name that points somewhere, project names first; a user name that a project name of
        the same spelling hides is left out (it is not what ``@name`` means here)."""
        out: list[NamedRef] = []
        seen: set[str] = set()
        for lib in self._libraries():
            for ref in lib.all():
                if ref.name not in seen:
                    seen.add(ref.name)
                    out.append(ref)
        return out

    def names(self) -> list[str]:
        return sorted(ref.name for ref in self.all())

    def history(self, name: str) -> list[NamedRef]:
        """Every pointing of ``name`` in every library, newest first."""
        name = check_name(name)
        found = [ref for lib in self._libraries() for ref in lib.history(name)]
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    def image_bytes(self, ref: NamedRef, index: int) -> bytes:
        return self.library(ref.scope).image_bytes(ref.images[index])

    # -- writes ---------------------------------------------------------------------------------
    def save_files(self, name: str, paths: Sequence[Path], scope: str = "user") -> NamedRef:
        """Point ``name`` at the image files ``paths`` (each checked completely)."""
        name = check_name(name)
        items = [(read_reference_file(Path(p).expanduser()), Path(p).name) for p in paths]
        return self.library(scope).save(name, items, note="files")

    def save_turn_image(self, name: str, store: ProjectStore, turn_id: int, index: int = 0,
                        scope: str = "user") -> NamedRef:
        """Point ``name`` at the final image ``index`` of turn ``turn_id`` of ``store``."""
        name = check_name(name)
        turn = store.get_turn(turn_id)
        finals = turn.final_images
        if not finals:
            raise ProjectError(f"Turn #{turn_id} has no final image to save as {name}.")
        img = finals[min(max(index, 0), len(finals) - 1)]
        data = store.blob_bytes(img.sha256)
        label = f"turn #{turn_id} of {store.name}"
        return self.library(scope).save(name, [(data, label)], note=label)

    def remove(self, name: str, scope: str | None = None) -> NamedRef:
        """Stop ``name`` pointing anywhere in ``scope`` (None: the library it resolves in)."""
        name = check_name(name)
        libs = [self.library(scope)] if scope else self._libraries()
        for lib in libs:
            current = lib.get(name)
            if current is not None and lib.remove(name):
                return current
        raise ProjectError(f"There is no named reference {name}{f' in the {scope} library' if scope else ''}.")


def check_name(raw: str) -> str:
    """``raw`` as a canonical name, else :class:`ProjectError` with the reason (the user's text shown
    through the sanitising boundary)."""
    try:
        return validate_name(raw)
    except RefNameError as exc:
        shown = display_text(raw, one_line=True)
        raise ProjectError(f"{shown!r} is not a reference name. {exc}") from None


def unknown_name(name: str, known: Sequence[str]) -> str:
    hint = f" Saved names: {', '.join(known[:12])}{' …' if len(known) > 12 else ''}." if known else ""
    return (f"There is no named reference {name}.{hint} Save one with `banana-studio ref save {name} IMAGE` (or "
            f"\"Save image as named reference…\" in the studio), or write @{name} to send the text {name} itself.")


def expand_references(store: ProjectStore, library: NamedReferences, prompt: str,
                      references: Sequence[Path | Reference], model: str) -> list[Path | Reference]:
    """``references`` followed by the images of every ``@name`` of ``prompt`` (in order of first
    mention), copied into the project and tagged with their name.  Names already expanded in
    ``references`` are not expanded again.  Raises :class:`ProjectError` for an unknown name, or when
    the references would be more than the model takes (nothing is copied then)."""
    wanted = [n for n in names_in(prompt) if not any(isinstance(r, Reference) and r.named == n for r in references)]
    if not wanted:
        return list(references)
    found: list[NamedRef] = []
    for name in wanted:
        ref = library.resolve(name)
        if ref is None:
            raise ProjectError(unknown_name(name, library.names()))
        found.append(ref)
    spec = get_model(model)
    total = len(references) + sum(len(r.images) for r in found)
    if total > spec.max_references:
        parts = [f"{r.name} {len(r.images)} image{'s' if len(r.images) != 1 else ''}" for r in found]
        if references:
            parts.append(f"{len(references)} other reference{'s' if len(references) != 1 else ''}")
        raise ProjectError(f"{total} reference images ({', '.join(parts)}): {spec.label} accepts at most "
                           f"{spec.max_references}. Remove {total - spec.max_references}, or point a name at "
                           "fewer images.")
    out: list[Path | Reference] = list(references)
    for ref in found:
        for i, image in enumerate(ref.images):
            data = library.image_bytes(ref, i)
            stored = store.add_reference_bytes(data, image.mime_type, image.label or ref.name)
            out.append(dataclasses.replace(stored, named=ref.name))
    return out
