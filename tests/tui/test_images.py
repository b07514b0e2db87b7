"""Terminal image machinery: protocol choice, the xterm sixel fix, cached prescaling, no re-encodes."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
import weakref
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from textual.app import App, ComposeResult
from textual.widgets import Button, Static

from banana_studio.tui import images as im
from banana_studio.tui.images import decode as im_decode
from banana_studio.tui.images import halfcell as im_halfcell
from banana_studio.tui.images import patches as im_patches
from banana_studio.tui.images import probe as im_probe
from banana_studio.tui.images import protocol as im_protocol
from banana_studio.tui.images import sixel as im_sixel

# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _keep_protocol() -> Any:
    """Tests here switch the process-wide protocol; give the next test what it had."""
    saved = im_protocol._chosen_protocol
    yield
    im_protocol._chosen_protocol = saved


def _gradient(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h))
    d = ImageDraw.Draw(img)
    for x in range(0, w, max(1, w // 64)):
        d.rectangle([x, 0, x + w // 64, h], fill=(x * 255 // w, 120, 255 - x * 255 // w))
    d.ellipse([w // 4, h // 4, w // 2, h // 2], fill=(250, 220, 0))
    return img


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("img") / "huge.png"
    _gradient(5504, 3072).save(p, compress_level=1)
    return p


@pytest.fixture()
def small_png(tmp_path: Path) -> Path:
    p = tmp_path / "small.png"
    _gradient(640, 360).save(p)
    return p


class PreviewApp(App[None]):
    def __init__(self, protocol: str | None = None) -> None:
        super().__init__()
        self.protocol = protocol

    def compose(self) -> ComposeResult:
        yield im.ImagePreview(id="preview", protocol=self.protocol)
        yield Static("status", id="status")
        yield Button("button", id="button")


# -- protocol selection ---------------------------------------------------------------------------


@pytest.mark.parametrize("pref,expected", [("sixel", "sixel"), ("kitty", "kitty"), ("tgp", "kitty"),
                                           ("halfcell", "halfcell"), ("unicode", "unicode"), ("none", "none")])
def test_forced_protocols(pref: str, expected: str) -> None:
    assert im.select_image_protocol(pref) == expected
    assert im.current_protocol() == expected
    cls = im.image_widget_class()
    if expected == "none":
        assert cls is None
    else:
        assert cls is not None and cls.__name__.lower().startswith("stable")


def test_auto_without_tty_is_unicode() -> None:
    # Under pytest stdout is not a terminal: textual-image sent no query and picked Unicode.
    assert im.select_image_protocol("auto") == "unicode"
    assert im.select_image_protocol("bogus") == "unicode"


class _FakeTty:
    def isatty(self) -> bool:
        return True


def test_auto_prefers_halfcell_in_tmux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(im_protocol._ti_renderable, "Image", im_protocol._ti_renderable.SixelImage)
    monkeypatch.setattr(sys, "__stdout__", _FakeTty())
    monkeypatch.delenv("TMUX", raising=False)
    assert im.select_image_protocol("auto") == "sixel"
    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")
    assert im.select_image_protocol("auto") == "halfcell"
    assert im.select_image_protocol("sixel") == "sixel"  # forcing wins inside tmux


def _run_in_pty(code: str, rows: int, cols: int, env: dict[str, str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    fcntl_arg = struct.pack("HHHH", rows, cols, 0, 0)
    import fcntl

    fcntl.ioctl(slave, termios.TIOCSWINSZ, fcntl_arg)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=subprocess.PIPE,
                            env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    rc = proc.wait(timeout=10)
    os.close(master)
    return rc, out.decode(errors="replace")


@pytest.mark.parametrize("tmux", [False, True])
def test_zero_by_zero_pty_does_not_crash(tmux: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "BANANA_STUDIO_IMAGE_PROTOCOL")}
    if tmux:
        env["TMUX"] = "/tmp/fake-tmux,1,0"
    code = ("import banana_studio.tui.images as m; from textual_image._terminal import get_cell_size;"
            "print('PROTO', m.select_image_protocol('auto'), tuple(get_cell_size()), m.probe_notes())")
    rc, out = _run_in_pty(code, 0, 0, env)
    assert rc == 0, out
    assert "PROTO" in out
    assert "0x0 window" in out
    if tmux:
        assert "PROTO halfcell" in out
        assert "probes skipped" in out
        # No graphics query was written to the terminal.
        assert "\x1b_G" not in out and "\x1b[c" not in out


# -- the xterm colour register fix --------------------------------------------------------------


def test_sixel_registers_are_all_defined_first() -> None:
    img = _gradient(200, 120)
    raw = im_patches._ORIGINAL_IMAGE_TO_SIXELS(img, None, None)
    fixed = im.hoist_colour_registers(raw)
    defs = im_patches.REGISTER_DEF.findall(raw)
    assert len(defs) > 10
    # Every definition now precedes the first pixel byte.
    first_pixel = min(i for i, ch in enumerate(fixed) if "?" <= ch <= "~" and i > fixed.index('"'))
    head = fixed[:first_pixel]
    assert sorted(im_patches.REGISTER_DEF.findall(head)) == sorted(defs)
    assert im_patches.REGISTER_DEF.findall(fixed[first_pixel:]) == []
    # Same pixels: with definitions turned into selections, the bodies are identical.
    body_raw = im_patches.REGISTER_DEF.sub(lambda m: "#" + m.group(1), raw[raw.index("#"):])
    body_fixed = fixed[fixed.index("#") + len("".join(f"#{a};2;{b};{c};{d}" for a, b, c, d in defs)):]
    assert body_raw == body_fixed
    assert fixed.startswith("\x1bP") and fixed.endswith("\x1b\\")


def test_sixel_fix_leaves_conflicting_redefinitions_alone() -> None:
    data = '\x1bP0;0;0q"1;1;2;2#0;2;0;0;0!2~-#0;2;100;0;0!2~-\x1b\\'
    assert im.hoist_colour_registers(data) == data


def test_sixel_encoder_is_patched_everywhere() -> None:
    import textual_image._sixel as s
    import textual_image.renderable.sixel as rs
    import textual_image.widget.sixel as ws

    for mod in (s, rs, ws):
        assert mod.image_to_sixels is im_patches.fixed_image_to_sixels
    before = im.STATS.sixel_encodes
    out = ws.image_to_sixels(_gradient(60, 30))
    assert im.STATS.sixel_encodes == before + 1
    assert out.index("#") < out.index("~") or "~" not in out


# -- decoding, cache ----------------------------------------------------------------------------


def test_decode_scaled_downsizes_and_keeps_aspect(huge_png: Path) -> None:
    d = im.decode_scaled(huge_png, (1000, 800))
    assert d.source_size == (5504, 3072)
    assert d.image.width <= 1000 and d.image.height <= 800
    assert abs(d.image.width / d.image.height - 5504 / 3072) < 0.02


def test_decode_jpeg_uses_draft(tmp_path: Path) -> None:
    p = tmp_path / "big.jpg"
    _gradient(4000, 2000).save(p, quality=80)
    d = im.decode_scaled(p, (300, 300))
    assert d.image.size[0] <= 300 and d.source_size == (4000, 2000)


def test_broken_images_raise_readable_errors(tmp_path: Path, small_png: Path) -> None:
    truncated = tmp_path / "trunc.png"
    truncated.write_bytes(small_png.read_bytes()[:2000])
    with pytest.raises(im.ImageDecodeError, match=r"truncated|broken|end of file|image file"):
        im.decode_scaled(truncated, (100, 100))
    with pytest.raises(im.ImageDecodeError, match="not an image"):
        im.decode_scaled(b"hello, not an image", (100, 100))
    with pytest.raises(im.ImageDecodeError, match="not found"):
        im.decode_scaled(tmp_path / "missing.png", (100, 100))


def test_cache_is_lru_and_bounded(small_png: Path, tmp_path: Path) -> None:
    cache = im.PreviewCache(max_bytes=3 * 100 * 56 * 3)
    for i in range(5):
        cache.put(("k", i), im.Decoded(Image.new("RGB", (100, 56)), (100, 56), 100 * 56 * 3))
    assert len(cache) == 3 and cache.bytes <= cache.max_bytes
    assert cache.get(("k", 0)) is None and cache.get(("k", 4)) is not None
    # load_scaled hits the module cache for the same file + size, misses when the file changes.
    before = im.STATS.decodes
    a = im.load_scaled(small_png, (123, 77))
    b = im.load_scaled(small_png, (123, 77))
    assert a is b and im.STATS.decodes == before + 1
    _gradient(320, 200).save(small_png)
    os.utime(small_png, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    c = im.load_scaled(small_png, (123, 77))
    assert c is not a and c.source_size == (320, 200)
    data = small_png.read_bytes()
    assert im.load_scaled(data, (50, 50)) is im.load_scaled(bytes(data), (50, 50))


# -- the widget ---------------------------------------------------------------------------------


async def test_huge_image_is_decoded_and_prepared_off_the_event_loop(huge_png: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The decode + downscale of a 5504×3072 picture and its half-cell strips run in a worker thread,
    never on the event loop, and are done once, pre-scaled to the terminal size.  (How long the loop
    is held meanwhile is a measurement: benchmarks/bench_image_stall.py.)"""
    threads: dict[str, list[bool]] = {"decode": [], "strips": []}
    decode, strips = im.decode_scaled, im.halfcell_strips

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True

    def spy_decode(*args: Any, **kwargs: Any) -> Any:
        threads["decode"].append(on_loop())
        return decode(*args, **kwargs)

    def spy_strips(*args: Any, **kwargs: Any) -> Any:
        threads["strips"].append(on_loop())
        return strips(*args, **kwargs)

    monkeypatch.setattr(im_decode, "decode_scaled", spy_decode)
    monkeypatch.setattr(im_halfcell, "halfcell_strips", spy_strips)
    im.CACHE.clear()
    app = PreviewApp(protocol="halfcell")
    async with app.run_test(size=(120, 40)) as pilot:
        preview = app.query_one(im.ImagePreview)
        built = im.STATS.renderables
        assert await preview.show_path(huge_png)
        await pilot.pause()
        assert preview.source_size == (5504, 3072)
        widget = preview.image_widget
        assert widget is not None and widget.region.width > 0
        shown = widget.image  # type: ignore[attr-defined]
        assert shown.width <= 120 and shown.height <= 80  # pre-scaled to cells × 1×2 px, once
        assert widget.render_line(0).text.startswith("▀")
    assert threads["decode"] == [False], threads
    assert threads["strips"] and not any(threads["strips"]), threads
    assert im.STATS.renderables - built == 1  # the strips were built once, for the size the widget got


