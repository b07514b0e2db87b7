"""Tests for the performance fixes driven by benchmarks/ (engine request building, GC tuning, sixel
pre-encoding)."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine.request import build_request, build_stream_request


def _png(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def test_stream_request_dicts_validate_to_the_same_sdk_contents() -> None:
    from google.genai import types

    history = [
        user_content("a red square", images=[(_png(), "image/png")]),
        Content("model", [Part(text="**Plan** red", thought=True),
                          Part(mime_type="image/png", data=_png((1, 2, 3)), thought=True),
                          Part(text="", thought_signature=b"\x00sig\xff" * 10),
                          Part(mime_type="image/png", data=_png(), thought_signature=b"\x01" * 300)]),
    ]
    user = user_content("make it blue")
    settings = GenerationSettings(aspect_ratio="16:9", image_size="2K", google_search=True)
    typed, config_a = build_request(history, user, settings)
    dicts, config_b = build_stream_request(history, user, settings)
    assert all(isinstance(d, dict) for d in dicts)
    assert [types.Content.model_validate(d) for d in dicts] == typed
    assert config_a == config_b


def test_stream_request_falls_back_to_typed_for_extra_fields() -> None:
    from google.genai import types

    odd = Content("model", [Part(text="x", extra={"not_a_real_field": 1})])
    contents, _ = build_stream_request([odd], user_content("y"), GenerationSettings())
    assert all(isinstance(c, types.Content) for c in contents)


@pytest.fixture
def restore_gc() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


def test_gc_tuning_freezes_raises_thresholds_and_enables(restore_gc: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from banana_studio.tui import gc_tuning

    monkeypatch.delenv("BANANA_STUDIO_GC", raising=False)
    monkeypatch.setattr(gc_tuning, "_done", False)
    gc.disable()
    gc.unfreeze()
    keep = [object() for _ in range(10)]  # noqa: F841 - something alive to freeze
    assert gc_tuning.tune_for_interactive() is True
    assert gc.isenabled()
    assert gc.get_threshold() == gc_tuning.THRESHOLDS
    assert gc.get_freeze_count() > 0


def test_gc_tuning_can_be_opted_out(restore_gc: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from banana_studio.tui import gc_tuning

    monkeypatch.setenv("BANANA_STUDIO_GC", "default")
    monkeypatch.setattr(gc_tuning, "_done", False)
    gc.disable()
    gc.unfreeze()
    before = gc.get_threshold()
    assert gc_tuning.tune_for_interactive() is False
    assert gc.isenabled()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_presixel_is_cached_and_matches_a_fresh_encode() -> None:
    from banana_studio.tui import images as im
    from banana_studio.tui.images import sixel as im_sixel

    image = Image.new("RGB", (160, 90), (30, 160, 90))
    background = (18, 18, 18, 1.0)
    before = im.STATS.sixel_encodes
    first = im.presixel(image, (16, 4), background)
    again = im.presixel(image, (16, 4), background)
    assert again is first
    assert im.STATS.sixel_encodes == before + 1
    assert first.startswith("\x1bP") and first.endswith("\x1b\\")
    # a different size or background is a different encoding
    assert im.presixel(image, (8, 2), background) != first
    im_sixel._SIXEL_CACHE.clear()
    assert im.presixel(image, (16, 4), background) == first


def test_file_shown_after_its_bytes_reuses_the_decoded_image(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from banana_studio.tui import images as im

    data = _png((9, 99, 199))
    path = tmp_path / "final.png"
    path.write_bytes(data)
    from_bytes = im.load_scaled(data, (400, 300))
    decodes = im.STATS.decodes
    from_file = im.load_scaled(path, (400, 300))
    assert from_file is from_bytes
    assert im.STATS.decodes == decodes
    # a missing file still fails with a readable reason
    with pytest.raises(im.ImageDecodeError, match="not found"):
        im.load_scaled(tmp_path / "gone.png", (400, 300))


async def test_preview_title_change_does_not_repaint_the_image(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from textual.app import App, ComposeResult

    from banana_studio.tui import images as im

    path = tmp_path / "img.png"
    Image.new("RGB", (320, 180), (200, 120, 40)).save(path)

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield im.ImagePreview(id="preview", protocol="sixel")

    app = One()
    async with app.run_test(size=(80, 30)) as pilot:
        preview = app.query_one(im.ImagePreview)
        preview.styles.border = ("round", "white")
        assert await preview.show_path(path)
        await pilot.pause(0.2)
        impl = preview.query_one(im.StableSixelImpl)
        painted: list[int] = []
        original = impl.render_lines

        def counting(crop):  # type: ignore[no-untyped-def]
            painted.append(crop.height)
            return original(crop)

        impl.render_lines = counting  # type: ignore[method-assign]
        for i in range(5):
            preview.border_title = f"title {i}"
            await pilot.pause()
        assert painted == []
        assert "title&#160;4" in app.export_screenshot().replace(" ", "&#160;")
        preview.refresh()  # a real repaint of the widget still reaches the image
        await pilot.pause()
        assert painted


async def test_footer_recompose_does_not_keep_old_keys_alive() -> None:
    from textual.app import App, ComposeResult
    from textual.binding import Binding
    from textual.widgets import Footer, Input
    from textual.widgets._footer import FooterKey

    from banana_studio.tui import textual_fixes

    textual_fixes.apply()

    class Keys(App[None]):
        BINDINGS = [Binding("ctrl+q", "quit", "Quit"), Binding("f2", "noop", "Two")]

        def compose(self) -> ComposeResult:
            yield Input(id="a")
            yield Input(id="b")
            yield Footer()

    app = Keys()
    async with app.run_test(size=(80, 12)) as pilot:
        footer = app.query_one(Footer)
        for _ in range(12):  # every binding refresh recomposes the footer's keys
            app.refresh_bindings()
            await pilot.pause()
        watchers = getattr(footer, "__watchers", {}).get("compact", [])
        live = [node for node, _ in watchers if not (node._closing or node._closed)]
        assert len(watchers) == len(live)
        assert len(watchers) <= 2 * len(app.query(FooterKey))


def test_paced_collections_follow_cpythons_generation_policy(restore_gc: None) -> None:
    from banana_studio.tui.gc_tuning import collect_due

    gc.disable()
    gc.collect()
    gc.set_threshold(200, 3, 2)
    made: list[int | None] = []
    kept: list[list[list[int]]] = []
    for _ in range(12):
        kept.append([[] for _ in range(260)])  # tracked objects alive: the young count passes 200
        made.append(collect_due())
        assert collect_due() is None, "nothing is due right after a collection"
    # young, young, young, then the middle one (3 young since); twice that, then the old one (2 middle since)
    assert made == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2], made
