"""Hand-off: get the pictures off this (remote) box in one key.

* ``H`` starts the read-only web gallery (:mod:`banana_studio.web`) in this process if it is not
  running yet, copies its link with OSC 52 and shows it as an OSC 8 hyperlink, with the exact
  ``ssh -L PORT:127.0.0.1:PORT user@host`` line that makes it reachable from the person's own machine
  (host and port from ``SSH_CONNECTION``, else this box's host name).  From that screen ``s`` copies
  the ssh line, ``y`` an ``scp`` command for the selected image and ``b`` an ``rsync`` command for
  every picture of the selected branch.
* ``y`` on the main screen copies the ``scp`` command for the selected image.

On a terminal that said (to the start-up probe) that it takes any data type on the clipboard, ``y``
copies the image itself with the command as its text (tui/clipboard_image.py); never guessed from
``TERM``, which is wrong under tmux or over SSH.

The gallery serves the folder of projects the studio has open; it runs on a daemon thread and stops
with the studio.  Binding its socket and the store reads run off the event loop.
"""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import Static

from banana_studio.domain.imagetype import sniff_image_mime
from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural
from banana_studio.tui import actions, clipboard_image
from banana_studio.web import Gallery
from banana_studio.web.reach import Remote, UnsafePath, remote, rsync_command, scp_command, tunnel_line

if TYPE_CHECKING:
    from banana_studio.store import ProjectStore


class MainScreen(Protocol):
    """What the hand-off needs of the main screen (which it does not import: screens hand results back,
    they do not reach into it)."""

    app: App[Any]
    store: ProjectStore
    selected_id: int | None

    def notify(self, message: str, *, title: str = ..., severity: Any = ..., timeout: float | None = ...) -> None:
        ...

    def final_path(self) -> Path | None:
        """The selected turn's last final image (None, and said, without one)."""

    def need_turn(self) -> int | None:
        """The selected turn's id (None, and said, without one)."""

_galleries: weakref.WeakKeyDictionary[App[Any], Gallery] = weakref.WeakKeyDictionary()


def gallery_for(app: App[Any], root: Path) -> Gallery:
    """The app's gallery of ``root``: started on first use, restarted on another root (a project from
    another folder was opened), else reused — the link stays the same for the studio's lifetime."""
    g = _galleries.get(app)
    if g is not None and g.running and g.root == Path(root).expanduser():
        return g
    if g is not None:
        g.stop()
    g = Gallery(root).start()
    _galleries[app] = g
    weakref.finalize(app, g.stop)  # a studio that is gone (tests run many in one process) stops its gallery
    return g


def stop_gallery(app: App[Any]) -> None:
    g = _galleries.pop(app, None)
    if g is not None:
        g.stop()


def _image_of(screen: MainScreen) -> Path | None:
    return screen.final_path()  # notifies when no turn / no image is selected


async def _branch_images(screen: MainScreen) -> list[Path] | None:
    turn_id = screen.need_turn()
    if turn_id is None:
        return None
    store = screen.store
    turns = await asyncio.to_thread(store.path_to, turn_id)
    paths = [store.abs_path(im.path) for t in turns for im in t.final_images]
    if not paths:
        screen.notify(f"No turn of the branch to #{turn_id} has an image.", severity="warning")
        return None
    return paths


def copy_command(screen: MainScreen, command: str, what: str) -> None:
    screen.app.copy_to_clipboard(command)
    screen.notify(display_text(command), title=f"Copied (OSC 52): {what}", timeout=12)


async def copy_scp(screen: MainScreen) -> str | None:
    """Copy the ``scp`` command for the selected image — with the image itself when the terminal said it
    takes images on the clipboard (tui/clipboard_image.py); returns the command (None: nothing copied)."""
    path = _image_of(screen)
    if path is None:
        return None
    try:
        command = scp_command(path, remote())
    except UnsafePath as exc:
        screen.notify(display_text(str(exc)), severity="error")
        return None
    if clipboard_image.supported and await _copy_with_image(screen, path, command):
        return command
    copy_command(screen, command, "scp command for the image")
    return command


