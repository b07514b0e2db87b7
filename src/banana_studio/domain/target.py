"""Where a turn was made: the local (demo) server, the Gemini API or Vertex AI.

Every turn records its target.  Money counts only for real targets; a branch continues only on the
target that made its history (thought signatures are only valid where they were made), so crossing
is refused before anything is sent and "continue from the image alone" is offered instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Target(StrEnum):
    LOCAL = "local"
    """The built-in local server (demo mode): synthetic images, simulated costs."""
    GEMINI_API = "gemini-api"
    VERTEX = "vertex"
    UNKNOWN = "unknown"
    """Made before targets were recorded, and nothing in the turn tells."""

    @classmethod
    def parse(cls, value: object) -> Target:
        try:
            return cls(str(value or "unknown"))
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_real(self) -> bool:
        """Real money (anything not made by the local server; unknown counts as real, to be safe)."""
        return self is not Target.LOCAL

    @property
    def label(self) -> str:
        return TARGET_LABELS[self]


TARGET_LABELS = {
    Target.LOCAL: "demo (local server)",
    Target.GEMINI_API: "Gemini API",
    Target.VERTEX: "Vertex AI",
    Target.UNKNOWN: "unknown target",
}

DEMO_TARGET_TEXT = "Demo (local server)"
"""How a demo target names itself (status bar, ``gen``'s header, a batch job record's ``target``)."""

DEMO_BADGE = "DEMO"
"""The short badge shown beside demo turns (tree, gallery, viewer, turn detail)."""

LOCAL_SIGNATURE_MAGIC = b"\x0a\x8c\x03BSFK"
"""How every thought signature of the local server begins (a protobuf-like length header then the
marker, then the format's version digit: ``1`` small, ``2`` real-size; Google's signatures never carry
it).  Lets old turns be recognised as demo turns."""

CONTINUE_FROM_IMAGE = "continue from the image alone"


def is_local_signature(sig: bytes | None) -> bool:
    return bool(sig) and bytes(sig or b"").startswith(LOCAL_SIGNATURE_MAGIC)


def infer_target(signatures: Iterable[bytes]) -> Target:
    """Best guess for a turn recorded before targets were.  Local-server signatures tell a demo turn.
    The model version does not help (the local server answers with the requested model id, as Google
    does) and Gemini API and Vertex signatures look alike, so anything else stays unknown."""
    sigs = [s for s in signatures if s]
    if sigs and all(is_local_signature(s) for s in sigs):
        return Target.LOCAL
    return Target.UNKNOWN


def crossing_message(turn_id: int, made_on: Target, sending_to: Target) -> str:
    """The refusal for continuing a branch made on ``made_on`` with ``sending_to``."""
    made = "an unrecorded target" if made_on is Target.UNKNOWN else made_on.label
    why = ("its thought signatures were made by the local demo server; Google rejects them"
           if made_on is Target.LOCAL else
           "the local demo server cannot verify Google's thought signatures"
           if sending_to is Target.LOCAL else
           "thought signatures are only valid on the service that made them")
    return (f"The branch of turn #{turn_id} was made with {made}, but this studio sends to {sending_to.label}: "
            f"the branch cannot continue here ({why}). Nothing was sent. Instead, {CONTINUE_FROM_IMAGE}: "
            f"a new root turn with #{turn_id}'s image as a reference (the conversation is not carried over).")


def first_crossing(path: Iterable[tuple[int, Target, list[bytes]]],
                   sending_to: Target) -> tuple[int, Target] | None:
    """The first turn of a branch (id, target, its signatures) that cannot be continued on ``sending_to``.

    A turn of another known target crosses.  An unknown turn crosses when its signatures tell a
    different side: local-server signatures sent to Google, or foreign signatures sent to the local
    server.  Turns without signatures (or unknown with no evidence) are let through.
    """
    for turn_id, made_on, sigs in path:
        if made_on is Target.UNKNOWN:
            made_on = infer_target(sigs)
            if made_on is Target.UNKNOWN and sending_to is Target.LOCAL and any(sigs):
                return turn_id, Target.UNKNOWN
        if made_on is Target.UNKNOWN or made_on is sending_to:
            continue
        return turn_id, made_on
    return None
