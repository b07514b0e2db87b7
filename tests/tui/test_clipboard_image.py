"""The picture itself on the clipboard (kitty's OSC 5522): detection, the packets, the answer filter,
and ``y`` in the studio on a terminal that said it takes images (else the scp command, as before)."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from textual._xterm_parser import XTermParser

from banana_studio.tui import clipboard_image
from banana_studio.tui.app import make_app
from banana_studio.tui.clipboard_image import AnswerFilter, supports, write_packets
from banana_studio.tui.screens.main import MainScreen

SIZE = (140, 45)
_PACKET = re.compile(r"\x1b\]5522;([^;\x1b]*)(?:;([A-Za-z0-9+/=]*))?\x1b\\")


def decode(stream: str) -> tuple[list[str], dict[str, bytes]]:
    """The packets' metadata in order, and the data of each MIME type (its chunks joined)."""
    metas: list[str] = []
    data: dict[str, bytes] = {}
    assert _PACKET.sub("", stream) == "", "bytes outside the OSC 5522 packets"
    for meta, payload in _PACKET.findall(stream):
        metas.append(meta.split(":mime=")[0])
        if ":mime=" in meta:
            mime = base64.b64decode(meta.split(":mime=")[1]).decode()
            chunk = base64.b64decode(payload)
            assert len(chunk) <= clipboard_image.CHUNK
            data[mime] = data.get(mime, b"") + chunk
    return metas, data


def test_only_a_known_mode_counts_as_support() -> None:
    for ps, yes in (("1", True), ("2", True), ("3", True), ("0", False), ("4", False)):
        assert supports(f"\x1b[?5522;{ps}$y\x1b[?62;22c") is yes
    assert not supports("\x1b[?62;4;22c")  # the mode query ignored: only the DA1 answer came


def test_packets_write_one_entry_with_every_type_in_chunks() -> None:
    image = bytes(range(256)) * 40  # 10 KiB: three chunks
    metas, data = decode("".join(write_packets([("image/png", image), ("text/plain", b"scp x .")])))
    assert metas[0] == "type=write" and metas[-1] == "type=wdata" and metas.count("type=wdata") == 5
    assert data == {"image/png": image, "text/plain": b"scp x ."}


def test_the_filter_drops_answers_across_reads_and_keeps_keys() -> None:
    f = AnswerFilter()
    assert f.feed("a\x1b]5522;type=write:status=DONE\x1b\\b") == "ab"
    assert f.feed("c\x1b]5522;type=wr") == "c" and f.feed("ite:status=EPERM\x07d") == "d"
    assert f.feed("e\x1b]55") == "e" and f.feed("22;type=write:status=DONE\x1b\\") == ""
    assert f.feed("\x1b[A") == "\x1b[A" and f.feed("\x1b") == "\x1b"  # arrows and Esc pass at once
    assert f.feed("x\x1b]") == "x" and f.flush() == "\x1b]"  # not an answer after all: input on the tick
    assert f.feed("\x1b]5522;" + "A" * (AnswerFilter.LIMIT + 10)) == "" and f.held == ""  # a runaway: dropped


def test_textual_never_replays_an_answer_as_keys() -> None:
    """Textual's parser turned ``OSC 5522;type=write:status=DONE ST`` into the keys ``]``, ``5``, … ``y``
    (which copies again) — the filter is installed with the app."""
    clipboard_image.install_input_filter()
    parser = XTermParser()
    events = [*parser.feed("q\x1b]5522;type=write:status=DONE\x1b\\"), *parser.feed("\x1b]5522;type=wr"),
              *parser.feed("ite:status=DONE\x1b\\z")]
    assert [getattr(e, "key", type(e).__name__) for e in events] == ["q", "z"]


async def test_y_puts_the_image_and_the_command_on_the_clipboard(demo_studio: Any, h: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSH_CONNECTION", "203.0.113.9 50022 198.51.100.7 22")
    monkeypatch.setenv("LOGNAME", "ana")
    monkeypatch.setattr(clipboard_image, "supported", True)  # as the probe sets it on such a terminal
    store = demo_studio.store
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        written: list[str] = []
        monkeypatch.setattr(app._driver, "write", written.append)
        await h.send_prompt(pilot, main, "a red fox")
        await pilot.press("escape")
        image = store.abs_path(store.get_turn(1).final_images[0].path)
        written.clear()
        await pilot.press("y")
        await h.wait_until(pilot, lambda: any("5522;type=write" in w for w in written), what="the clipboard write")
        stream = "".join(w for w in written if "5522;" in w)
        _, data = decode(stream)
        command = f"scp -p ana@198.51.100.7:{image} ."
        assert data == {"image/jpeg": image.read_bytes(), "text/plain": command.encode()}
        assert app.clipboard != command  # no OSC 52 as well: one entry, two types
        assert any("image itself" in (n.title or "") for n in app._notifications)
