"""What can continue from a turn: the cross-target check, "continue from the image alone", and
whether a project is a real one (demo mode asks before adding synthetic turns to it).

A branch carries thought signatures that only the service which made them accepts: continuing a
demo branch with Google (or a Gemini API branch on Vertex, or a real branch on the local server) is
refused here, before anything is recorded or sent.  What works instead is a new root turn whose
reference is the turn's final image (:func:`image_alone_request`): the picture carries over, the
conversation does not.

Sync functions over the store (a few reads): async callers use ``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.target import Target, crossing_message, first_crossing
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store.ledger import real_turn_count

CROSS_TARGET = "cross_target"
"""The :class:`EngineError` kind of the refusal (the TUI offers the alternative on it)."""

IMAGE_ALONE_KIND = "from_image"
"""The turn kind of "continue from the image alone" (a new root with the image as reference)."""


def crossing_problem(store: ProjectStore, parent_id: int, sending_to: Target) -> str | None:
    """Why the branch ending at ``parent_id`` cannot continue on ``sending_to`` (None = it can)."""
    path = []
    for t in store.path_to(parent_id, lazy_signatures=True):
        if t.status != "done" or t.model_content is None:
            continue  # not replayed
        made_on = Target.parse(t.target)
        # Only a turn of an unrecorded target is judged by its signatures' bytes: read just those.
        unknown = made_on is Target.UNKNOWN
        sigs = [p.thought_signature if p.thought_signature is not None
                else store.blob_bytes(p.signature_blob) if unknown and p.signature_blob is not None else b"?"
                for p in t.model_content.parts if p.has_signature]
        path.append((t.id, made_on, sigs))
    hit = first_crossing(path, sending_to)
    if hit is None:
        return None
    return crossing_message(parent_id, hit[1], sending_to)


def image_alone_request(store: ProjectStore, turn_id: int, prompt: str = "",
                        settings: GenerationSettings | None = None) -> Any:
    """A :class:`GenerateRequest` for a new root turn whose one reference is ``turn_id``'s final image
    (the settings default to the turn's).  Raises :class:`ProjectError` if the turn has no image."""
    from banana_studio.services.turn_request import GenerateRequest

    turn = store.get_turn(turn_id)
    finals = turn.final_images
    if not finals:
        raise ProjectError(f"Turn #{turn_id} has no final image to continue from.")
    image = finals[-1]
    data = store.blob_bytes(image.sha256)
    ref = store.add_reference_bytes(data, image.mime_type, f"#{turn_id} {Path(image.path).name}")
    return GenerateRequest(prompt=prompt, parent_id=None, references=[ref],
                           settings=(settings or turn.settings).copy(), kind=IMAGE_ALONE_KIND)


def final_image_path(store: ProjectStore, turn_id: int) -> Path:
    """The file of ``turn_id``'s final image (for the TUI's reference tray)."""
    turn = store.get_turn(turn_id)
    if not turn.final_images:
        raise ProjectError(f"Turn #{turn_id} has no final image to continue from.")
    return store.abs_path(turn.final_images[-1].path)


def real_project_reason(project_dir: Path, real_root: Path) -> str:
    """Why ``project_dir`` is a real project ('' = it is not): it lives under the real projects root
    or holds turns not made by the local server (in the demo folder: turns known to be real).
    Read-only."""
    from banana_studio.paths import demo_projects_root

    try:
        parent = Path(project_dir).resolve().parent
        under_real = parent == Path(real_root).expanduser().resolve()
        in_demo_root = parent == demo_projects_root(real_root).resolve()
    except OSError:
        under_real = in_demo_root = False
    # In the demo folder only turns known to be real count (unknown ones are old demo play).
    n_real = real_turn_count(project_dir, known_only=in_demo_root)
    if n_real:
        return f"it holds {n_real} turn{'s' if n_real != 1 else ''} made with the real API"
    if under_real:
        return f"it is in your real projects folder {Path(real_root).expanduser()}"
    return ""
