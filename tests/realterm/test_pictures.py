"""Pictures as a person sees them: the real studio in a real terminal, checked by the screenshot's pixels.

Each check compares the cells where the app laid a picture out with the picture's own file, cell by
cell (average colours, so sixel's 256-colour quantising and half-cell's 1×2 pixels per cell pass); a
one-band strip — the sixel regression of fcf4907 — scores one row out of many and fails.
"""

from __future__ import annotations

from collections.abc import Callable

from xsession import Match, Picture, Session, match, require

WHOLE = 0.9
"""Share of a picture's cells (and of its cell rows) that must show it."""


def whole(session: Session, picture: Picture) -> Match:
    assert session.last_shot is not None
    return match(session.last_shot, picture, tuple(session.last_layout["cell"]))  # type: ignore[arg-type]


def shows(screen: str, kind: str, count: int = 1, fills: float = 0.0) -> Callable[[Session], str | None]:
    """A check: the active screen is ``screen`` and ``count``+ pictures of ``kind`` are whole on it."""

    def check(session: Session) -> str | None:
        pictures = session.pictures(kind)
        layout = session.last_layout
        if layout.get("screen") != screen:
            return f"the active screen is {layout.get('screen')!r}, not {screen}"
        if len(pictures) < count:
            return f"{len(pictures)} {kind} picture(s) laid out, want {count}"
        results = [(p, whole(session, p)) for p in pictures]
        good = [(p, m) for p, m in results if m.cells >= WHOLE and m.rows >= WHOLE and p.fills >= fills]
        if len(good) < count:
            return "; ".join(f"{p.kind} {p.source.name} at {p.region} (fills {p.fills:.0%} of {p.box}): {m}"
                             for p, m in results)
        return None

    return check


def every(screen: str, kind: str) -> Callable[[Session], str | None]:
    """A check: every picture of ``kind`` laid out on ``screen`` (at least one) is whole -- a blank
    thumbnail beside two good ones is a blank thumbnail."""

    def check(session: Session) -> str | None:
        return shows(screen, kind, count=max(1, len(session.pictures(kind))))(session)

    return check


def start(session: Session, terminal: str = "xterm", *extra: str, size: tuple[int, int] = (140, 40)) -> None:
    session.start_x()
    session.start_studio(terminal, [*extra, "--demo", "-p", "demo"], geometry=size)

    def sized(s: Session) -> str | None:
        # A terminal on a loaded box has been seen to come up at its default 80 columns: set the size
        # asked for (no window manager, so the window takes it) and wait for the app to hear of it.
        layout = s.layout()
        if not layout:
            return "the studio has not reported its layout yet"
        if layout["size"] != list(size):
            cw, ch = layout["cell"]
            s.resize_window(size[0] * cw, size[1] * ch)
            return f"the terminal is {layout['size']}, want {list(size)}"
        return None

    session.wait_for("terminal size", sized)


def test_xterm_sixel_preview_survives_resize_and_modal(session: Session) -> None:
    """Main preview and the turn's thumbnails show the whole picture; still after a terminal resize
    (both ways) and after a modal screen (the command palette) closes."""
    require("xterm")
    start(session)
    session.wait_for("main preview", shows("MainScreen", "preview", fills=0.9))
    session.wait_for("turn thumbnails", every("MainScreen", "Thumbnail"))
    assert session.last_layout["protocol"] == "sixel", session.last_layout

    before = session.screenshot().copy()
    session.key("ctrl+p")

    def palette_drawn(s: Session) -> str | None:
        if not s.layout().get("modal"):
            return "no modal screen yet"
        return None if s.last_shot != before else "the modal is not on the screen yet"

    session.wait_for("the command palette", palette_drawn)
    session.key("Escape")
    session.wait_for("preview after the modal closed", shows("MainScreen", "preview", fills=0.9))
    session.wait_for("thumbnails after the modal closed", every("MainScreen", "Thumbnail"))

    cols, rows = session.last_layout["size"]
    cell_w, cell_h = session.last_layout["cell"]
    for new_cols, new_rows in ((cols - 24, rows - 6), (cols, rows)):
        session.resize_window(new_cols * cell_w, new_rows * cell_h)

        def resized(s: Session, size: list[int] = [new_cols, new_rows]) -> str | None:  # noqa: B006
            got = s.layout().get("size")
            if got != size:
                return f"terminal is {got}, want {size}"
            return shows("MainScreen", "preview", fills=0.9)(s)

        session.wait_for(f"preview at {new_cols}x{new_rows}", resized)
    session.wait_for("thumbnails after the resizes", every("MainScreen", "Thumbnail"))


def test_xterm_sixel_gallery_cards_and_viewer(session: Session) -> None:
    """Gallery cards and the full-screen viewer show whole pictures, and the cards and the main
    preview are whole again when the screens on top of them close."""
    require("xterm")
    start(session)
    session.wait_for("main preview", shows("MainScreen", "preview", fills=0.9))
    session.key("ctrl+g")
    session.wait_for("gallery cards", shows("GalleryScreen", "Thumbnail", count=2, fills=0.9))
    session.key("Return")
    session.wait_for("viewer", shows("ViewerScreen", "viewer-image", fills=0.95))
    viewer = session.pictures("viewer-image")[0]
    cols, rows = session.last_layout["size"]
    assert viewer.region[2] * viewer.region[3] >= 0.4 * cols * rows, f"the viewer's picture is small: {viewer}"
    session.key("Escape")
    session.wait_for("gallery cards after the viewer", shows("GalleryScreen", "Thumbnail", count=2, fills=0.9))
    session.key("Escape")
    session.wait_for("main preview after the gallery", shows("MainScreen", "preview", fills=0.9))


def test_xterm_halfcell_preview_and_cards(session: Session) -> None:
    """Half-cell rendering (``▀`` with truecolour) shows the whole picture too."""
    require("xterm")
    start(session, "xterm", "--image-protocol", "halfcell")
    session.wait_for("half-cell preview", shows("MainScreen", "preview", fills=0.9))
    assert session.last_layout["protocol"] == "halfcell"
    session.key("ctrl+g")
    session.wait_for("half-cell gallery cards", shows("GalleryScreen", "Thumbnail", count=2, fills=0.9))


def test_kitty_auto_shows_the_picture(session: Session) -> None:
    """In kitty under Xvfb (software GL), ``auto`` picks what this kitty can show — half-cell on kitty
    older than 0.28, whose graphics protocol lacks the Unicode placeholders — and the picture is whole."""
    require("kitty")
    start(session, "kitty")
    session.wait_for("kitty preview", shows("MainScreen", "preview", fills=0.9))
    session.key("ctrl+g")
    session.wait_for("kitty gallery cards", shows("GalleryScreen", "Thumbnail", count=2, fills=0.9))