async def _copy_with_image(screen: MainScreen, path: Path, command: str) -> bool:
    def read() -> tuple[bytes, str | None]:
        if path.stat().st_size > clipboard_image.MAX_IMAGE_BYTES:
            return b"", None
        data = path.read_bytes()
        return data, sniff_image_mime(data)

    try:
        data, mime = await asyncio.to_thread(read)
    except OSError:
        return False
    if mime is None or not clipboard_image.copy(screen.app, [(mime, data), ("text/plain", command.encode())]):
        return False
    screen.notify(display_text(command), title="Copied the image itself (and, as text, the scp command)",
                  timeout=12)
    return True


async def copy_rsync(screen: MainScreen) -> str | None:
    paths = await _branch_images(screen)
    if paths is None:
        return None
    try:
        command = rsync_command(paths, remote())
    except UnsafePath as exc:
        screen.notify(display_text(str(exc)), severity="error")
        return None
    copy_command(screen, command, f"rsync command for the branch's {plural(len(paths), 'image')}")
    return command


def hyperlink(url: str) -> Content:
    """``url`` shown as itself and made a terminal hyperlink (OSC 8; terminals without it show text)."""
    return Content.styled(url, Style(link=url, underline=True))


class HandoffScreen(ModalScreen[None]):
    """The gallery link, the ssh tunnel line and the copy keys."""

    BINDINGS = actions.bindings("handoff")

    def __init__(self, main: MainScreen, gallery: Gallery, url: str, where: Remote) -> None:
        super().__init__(classes="modal")
        self.main, self.gallery, self.url, self.where = main, gallery, url, where
        self.tunnel = tunnel_line(gallery.port, where)

    def compose(self) -> ComposeResult:
        reach = ("From your machine, open the tunnel first (host from SSH_CONNECTION):" if self.where.from_ssh
                 else "From another machine, over SSH (this box's host name):")
        keys = Content.assemble(
            ("The link is on your clipboard (OSC 52).", "$success"), "\n",
            *[part for key, what in (("c", "link"), ("s", "ssh line"), ("y", "scp the image"),
                                     ("b", "rsync the branch"), ("Esc", "close"))
              for part in ((key, "bold"), f" {what}  ")])
        with Vertical(classes="modal-box", id="handoff") as box:
            box.border_title = "Hand-off: the web gallery (read-only)"
            yield Static(Content.styled(f"Projects in {display_text(str(self.gallery.root), one_line=True)}:",
                                        "dim"))
            yield Static(hyperlink(self.url), id="handoff-link")
            yield Static(Content.styled(reach, "dim"), classes="handoff-gap")
            yield Static(Content.styled(self.tunnel, "bold"), id="handoff-tunnel")
            yield Static(keys, id="handoff-keys", classes="handoff-gap")

    def on_mount(self) -> None:
        for gap in self.query(".handoff-gap"):
            gap.styles.margin = (1, 0, 0, 0)

    def action_copy_link(self) -> None:
        copy_command(self.main, self.url, "gallery link")

    def action_copy_tunnel(self) -> None:
        copy_command(self.main, self.tunnel, "ssh tunnel line")

    async def action_copy_scp(self) -> None:
        await copy_scp(self.main)

    async def action_copy_rsync(self) -> None:
        await copy_rsync(self.main)

    def action_close(self) -> None:
        self.dismiss(None)


async def show_handoff(screen: MainScreen) -> HandoffScreen | None:
    """``H``: start the gallery if needed, copy its link (to the selected turn's page when one is
    selected) and show the hand-off screen."""
    app, store = screen.app, screen.store
    try:
        gallery = await asyncio.to_thread(gallery_for, app, store.path.parent)
    except OSError as exc:
        screen.notify(f"Cannot start the gallery on 127.0.0.1: {exc.strerror or exc}.", severity="error")
        return None
    url = gallery.project_url(store.path.name)
    if screen.selected_id is not None and screen.selected_id >= 0:
        url += f"t/{int(screen.selected_id)}"
    app.copy_to_clipboard(url)
    modal = HandoffScreen(screen, gallery, url, remote())
    await app.push_screen(modal)
    return modal
