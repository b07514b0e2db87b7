"""The picture itself on the clipboard, on terminals that say they can take it (kitty's OSC 5522).

Detected, never guessed: before Textual starts, the terminal probe (:mod:`tui.images.probe`) asks
``CSI ? 5522 $ p`` (DECRQM for the clipboard protocol's mode) followed by a DA1 request, which every
terminal answers, so the wait ends even when the first query is ignored.  Only an answer of 1, 2 or 3
(the mode is known) turns it on; inside tmux nothing is asked (tmux does not pass OSC 5522 on).

Then ``y`` writes one clipboard entry with two types: the image (its own bytes and MIME type) and, as
``text/plain``, the ready ``scp`` command — pasting into a shell gives the command, into an image
program the picture.  Packets follow the protocol: ``type=write``, ``type=wdata:mime=…`` chunks of at
most 4096 bytes before base64, an empty ``type=wdata`` to end.

The terminal answers a write with ``OSC 5522 ; type=write:status=… ST``.  Textual's input reader does
not know OSC answers and would replay it as key presses (``t``, ``y``, ``p``, ``e`` … into the focused
widget), so :func:`install_input_filter` drops complete OSC 5522 answers from the input before
Textual's parser sees them.
"""

from __future__ import annotations

import base64
import re
from typing import Any

QUERY = "\x1b[?5522$p\x1b[c"
"""DECRQM for mode 5522, then DA1 (its answer, ``CSI ? … c``, ends the wait)."""
CHUNK = 4096
MAX_IMAGE_BYTES = 48 * 1024 * 1024
"""Bigger files are not sent through the terminal (the scp command is copied instead)."""
_MODE_REPLY = re.compile(r"\x1b\[\?5522;(\d)\$y")
_START = "\x1b]5522;"

supported = False
"""Set by the terminal probe when the terminal reported the clipboard protocol's mode."""


def supports(reply: str) -> bool:
    """True when ``reply`` (the terminal's answer to :data:`QUERY`) reports mode 5522 as known."""
    m = _MODE_REPLY.search(reply)
    return m is not None and m.group(1) in ("1", "2", "3")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def write_packets(items: list[tuple[str, bytes]]) -> list[str]:
    """The escape sequences that put ``items`` (``(mime, data)``, each type's chunks in a row) on the
    clipboard as one entry."""
    packets = ["\x1b]5522;type=write\x1b\\"]
    for mime, data in items:
        tag = _b64(mime.encode("ascii"))
        for i in range(0, max(1, len(data)), CHUNK):
            packets.append(f"\x1b]5522;type=wdata:mime={tag};{_b64(data[i:i + CHUNK])}\x1b\\")
    packets.append("\x1b]5522;type=wdata\x1b\\")
    return packets


def copy(app: Any, items: list[tuple[str, bytes]]) -> bool:
    """Write ``items`` to the terminal's clipboard; False when this terminal did not say it can."""
    driver = getattr(app, "_driver", None)
    if not supported or driver is None:
        return False
    driver.write("".join(write_packets(items)))
    driver.flush()
    return True


class AnswerFilter:
    """Removes complete ``OSC 5522 … ST`` (or ``BEL``) answers from terminal input, across reads.  A
    read that ends inside one is held until its end arrives (a runaway one, past 64 KiB, is dropped);
    a read that ends with the first bytes of one (``ESC ]`` …) is held until the next read or tick."""

    LIMIT = 65536

    def __init__(self) -> None:
        self.held = ""

    def feed(self, data: str) -> str:
        buf, self.held = self.held + data, ""
        out: list[str] = []
        pos = 0
        while True:
            start = buf.find(_START, pos)
            if start < 0:
                rest = buf[pos:]
                keep = next((n for n in range(min(len(rest), len(_START) - 1), 1, -1)
                             if _START.startswith(rest[-n:])), 0)
                out.append(rest[:len(rest) - keep])
                self.held = rest[len(rest) - keep:]
                break
            out.append(buf[pos:start])
            ends = [e + len(t) for t in ("\x1b\\", "\x07") if (e := buf.find(t, start + len(_START))) >= 0]
            if not ends:
                self.held = buf[start:] if len(buf) - start <= self.LIMIT else ""
                break
            pos = min(ends)
        return "".join(out)

    def flush(self) -> str:
        """A tick with no new input: the first bytes of a sequence that never came are input after all
        (an inside-an-answer hold stays)."""
        if self.held and not self.held.startswith(_START):
            held, self.held = self.held, ""
            return held
        return ""


_installed = False


def install_input_filter() -> None:
    """Put an :class:`AnswerFilter` in front of every Textual input parser (idempotent)."""
    global _installed
    if _installed:
        return
    from textual._xterm_parser import XTermParser

    feed, tick = XTermParser.feed, XTermParser.tick

    def _filter(parser: Any) -> AnswerFilter:
        f = parser.__dict__.get("_osc5522_filter")
        if f is None:
            f = parser.__dict__["_osc5522_filter"] = AnswerFilter()
        return f

    def filtered_feed(self: Any, data: str) -> Any:
        if not data:  # end of input: whatever was held goes first
            held = _filter(self).held
            _filter(self).held = ""
            return [*feed(self, held), *feed(self, data)] if held and not held.startswith(_START) else feed(self, data)
        kept = _filter(self).feed(data)
        return feed(self, kept) if kept else []

    def filtered_tick(self: Any) -> Any:
        held = _filter(self).flush()
        return [*feed(self, held), *tick(self)] if held else tick(self)

    XTermParser.feed = filtered_feed  # type: ignore[method-assign]
    XTermParser.tick = filtered_tick  # type: ignore[method-assign]
    _installed = True
