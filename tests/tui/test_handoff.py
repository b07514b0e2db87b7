"""Pilot tests of the hand-off keys: ``H`` (web gallery link + ssh tunnel line) and ``y`` (scp command)."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from typing import Any

import pytest
from textual.content import Content
from textual.widgets import Static

from banana_studio.tui.app import make_app
from banana_studio.tui.handoff import HandoffScreen, stop_gallery
from banana_studio.tui.screens.main import MainScreen

SIZE = (140, 45)


def links_in(widget: Static) -> list[str]:
    visual = widget.render()
    assert isinstance(visual, Content)
    return [s.style.link for s in visual.spans if hasattr(s.style, "link") and s.style.link]


@pytest.fixture
def over_ssh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.9 50022 198.51.100.7 2222")
    monkeypatch.setenv("LOGNAME", "ana")


async def test_y_copies_scp_and_H_shows_and_copies_the_gallery_link(demo_studio: Any, h: Any,
                                                                     over_ssh: None) -> None:
    store = demo_studio.store
    app = make_app(demo_studio)
    try:
        async with app.run_test(size=SIZE) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            await h.send_prompt(pilot, main, "a red fox")
            await h.send_prompt(pilot, main, "make it winter")
            await h.wait_until(pilot, lambda: main.shown_turn is not None and main.shown_turn.id == 2)
            await pilot.press("escape")  # leave the prompt: letters act on the turn
            image = store.abs_path(store.get_turn(2).final_images[0].path)

            await pilot.press("y")
            await h.wait_until(pilot, lambda: app.clipboard.startswith("scp "), what="the scp command")
            assert app.clipboard == f"scp -p -P 2222 ana@198.51.100.7:{image} ."

            await pilot.press("H")
            await h.wait_until(pilot, lambda: isinstance(app.screen, HandoffScreen), what="the hand-off screen")
            modal = app.screen
            assert isinstance(modal, HandoffScreen)
            port, token = modal.gallery.port, modal.gallery.token
            url = f"http://127.0.0.1:{port}/{token}/p/{store.path.name}/t/2"
            assert app.clipboard == url  # copied with OSC 52
            link = modal.query_one("#handoff-link", Static)
            assert links_in(link) == [url]
            # the bytes the terminal gets for that line: an OSC 8 hyperlink around the URL
            written = link.render_line(0).render(app.console)
            assert "\x1b]8;id=" in written and f";{url}\x1b\\" in written and "\x1b]8;;\x1b\\" in written
            tunnel = f"ssh -L {port}:127.0.0.1:{port} -p 2222 ana@198.51.100.7"
            assert str(modal.query_one("#handoff-tunnel", Static).render()) == tunnel

            # The link works: the turn's page, read-only, with its picture.
            page = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=30).read().decode())
            assert "make it winter" in page and f"/f/images/{image.name}" in page

            await pilot.press("s")
            assert app.clipboard == tunnel
            await pilot.press("b")
            await h.wait_until(pilot, lambda: app.clipboard.startswith("rsync "), what="the rsync command")
            first = store.abs_path(store.get_turn(1).final_images[0].path)
            assert app.clipboard == (f"rsync -av --protect-args -e 'ssh -p 2222' ana@198.51.100.7:{first} "
                                     f":{image} .")
            await pilot.press("c")
            assert app.clipboard == url
            await pilot.press("escape")
            await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")

            await pilot.press("H")  # again: the same gallery, the same link
            await h.wait_until(pilot, lambda: isinstance(app.screen, HandoffScreen), what="the hand-off screen")
            assert app.screen.gallery.port == port and app.clipboard == url  # type: ignore[attr-defined]
    finally:
        stop_gallery(app)


async def test_without_ssh_the_tunnel_names_this_host(demo_studio: Any, h: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGNAME", "ana")
    app = make_app(demo_studio)
    try:
        async with app.run_test(size=SIZE) as pilot:
            main = app.screen
            await pilot.press("escape")
            await pilot.press("H")  # no turn yet: the project's page
            await h.wait_until(pilot, lambda: isinstance(app.screen, HandoffScreen), what="the hand-off screen")
            modal = app.screen
            assert isinstance(modal, HandoffScreen) and isinstance(main, MainScreen)
            port = modal.gallery.port
            assert app.clipboard.endswith(f"/p/{demo_studio.store.path.name}/")
            tunnel = str(modal.query_one("#handoff-tunnel", Static).render())
            assert tunnel == f"ssh -L {port}:127.0.0.1:{port} ana@{socket.gethostname()}"
    finally:
        stop_gallery(app)


def test_the_palette_offers_both_hand_off_actions() -> None:
    from banana_studio.tui.commands import palette_actions

    ids = {a.binding_id for a in palette_actions()}
    assert {"main.handoff", "main.copy_scp"} <= ids


async def test_y_without_an_image_copies_nothing(demo_studio: Any, h: Any, over_ssh: None) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape")
        await pilot.press("y")
        await pilot.pause()
        assert not (app.clipboard or "").startswith("scp")
