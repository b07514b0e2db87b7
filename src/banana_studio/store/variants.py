"""Two pictures for one answer: the protected composite of a region edit and the untouched model output.

Both are files of the turn (``images`` rows).  The one *shown* has kind ``final`` — so the preview, the
gallery, exports and ``gen -o`` all use it without knowing about regions; the other has kind
``model`` (the untouched output, when the composite is shown) or ``protected`` (the composite, when the
model output is shown).  Switching swaps the two kinds in one transaction.  The model's answer in
``model_json`` (replayed in later turns, thought signatures byte-exact) is never touched.

Order on disk: the composite's blob and file land first (atomically), then one transaction records
the file and swaps the kinds.  A kill in between leaves the turn showing the model output, plus an
unrecorded ``-protected`` file that :func:`sweep_unrecorded` removes (the studio calls it on open).
"""

from __future__ import annotations

import os
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from banana_studio.domain.content import sha256_hex
from banana_studio.domain.turn import ImageFile, Turn
from banana_studio.store.names import ProjectError
from banana_studio.store.recipe import embed_recipe

if TYPE_CHECKING:  # pragma: no cover
    from banana_studio.store.project import ProjectStore

SHOWN = "final"
MODEL = "model"
PROTECTED = "protected"
SUFFIX = "-protected"


def protected_path(final_rel: str) -> str:
    p = PurePosixPath(final_rel)
    return str(p.with_name(p.stem + SUFFIX + ".png"))


def record_protected(store: ProjectStore, turn_id: int, index: int, png: bytes, size: tuple[int, int]) -> Turn:
    """Store ``png`` (the composite of final image ``index``) and show it; the model output stays, as
    kind ``model``.  Idempotent for the same bytes."""
    turn = store.get_turn(turn_id)
    shown = next((i for i in turn.images if i.kind == SHOWN and i.index == index), None)
    if shown is None:
        raise ProjectError(f"Turn {turn_id} has no final image {index + 1} to protect.")
    if any(i.kind in (MODEL, PROTECTED) and i.index == index for i in turn.images):
        return turn  # already done (a second call, or the user switched)
    with store._gc_guard():
        sha = store._put_blob(png)
        row = store._turn_row(turn_id)
        rel = protected_path(shown.path)
        file_bytes = embed_recipe(png, store._recipe(row, sha, PROTECTED, index))
        try:
            store._write(store.abs_path(rel), file_bytes)
        except OSError as exc:
            raise ProjectError(f"Cannot write image {rel}: {exc.strerror}.") from exc
        with store._tx() as c:
            store._require(c, turn_id)
            c.execute("UPDATE images SET kind = ? WHERE turn_id = ? AND kind = ? AND idx = ?",
                      (MODEL, turn_id, SHOWN, index))
            c.execute(
                "INSERT INTO images (turn_id, kind, idx, sha256, mime, path, width, height, file_sha256) "
                "VALUES (?, ?, ?, ?, 'image/png', ?, ?, ?, ?)",
                (turn_id, SHOWN, index, sha, rel, size[0], size[1], sha256_hex(file_bytes)))
            c.execute("INSERT OR IGNORE INTO turn_blobs(turn_id, sha256) VALUES (?, ?)", (turn_id, sha))
    return store.get_turn(turn_id)


def variants(turn: Turn, index: int = 0) -> tuple[ImageFile | None, ImageFile | None, bool]:
    """``(protected, model_output, protected_is_shown)`` of final image ``index`` (None where absent)."""
    shown = next((i for i in turn.images if i.kind == SHOWN and i.index == index), None)
    model = next((i for i in turn.images if i.kind == MODEL and i.index == index), None)
    hidden = next((i for i in turn.images if i.kind == PROTECTED and i.index == index), None)
    if model is not None:
        return shown, model, True
    if hidden is not None:
        return hidden, shown, False
    return None, shown, False


def show(store: ProjectStore, turn_id: int, protected: bool) -> Turn:
    """Show the protected composite (``True``) or the untouched model output of every final image."""
    want_hidden = MODEL if protected else PROTECTED
    other = PROTECTED if protected else MODEL
    with store._tx() as c:
        store._require(c, turn_id)
        rows = c.execute("SELECT id, idx FROM images WHERE turn_id = ? AND kind = ?", (turn_id, other)).fetchall()
        for image_id, idx in rows:
            c.execute("UPDATE images SET kind = ? WHERE turn_id = ? AND kind = ? AND idx = ?",
                      (want_hidden, turn_id, SHOWN, idx))
            c.execute("UPDATE images SET kind = ? WHERE id = ?", (SHOWN, image_id))
    return store.get_turn(turn_id)


def sweep_unrecorded(store: ProjectStore) -> list[str]:
    """Remove ``images/*-protected.png`` files no row records (a kill between file and row)."""
    folder = store.path / "images"
    try:
        names = [e.name for e in os.scandir(folder) if e.is_file(follow_symlinks=False)
                 and e.name.endswith(SUFFIX + ".png")]
    except OSError:
        return []
    if not names:
        return []
    with store._gc_guard(exclusive=True):  # a writer holds it shared from file to row
        return _sweep(store, folder, names)


def _sweep(store: ProjectStore, folder: os.PathLike[str], names: list[str]) -> list[str]:
    from pathlib import Path

    folder = Path(folder)
    recorded = {str(r[0]) for r in store._query("SELECT path FROM images WHERE path LIKE ?", (f"%{SUFFIX}.png",))}
    removed: list[str] = []
    for name in names:
        rel = f"images/{name}"
        if rel not in recorded:
            try:
                (folder / name).unlink()
                removed.append(rel)
            except OSError:
                continue
    return removed


def turn_of_path(store: ProjectStore, rel: str) -> int | None:
    """The turn an image file (path relative to the project) belongs to, any kind."""
    rows = store._query("SELECT turn_id FROM images WHERE path = ? LIMIT 1", (rel,))
    return int(rows[0][0]) if rows else None
