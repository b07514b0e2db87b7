"""What depends on the operating system: opening a file in the system's viewer, and writing text in
the user's editor ($VISUAL / $EDITOR) while the studio is suspended."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.app import App


def system_opener() -> str | None:
    """The program that opens a file in the desktop's viewer; None over SSH or without a display."""
    opener = None
    if sys.platform == "darwin":
        opener = "open"
    elif os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        opener = shutil.which("xdg-open")
    if os.environ.get("SSH_CONNECTION"):
        return None
    return opener


def open_file(opener: str, path: Path) -> None:
    """Start ``opener path`` detached from the terminal.  Raises OSError if it cannot start."""
    subprocess.Popen([opener, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)


@dataclass(frozen=True, slots=True)
class Edited:
    """The outcome of :func:`edit_text`: ``text`` is None when the text was not changed."""

    text: str | None
    problem: str = ""
    severity: str = "warning"


def edit_text(app: App[Any], text: str, *, suffix: str = ".txt", what: str = "prompts") -> Edited:
    """Let the user edit ``text`` in $VISUAL / $EDITOR; the app is suspended meanwhile.  ``suffix``
    names the temp file's type for the editor (``.toml`` for a template, whose text is kept as is)."""
    from textual.app import SuspendNotSupported

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        return Edited(None, f"Set $EDITOR (or $VISUAL) to edit {what} in your editor.")
    with tempfile.NamedTemporaryFile("w", suffix=suffix, prefix="banana-prompt-", delete=False,
                                     encoding="utf-8") as fh:
        fh.write(text)
        path = Path(fh.name)
    try:
        with app.suspend():
            result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        if result.returncode != 0:
            return Edited(None, f"{editor} exited with status {result.returncode}; nothing was changed.")
        edited = path.read_text(encoding="utf-8")
        return Edited(edited.rstrip("\n") if suffix == ".txt" else edited)
    except SuspendNotSupported:
        return Edited(None, "This terminal session cannot be suspended for an external editor.")
    except OSError as exc:
        return Edited(None, f"Could not run {editor}: {exc.strerror or exc}.", "error")
    finally:
        path.unlink(missing_ok=True)
