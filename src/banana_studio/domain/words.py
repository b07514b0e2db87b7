"""Small wording helpers shared by the studio and the CLI (one spelling for one thing)."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 turn``, ``2 turns``, ``0 turns`` (``many`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


# One wording for one fault, in the studio and the CLI alike.

def missing_file(name: object) -> str:
    return f"{name} does not exist."


def folder_not_image(name: object) -> str:
    return f"{name} is a folder, not an image file."


def empty_image(name: str) -> str:
    return f"{name} is empty (0 bytes), not an image."


def unreadable_image(name: str) -> str:
    return f"{name} is not an image Banana Studio can read (PNG, JPEG, WebP, GIF or HEIC)."


def too_many_references(n: int, model_label: str, limit: int) -> str:
    return f"{n} reference images: {model_label} accepts at most {limit}. Remove {n - limit}."
