"""The one sanitising boundary for text that came from outside (model thoughts and answers, grounding,
server messages, stored prompts and labels, recipes read from images, file and folder names).

Such text is stored as received (only made valid: see :func:`valid_text`), and every display path
shows it through this module:

* :func:`display_text` — for text written to a terminal or a log: C0 controls except newline and
  tab, DEL, C1 controls, bidi embeddings/overrides/isolates and lone surrogates become visible escapes
  (``ESC`` → ``\\x1b``, ``U+009B`` → ``\\x9b``, ``U+202E`` → ``\\u202e``).
* :func:`terminal_cells` — the same characters as ONE visible cell each (``ESC`` → ``␛``), for
  places where the column layout is already computed (the TUI's last-line guard).
* :func:`dumps_json` — JSON in which those characters only ever appear as ``\\uXXXX`` escapes
  (``json.dumps(ensure_ascii=False)`` passes C1 and bidi controls through raw).

Pure functions, no dependencies: the CLI's output streams and the TUI's render guard both use them.
"""

from __future__ import annotations

import json
import re
from typing import Any

BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Embeddings, overrides (LRE RLE PDF LRO RLO) and isolates (LRI RLI FSI PDI): they reorder what
follows them on the line, so a string can look like something else ("Trojan Source")."""

UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + BIDI_CONTROLS + "\ud800-\udfff]")
"""Everything that must never reach a terminal raw.  (In a Python ``str`` every surrogate code point
is a lone surrogate: valid pairs are already combined into one character.)"""

UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f" + BIDI_CONTROLS + "\ud800-\udfff]")

_SURROGATES = re.compile("[\ud800-\udfff]")


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def has_unsafe(text: str) -> bool:
    return UNSAFE.search(text) is not None


def display_text(text: Any, *, one_line: bool = False) -> str:
    """``text`` safe to show: every unsafe character becomes a visible escape.  ``one_line`` also turns
    newlines and tabs into spaces (list rows, titles, table cells)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if one_line:
        if UNSAFE_ONE_LINE.search(text) is None:
            return text
        return UNSAFE_ONE_LINE.sub(lambda m: " " if m.group() in "\n\t\r" else _escape(m.group()), text)
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(lambda m: _escape(m.group()), text)


def _cell(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # Control Pictures: ␛ ␇ ␈ ...
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1, bidi controls, lone surrogates


def terminal_cells(text: str) -> str:
    """``text`` with each unsafe character replaced by ONE visible cell (``␛``, ``␇``, ``␡``, ``�``)."""
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(lambda m: _cell(m.group()), text)


def valid_text(text: str) -> str:
    """``text`` encodable as UTF-8 (SQLite, files, JSON): lone surrogates become U+FFFD."""
    if _SURROGATES.search(text) is None:
        return text
    return _SURROGATES.sub("\ufffd", text)


_JSON_UNSAFE = re.compile("[\x7f-\x9f" + BIDI_CONTROLS + "\ud800-\udfff]")


def dumps_json(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` with readable non-ASCII text but every control, bidi control and lone surrogate
    as a ``\\uXXXX`` escape, so the JSON is valid, UTF-8 encodable and inert on a terminal."""
    kwargs.setdefault("ensure_ascii", False)
    text = json.dumps(obj, **kwargs)
    if _JSON_UNSAFE.search(text) is None:
        return text
    # Outside strings JSON is plain ASCII, so these characters can only sit inside string literals.
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