@pytest.mark.parametrize("protocol", ["halfcell", "unicode", "kitty"])
async def test_no_rebuild_on_unrelated_repaints(small_png: Path, protocol: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if protocol == "kitty":
        # The TGP renderable uploads to the real stdout; count uploads instead of sending them.
        sent: list[dict[str, object]] = []
        monkeypatch.setattr("textual_image.renderable.tgp._send_tgp_message",
                            lambda **kw: sent.append(kw))
        monkeypatch.setattr("banana_studio.tui.images.cells.write_terminal", lambda seq: sent.append({"seq": seq}))
    app = PreviewApp(protocol=protocol)
    async with app.run_test(size=(100, 36)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        await pilot.pause()
        await pilot.pause()
        built = im.STATS.renderables
        assert built >= 1
        status = app.query_one("#status", Static)
        for i in range(5):
            status.update(f"tick {i}")
            await pilot.pause()
        await pilot.hover("#preview", offset=(3, 3))
        await pilot.hover("#button")
        await pilot.click("#button")
        await pilot.pause()
        assert im.STATS.renderables == built
        if protocol == "kitty":
            # One PNG upload (final chunk: f=100, m=0) for the whole test: no re-upload per paint.
            uploads = [m for m in sent if (m.get("f") == 100 and m.get("m") == 0)
                       or ",m=0,f=100" in str(m.get("seq", ""))]  # prepared uploads are written at once
            assert len(uploads) == 1


async def test_sixel_not_reencoded_on_hover_or_partial_repaint(small_png: Path) -> None:
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(100, 36)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        await pilot.pause()
        await pilot.pause()
        encodes = im.STATS.sixel_encodes
        assert encodes >= 1
        impl = preview.query_one(im.StableSixelImpl)
        assert impl._cached_sixels is not None
        data = impl._cached_sixels.sixel_data
        assert data.startswith("\x1bP")
        # All colour registers come before pixel data (the xterm fix is in the live path).
        assert im_patches.REGISTER_DEF.search(data[data.index("!") if "!" in data else len(data):]) is None
        await pilot.hover("#preview", offset=(4, 4))
        await pilot.hover("#preview", offset=(10, 6))
        app.query_one("#status", Static).update("changed")
        await pilot.click("#button")
        await pilot.pause()
        assert im.STATS.sixel_encodes == encodes
        await pilot.resize_terminal(110, 40)
        await pilot.pause()
        await pilot.pause()
        assert im.STATS.sixel_encodes >= encodes  # a real resize may encode again; no crash


async def test_broken_image_shows_message_not_crash(tmp_path: Path, small_png: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(small_png.read_bytes()[:1500])
    app = PreviewApp(protocol="halfcell")
    async with app.run_test(size=(80, 24)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        assert not await preview.show_path(bad)
        await pilot.pause()
        assert preview.error.startswith("Cannot decode image broken.png")
        label = preview.query_one(".image-preview--placeholder", Static)
        assert label.display and label.has_class("-error")
        assert preview.image_widget is not None and not preview.image_widget.display
        assert "Cannot decode" in str(label.render())
        # And recovers with the next good image.
        assert await preview.show_path(small_png)
        await pilot.pause()
        assert preview.image_widget.display and not label.display


async def test_newest_request_wins_and_clear(tmp_path: Path, small_png: Path) -> None:
    other = tmp_path / "other.png"
    _gradient(300, 300).save(other)
    app = PreviewApp(protocol="unicode")
    async with app.run_test(size=(80, 24)) as pilot:
        preview = app.query_one(im.ImagePreview)
        first = asyncio.ensure_future(preview.show_path(small_png))
        second = asyncio.ensure_future(preview.show_path(other))
        results = await asyncio.gather(first, second)
        assert results[1] is True
        assert preview.source == other and preview.source_size == (300, 300)
        preview.clear()
        await pilot.pause()
        assert preview.source is None
        preview.set_placeholder("Generating…")
        await pilot.pause()
        assert "Generating" in str(preview.query_one(".image-preview--placeholder", Static).render())


async def test_show_bytes_and_none_protocol(small_png: Path) -> None:
    data = small_png.read_bytes()
    app = PreviewApp(protocol="none")
    async with app.run_test(size=(80, 24)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_bytes(data, name="draft-1")
        await pilot.pause()
        text = str(preview.query_one(".image-preview--placeholder", Static).render())
        assert "640×360" in text and "previews are off" in text
        assert preview.image_widget is None


async def test_thumbnails_and_strip(small_png: Path) -> None:
    class StripApp(App[None]):
        def compose(self) -> ComposeResult:
            yield im.ThumbStrip(id="strip")

    buf = io.BytesIO()
    _gradient(800, 800).save(buf, format="JPEG")
    app = StripApp()
    async with app.run_test(size=(80, 24)) as pilot:
        strip = app.query_one(im.ThumbStrip)
        t1 = await strip.add_bytes(buf.getvalue(), caption="draft 1")
        t2 = await strip.add_path(small_png)
        await pilot.pause()
        assert [t.loaded for t in strip.thumbnails] == [True, True]
        assert t1.source_size == (800, 800) and t2.source == small_png
        # Thumbnails prescale to their own cell box, not the terminal.
        img = t1.image_widget.image  # type: ignore[union-attr]
        w, h = t1.target_pixels()
        assert img.width <= w and img.height <= h
        assert await t1.load() is True  # second load is a no-op
        await strip.clear()
        await pilot.pause()
        assert strip.thumbnails == []


# -- kitty < 0.28 fallback, id-keyed render caches ----------------------------------------------


def test_kitty_version_check() -> None:
    assert not im.kitty_placeholders_supported("\x1bP>|kitty(0.26.5)\x1b\\")
    assert im.kitty_placeholders_supported("\x1bP>|kitty(0.28.0)\x1b\\")
    assert im.kitty_placeholders_supported("\x1bP>|kitty(0.41.1)\x1b\\")
    assert im.kitty_placeholders_supported("\x1bP>|WezTerm 20240203\x1b\\")
    assert im.kitty_placeholders_supported("")


def test_auto_falls_back_to_halfcell_in_old_kitty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(im_protocol._ti_renderable, "Image", im_protocol._ti_renderable.TGPImage)
    monkeypatch.setattr(sys, "__stdout__", _FakeTty())
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setattr(im_probe, "SKIP_PROBE", False)
    monkeypatch.setattr(im_protocol, "kitty_placeholders_supported", lambda reply=None: False)
    assert im.select_image_protocol("auto") == "halfcell"
    assert any("predates Unicode placeholders" in n for n in im.probe_notes())
    monkeypatch.setattr(im_protocol, "kitty_placeholders_supported", lambda reply=None: True)
    assert im.select_image_protocol("auto") == "kitty"
    assert im.select_image_protocol("kitty") == "kitty"  # forcing skips the check


def test_render_caches_never_serve_a_dead_image() -> None:
    live = Image.new("RGB", (8, 4), (255, 0, 0))
    dead = Image.new("RGB", (8, 4), (0, 0, 255))
    stale_strips = im.halfcell_strips(dead, 8, 2)
    # Pretend ``live`` reuses the id of an image that is gone (CPython reuses addresses).
    key = (id(live), 8, 2)
    gone = Image.new("RGB", (1, 1))
    ref = weakref.ref(gone)
    del gone
    im_halfcell._HALFCELL_CACHE[key] = (ref, stale_strips)
    strips = im.halfcell_strips(live, 8, 2)
    assert strips is not stale_strips
    first = next(iter(strips[0]))
    assert first.style is not None and first.style.color is not None
    assert first.style.color.triplet == (255, 0, 0)
    assert im.halfcell_strips(live, 8, 2) is strips  # and a live entry is a hit


async def test_sixel_cursor_returns_to_the_end_of_the_requested_row(small_png: Path) -> None:
    """textual-image #146: after the picture the cursor must be where Textual expects it (end of the
    strip that carries the sixel), not on the row below, or the rest of that row is drawn one row
    too low and a stale row stays on screen."""
    from textual.geometry import Region

    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(100, 36)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        await pilot.pause()
        impl = preview.query_one(im.StableSixelImpl)
        region = app.screen.find_widget(impl).region
        w, h = impl.content_size.width, impl.content_size.height
        for crop in (Region(0, 0, w, h), Region(0, 2, w, 3), Region(3, 1, w - 3, 1)):
            impl._bs_on_terminal = None  # as if the terminal had lost the picture (else nothing is re-sent)
            lines = impl.render_lines(crop)
            assert len(lines) == crop.height and lines[-1].cell_length == crop.width
            segments = list(lines[-1])
            # The picture always starts at the widget's top-left (whole visible part)...
            assert segments[0].text == f"\x1b[{region.y + 1};{region.x + 1}H"
            assert segments[1].text.startswith("\x1bP")
            # ...and the cursor ends after the last requested cell of the last requested row.
            assert segments[2].text == f"\x1b[{region.y + crop.bottom};{region.x + crop.right + 1}H"


async def _until(pilot: Any, condition: Any) -> None:
    """Let the app run until ``condition()`` holds (the deadline only bounds a hang on a loaded box;
    the caller asserts the outcome)."""
    deadline = time.monotonic() + 60
    while not condition() and time.monotonic() < deadline:
        await pilot.pause(0.05)


async def _sixel_encoded(pilot: Any, impl: Any) -> None:
    """Let the app run until the sixel widget holds data for its current size and nothing is pending."""

    def encoded() -> bool:
        cached = impl._cached_sixels
        return cached is not None and cached.content_size == impl.content_size and impl._bs_pending is None

    await _until(pilot, encoded)


async def _sixel_shown(app: Any, pilot: Any, path: Path) -> Any:
    """Show ``path`` in the app's preview and wait for its sixel data; the sixel widget."""
    preview = app.query_one(im.ImagePreview)
    assert await preview.show_path(path)
    impl = preview.query_one(im.StableSixelImpl)
    await _sixel_encoded(pilot, impl)
    return impl


async def test_sixel_never_encoded_on_the_event_loop(small_png: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    on_loop: list[bool] = []
    original = im_patches._ORIGINAL_IMAGE_TO_SIXELS

    def recording(*args: Any, **kwargs: Any) -> str:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(im_patches, "_ORIGINAL_IMAGE_TO_SIXELS", recording)
    im.CACHE.clear()  # decodes are shared by content across tests: start cold so encodes do happen
    im_sixel._SIXEL_CACHE.clear()
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(100, 36)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        impl = preview.query_one(im.StableSixelImpl)
        for size in ((120, 40), (90, 30), (100, 36)):  # every resize needs a new encode
            await pilot.resize_terminal(*size)
            await _sixel_encoded(pilot, impl)
            assert impl._cached_sixels is not None and impl._cached_sixels.content_size == impl.content_size
        assert len(on_loop) >= 3
        assert not any(on_loop), "a sixel was encoded on the event loop"


async def _halfcell_built(pilot: Any, widget: Any) -> Any:
    """Let the app run until the half-cell strips for the widget's current size exist; those strips."""
    await _until(pilot, lambda: im_halfcell._halfcell_cached(widget.image, *widget.content_size) is not None)
    return im_halfcell._halfcell_cached(widget.image, *widget.content_size)


async def _halfcell_shown(app: Any, pilot: Any, path: Path) -> Any:
    """Show ``path`` in the app's preview and wait for its half-cell strips; the half-cell widget."""
    preview = app.query_one(im.ImagePreview)
    assert await preview.show_path(path)
    widget = preview.image_widget
    assert isinstance(widget, im.StableHalfcellImage)
    await _halfcell_built(pilot, widget)
    return widget


async def test_halfcell_strips_never_built_on_the_event_loop(small_png: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    on_loop: list[bool] = []
    original = im.halfcell_strips

    def recording(image: Any, width: int, height: int) -> Any:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return original(image, width, height)

    monkeypatch.setattr(im_halfcell, "halfcell_strips", recording)
    app = PreviewApp(protocol="halfcell")
    async with app.run_test(size=(100, 36)) as pilot:
        widget = await _halfcell_shown(app, pilot, small_png)
        for size in ((120, 40), (90, 30)):
            await pilot.resize_terminal(*size)
            strips = await _halfcell_built(pilot, widget)
            assert strips is not None and len(strips) == widget.content_size.height
            assert widget.render_line(0).text == "▀" * widget.content_size.width
        assert len(on_loop) >= 3
        assert not any(on_loop), "half-cell strips were built on the event loop"


async def test_halfcell_lines_skip_the_truecolour_filter_and_paint_the_same(small_png: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.filter import ANSIToTruecolor
    from textual.widget import Widget

    def screen_lines(app: Any) -> list[list[tuple[str, Any]]]:
        app.screen._compositor._dirty_regions.clear()
        return [[(seg.text, seg.style) for seg in strip] for strip in app.screen._compositor.render_strips()]

    app = PreviewApp(protocol="halfcell")
    async with app.run_test(size=(100, 36)) as pilot:
        widget = await _halfcell_shown(app, pilot, small_png)
        await pilot.pause()
        assert not any(isinstance(f, ANSIToTruecolor) for f in widget.get_line_filters())
        ours = screen_lines(app)
        monkeypatch.setattr(im.StableHalfcellImage, "get_line_filters", Widget.get_line_filters)
        widget._styles_cache.clear()
        widget.refresh()
        await pilot.pause()
        assert screen_lines(app) == ours, "the picture looks different without the filter skipped"
        assert "▀" in "".join(text for line in ours for text, _ in line)


async def test_hidden_preview_does_not_wait_for_a_layout(small_png: Path) -> None:
    app = PreviewApp(protocol="halfcell")
    async with app.run_test(size=(80, 24)) as pilot:
        preview = app.query_one(im.ImagePreview)
        preview.display = False
        await pilot.pause()
        waits: list[Any] = []
        preview.call_after_refresh = lambda *a, **k: waits.append(a)  # type: ignore[method-assign]
        assert await preview.show_path(small_png)
        assert waits == [], "a hidden preview waited for a layout that never comes"
        del preview.call_after_refresh
        preview.display = True
        await pilot.pause()
        widget = preview.image_widget
        await _until(pilot, lambda: widget is not None and widget.content_size.area and
                     im_halfcell._halfcell_cached(widget.image, *widget.content_size) is not None)  # type: ignore[union-attr]
        assert widget is not None and widget.render_line(0).text.startswith("▀")


# -- the package layout -------------------------------------------------------------------------


def test_decode_and_stats_need_no_textual() -> None:
    """Decoding and the cache are Pillow only: no Textual, Rich or textual-image import anywhere in them."""
    import ast

    pkg = Path(im.__file__).parent
    for name in ("decode.py", "stats.py"):
        tree = ast.parse((pkg / name).read_text(encoding="utf-8"))
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        bad = {m for m in mods if m.split(".")[0] in ("textual", "textual_image", "rich")}
        bad |= {m for m in mods if m.startswith("banana_studio") and not m.endswith(".stats")}
        assert not bad, (name, bad)


def test_the_probe_is_the_first_import_of_the_package() -> None:
    """The import-order rule lives in probe.py alone because the package imports it before anything else."""
    import ast

    init = Path(im.__file__)
    imports = [n for n in ast.parse(init.read_text(encoding="utf-8")).body
               if isinstance(n, ast.Import | ast.ImportFrom) and getattr(n, "module", "") != "__future__"]
    first = imports[0]
    assert isinstance(first, ast.ImportFrom) and first.module == "banana_studio.tui.images"
    assert [a.name for a in first.names] == ["probe"]
    others = [p.name for p in init.parent.glob("*.py") if p.name not in ("probe.py", "__init__.py")]
    for name in others:  # no other module performs the probe itself
        assert "import textual_image.widget  #" not in (init.parent / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("mode", ["RGB", "L", "P"])
def test_sixel_encoder_fixes_give_the_same_bytes(mode: str) -> None:
    """The two GIL-friendly replacements inside textual-image's encoder change nothing in its output."""
    import textual_image._sixel as s

    img = _gradient(180, 90)
    img = img.convert(mode) if mode != "P" else img.quantize(40)
    fixed = s.image_to_sixels(img)
    saved = s._prepare_image, s._compact_palette
    try:
        s._prepare_image = im_patches._ORIGINAL_PREPARE_IMAGE  # type: ignore[assignment]
        s._compact_palette = im_patches._ORIGINAL_COMPACT_PALETTE  # type: ignore[assignment]
        original = s.image_to_sixels(img)
    finally:
        s._prepare_image, s._compact_palette = saved  # type: ignore[assignment]
    assert s._prepare_image is im_patches._prepare_image
    assert fixed == original


def test_prepared_kitty_upload_writes_upstreams_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kitty upload prepared in a thread and written at once is byte for byte upstream's messages."""
    import re

    import textual_image.renderable.tgp as tgp

    from banana_studio.tui.images import cells

    img = _gradient(300, 200)
    upstream: list[str] = []

    def send(*, payload: str | None = None, **kw: Any) -> None:
        args = ",".join(f"{k}={v}" for k, v in kw.items() if v is not None)
        upstream.append(f"\x1b_G{args}{';' + payload if payload else ''}\x1b\\")

    ours: list[str] = []
    monkeypatch.setattr(tgp, "_send_tgp_message", send)
    monkeypatch.setattr(cells, "write_terminal", ours.append)
    tgp.Image(img, "auto", "auto")._send_image_to_terminal(280, 180)
    prepared = cells._PreparedTGPRenderable(img, "auto", "auto")
    prepared._bs_source = img
    cells.kitty_payload(img, (280, 180))
    prepared._send_image_to_terminal(280, 180)
    assert len(ours) == 1 and len(upstream) > 1
    assert re.sub(r"i=\d+", "i=N", ours[0]) == re.sub(r"i=\d+", "i=N", "".join(upstream))


async def test_kitty_placeholder_rows_are_what_textual_renders_of_the_renderable(
        small_png: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kitty widget paints its placeholder rows from strips built once per upload and size; they
    are the cells Textual makes of the renderable itself, and the picture is uploaded once."""
    from textual.widget import Widget

    from banana_studio.tui.images import cells

    sent: list[str] = []
    monkeypatch.setattr("textual_image.renderable.tgp._send_tgp_message", lambda **kw: sent.append(str(kw)))
    monkeypatch.setattr(cells, "write_terminal", sent.append)
    app = PreviewApp(protocol="kitty")
    async with app.run_test(size=(100, 36)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        widget = preview.image_widget
        assert isinstance(widget, cells.StableTGPImage)
        await _until(pilot, lambda: isinstance(widget.render(), cells._PreparedTGPRenderable))
        await pilot.pause()
        height = widget.content_size.height
        ours = [widget.render_line(y) for y in range(height)]
        assert widget.render().terminal_image_id and len(sent) == 2, "one upload and its placement"
        widget._render_cache = None  # type: ignore[assignment]  # Textual's own path, from the renderable
        theirs = [Widget.render_line(widget, y) for y in range(height)]
        assert [(s.cell_length, list(s)) for s in ours] == [(s.cell_length, list(s)) for s in theirs]
        assert any("\U0010eeee" in s.text for s in ours) and len(sent) == 2
        assert all(widget.render_line(y) is ours[y] for y in range(height)), "built once per size"


async def test_a_failed_sixel_encode_is_tried_again_not_left_blank(small_png: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An encode that fails once (a worker error) must not leave the widget "being encoded" for ever:
    that painted a black box in place of a thumbnail in a real xterm."""
    original = im_patches._ORIGINAL_IMAGE_TO_SIXELS
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("encoder hiccup")
        return original(*args, **kwargs)

    im.CACHE.clear()
    im_sixel._SIXEL_CACHE.clear()
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(100, 36)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        impl = preview.query_one(im.StableSixelImpl)
        monkeypatch.setattr(im_patches, "_ORIGINAL_IMAGE_TO_SIXELS", flaky)
        await pilot.resize_terminal(120, 40)  # a new size: the widget's own encode, which fails once
        await _sixel_encoded(pilot, impl)  # never, if the failure sticks
        assert calls and len(calls) >= 2
        assert impl._cached_sixels is not None and impl._cached_sixels.content_size == impl.content_size


async def test_a_stale_encode_mark_of_a_freed_image_does_not_block_the_next_one(small_png: Path) -> None:
    """CPython gives a new image the ``id()`` of a freed one.  An encode mark left by the freed image
    (its encode ended while another image was already set) then looked like "already being encoded"
    to the new image, and the widget painted a blank box for good."""
    im.CACHE.clear()
    im_sixel._SIXEL_CACHE.clear()
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(100, 36)) as pilot:
        impl = await _sixel_shown(app, pilot, small_png)
        fresh = impl.image.copy()
        impl._cached_sixels = None
        impl._bs_recent = None
        im_sixel._SIXEL_CACHE.clear()
        # The state a freed image leaves: the mark carries the key the new image will have (same id,
        # same size), but it was made for another image object.
        size = impl.content_size
        impl._bs_pending = (id(fresh), im_sixel.Region(0, 0, size.width, size.height), size,
                            im_sixel.get_cell_size(), impl._sixel_options, impl._get_background_rgba())
        impl._bs_pending_image = object()
        impl.image = fresh  # a plain attribute on this inner widget: repaint it by hand
        impl.refresh()
        await _sixel_encoded(pilot, impl)
        assert impl._cached_sixels is not None and impl._cached_sixels.image is fresh


async def test_a_clipped_picture_whose_shape_alternates_still_gets_painted(small_png: Path) -> None:
    """Two shapes of a clipped picture asked for one after the other (the visible part, then the rows
    asked for) each start an encode that cancels the other's; each finished encode is kept, so both
    shapes are answered from memory afterwards instead of being encoded again for ever."""
    im.CACHE.clear()
    im_sixel._SIXEL_CACHE.clear()
    app = PreviewApp(protocol="sixel")
    async with app.run_test(size=(100, 36)) as pilot:
        impl = await _sixel_shown(app, pilot, small_png)
        w, h = impl.content_size
        top, bottom = im_sixel.Region(0, 0, w, max(1, h // 2)), im_sixel.Region(0, 0, w, h - 1)
        for shape in (top, bottom):
            await _until(pilot, lambda shape=shape: impl._encode(shape) is not None)
        encodes = im_patches.STATS.sixel_encodes
        assert impl._encode(top) is not None and impl._encode(bottom) is not None
        assert impl._encode(top) is not None
        assert im_patches.STATS.sixel_encodes == encodes and impl._bs_pending is None


async def test_a_failed_halfcell_build_is_tried_again_not_left_blank(small_png: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    original = im.halfcell_strips
    calls: list[int] = []

    def flaky(image: Any, width: int, height: int) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("builder hiccup")
        return original(image, width, height)

    app = PreviewApp(protocol="halfcell")
    async with app.run_test(size=(100, 36)) as pilot:
        preview = app.query_one(im.ImagePreview)
        assert await preview.show_path(small_png)
        widget = preview.image_widget
        assert isinstance(widget, im.StableHalfcellImage)
        monkeypatch.setattr(im_halfcell, "halfcell_strips", flaky)
        await pilot.resize_terminal(117, 41)  # a size nobody prepared: the widget builds it itself
        assert await _halfcell_built(pilot, widget) is not None, f"never built after {len(calls)} tries"
        assert len(calls) >= 2 and widget._bs_pending is None


class FramedPreviewApp(App[None]):
    """A picture between two one-line texts spanning the same columns."""

    def compose(self) -> ComposeResult:
        yield Static("above", id="above")
        yield im.ImagePreview(id="preview", protocol="sixel")
        yield Static("below", id="below")


async def test_a_picture_inside_the_bounding_box_of_other_updates_is_not_believed_sent(small_png: Path) -> None:
    """Textual renders every widget inside the bounding box of a partial update's regions but writes
    only those regions.  A picture whose data became ready just before such a frame was "written" in
    it, believed on the terminal, and skipped by its own repaint a moment later: a black box for good
    (seen in a real xterm, 1 start in 6)."""
    im.CACHE.clear()
    im_sixel._SIXEL_CACHE.clear()
    app = FramedPreviewApp()
    async with app.run_test(size=(60, 20)) as pilot:
        impl = await _sixel_shown(app, pilot, small_png)
        await _until(pilot, lambda: impl._bs_on_terminal is not None)
        impl._bs_on_terminal = None  # the picture is not on the terminal (its data has just become ready)
        app.query_one("#above", Static).update("ABOVE")
        app.query_one("#below", Static).update("BELOW")
        await pilot.pause()
        assert impl._bs_on_terminal is None, "a frame that wrote only the texts was taken to carry the picture"
        writes = im_patches.STATS.sixel_writes
        impl.refresh()
        await _until(pilot, lambda: impl._bs_on_terminal is not None)
        assert im_patches.STATS.sixel_writes > writes and impl._bs_on_terminal is not None
