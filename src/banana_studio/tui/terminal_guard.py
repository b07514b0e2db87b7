"""The TUI's last line of defence against terminal injection: no widget can write a raw control character.

Every widget draws through ``render_lines`` (the compositor asks each visible widget for its strips, and
``Strip.render`` writes each segment's text between the style's SGR codes).  :func:`install` wraps
``render_lines`` of :class:`textual.widget.Widget` and of every subclass that overrides it — the ones
that exist now and, through ``__init_subclass__``, every one defined later — so each strip is checked
on its way to the compositor.  A strip holding a C0 control (other than newline/tab, which Textual
never draws), DEL, a C1 control, a bidi override/isolate or a lone surrogate is rebuilt with each of
them shown as ONE visible cell (``ESC`` → ``␛``, C1/bidi → ``�``), at the same cell length, and a
hyperlink (OSC 8) whose target holds such characters is dropped.  This holds by construction: text
from the model, the project, image recipes or file names reaches the terminal only as printable
characters, whichever widget (log, detail, tree, gallery, palette, toast, title, modal, status line)
shows it and whether or not that widget remembered to escape it.

Exempt: the graphics widgets (any class with ``textual_image`` in its ancestry, or with
``RAW_TERMINAL_OUTPUT = True``) — their strips carry the sixel / Kitty sequences the app itself
generates from image pixels, never text from outside.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from banana_studio.domain.safetext import UNSAFE, terminal_cells

_installed = False
_EXEMPT: dict[type, bool] = {}
_WRAPPED_MARK = "_banana_guarded"


def _exempt(cls: type) -> bool:
    found = _EXEMPT.get(cls)
    if found is None:
        found = bool(getattr(cls, "RAW_TERMINAL_OUTPUT", False)) or any(
            (k.__module__ or "").startswith("textual_image") for k in cls.__mro__)
        _EXEMPT[cls] = found
    return found


def guard_strip(strip: Strip) -> Strip:
    """``strip`` itself when it is safe, else a copy with every unsafe character made visible."""
    search = UNSAFE.search
    unsafe = search(strip.text) is not None
    if not unsafe:
        for seg in strip:
            style = seg.style
            if style is not None and style._link and search(style._link) is not None:
                unsafe = True
                break
        else:
            return strip
    segments: list[Segment] = []
    for text, style, _control in strip:
        if style is not None and style._link and search(style._link) is not None:
            style = style.update_link(None)
        segments.append(Segment(terminal_cells(text), style))  # a control segment becomes plain text
    return Strip(segments).adjust_cell_length(strip.cell_length)


def guard_strips(strips: list[Strip]) -> list[Strip]:
    return [guard_strip(s) for s in strips]


def _wrap(cls: type) -> None:
    original = cls.__dict__.get("render_lines")
    if original is None or getattr(original, _WRAPPED_MARK, False):
        return

    def render_lines(self: Any, crop: Any) -> list[Strip]:
        strips = original(self, crop)
        if _exempt(type(self)):
            return strips
        return guard_strips(strips)

    setattr(render_lines, _WRAPPED_MARK, True)
    render_lines.__doc__ = original.__doc__
    render_lines.__wrapped__ = original  # type: ignore[attr-defined]
    cls.render_lines = render_lines  # type: ignore[attr-defined]


def _all_subclasses(cls: type) -> list[type]:
    out: list[type] = []
    stack = [cls]
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(c.__subclasses__())
    return out


def install() -> None:
    """Guard every widget class, now and later (idempotent)."""
    global _installed
    if _installed:
        return
    for cls in _all_subclasses(Widget):
        _wrap(cls)
    original_init_subclass = Widget.__dict__["__init_subclass__"].__func__

    def __init_subclass__(cls: type, **kwargs: Any) -> None:
        original_init_subclass(cls, **kwargs)
        _wrap(cls)

    Widget.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[assignment,method-assign]
    _installed = True


def is_installed() -> bool:
    return _installed
