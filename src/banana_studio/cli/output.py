"""The CLI's one output boundary: every command writes through :func:`safe_output`.

While a command runs, ``sys.stdout`` and ``sys.stderr`` are wrapped so that whatever is printed —
prompts, labels, recipes read from images, project folder names, model text, server messages,
argparse errors, even a traceback — reaches the terminal with its control characters, bidi controls
and lone surrogates shown as escapes (:func:`~banana_studio.domain.safetext.display_text`).  JSON
output goes through :func:`print_json`, which escapes them as ``\\uXXXX`` (so the wrapper leaves it
untouched and it stays valid JSON).  The studio's TUI writes through Textual's driver to the real
terminal descriptor (``sys.__stderr__``), which this does not touch; it has its own guard.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any, TextIO

from banana_studio.domain.safetext import display_text, dumps_json


class SafeStream:
    """A text stream that shows control characters escaped; everything else is delegated."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    @property
    def inner(self) -> TextIO:
        return self._inner

    def write(self, text: str) -> int:
        self._inner.write(display_text(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer, ...
        return getattr(self._inner, name)


@contextlib.contextmanager
def safe_output() -> Iterator[None]:
    """Wrap ``sys.stdout`` / ``sys.stderr`` for the duration (idempotent, restored afterwards)."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, SafeStream) and sys.stdout is not None:
        sys.stdout = SafeStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, SafeStream) and sys.stderr is not None:
        sys.stderr = SafeStream(sys.stderr)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def _safe_excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    text = "".join(traceback.format_exception(kind, exc, tb))
    stream = sys.stderr if sys.stderr is not None else sys.__stderr__
    if stream is not None:
        stream.write(display_text(text))
        stream.flush()


def install_excepthook() -> None:
    """An uncaught exception's traceback (printed after :func:`safe_output` has ended) is escaped too."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _safe_excepthook


def print_json(obj: Any, *, file: TextIO | None = None, **kwargs: Any) -> None:
    """Print ``obj`` as JSON with every control / bidi character and lone surrogate ``\\u``-escaped."""
    print(dumps_json(obj, **kwargs), file=file if file is not None else sys.stdout)
