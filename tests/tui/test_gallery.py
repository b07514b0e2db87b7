"""Gallery, viewer and compare screens against a real project store (no network)."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from PIL import Image, ImageDraw
from textual.app import App
from textual.widgets import Checkbox, Input, Static

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore
from banana_studio.tui import images as im
from banana_studio.tui.images import patches as im_patches
from banana_studio.tui.images import protocol as im_protocol
from banana_studio.tui.screens.compare import CompareScreen, diff_rows, word_diff
from banana_studio.tui.screens.gallery import GalleryScreen, GalleryTile
from banana_studio.tui.screens.viewer import ViewerScreen

COLOURS = [(220, 60, 60), (60, 200, 90), (60, 90, 220), (230, 200, 40), (160, 60, 200), (40, 200, 200)]


def picture(i: int, size: tuple[int, int] = (320, 200), fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", size, COLOURS[i % len(COLOURS)])
    d = ImageDraw.Draw(img)
    d.rectangle([size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


PROMPTS = ["a red fox in the snow", "a red fox at night", "a blue whale", "a green frog on a leaf",
           "a yellow submarine", "a purple fox", "a cyan lighthouse"]


def make_project(root: Path, n: int = len(PROMPTS)) -> ProjectStore:
    store = ProjectStore.open(root, "gallery-test")
    parent: int | None = None
    for i in range(n):
        prompt = PROMPTS[i % len(PROMPTS)]
        settings = GenerationSettings(aspect_ratio="16:9" if i % 2 else "1:1", seed=i)
        turn = store.create_turn(parent, prompt, settings, [], user_content(prompt))
        content = Content("model", [Part(text="thinking", thought=True),
                                    Part(mime_type="image/png", data=picture(i))])
        store.complete_turn(turn.id, model_content=content, status="done", cost=0.134 + i / 100,
                            usage={"total_tokens": 1000 + i})
        if i in (1, 4):
            store.star(turn.id)
        parent = turn.id if i % 3 else None
    failed = store.create_turn(None, "a broken request", GenerationSettings(), [], user_content("x"))
    store.complete_turn(failed.id, model_content=None, status="failed", error="quota")
    return store


@pytest.fixture()
def store(tmp_path: Path) -> ProjectStore:
    s = make_project(tmp_path / "projects")
    yield s
    s.close()


APP_CSS = Path(__file__).parents[2] / "src" / "banana_studio" / "tui" / "app.tcss"


class Host(App[None]):
    CSS_PATH = str(APP_CSS)

    def __init__(self, screen_factory: Any) -> None:
        super().__init__()
        self.screen_factory = screen_factory
        self.result: Any = "unset"

    def on_mount(self) -> None:
        def done(value: Any) -> None:
            self.result = value

        self.push_screen(self.screen_factory(), done)


async def wait_for(pilot: Any, cond: Any, timeout: float = 15.0) -> None:
    # Poll with a plain sleep, not pilot.pause(): see wait_until in tests/tui/conftest.py.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


def _screen(app: App[Any], cls: type) -> Any:
    assert isinstance(app.screen, cls), app.screen
    return app.screen


async def test_gallery_lists_images_lazily_and_searches(store: ProjectStore) -> None:
    studio = SimpleNamespace(store=store)
    app = Host(lambda: GalleryScreen(studio))
    async with app.run_test(size=(110, 36)) as pilot:
        await pilot.pause()
        gallery = _screen(app, GalleryScreen)
        await wait_for(pilot, lambda: len(gallery.tiles) == len(PROMPTS))
        # Newest first; the failed turn without an image is not a tile.
        assert [t.node.id for t in gallery.tiles] == list(range(len(PROMPTS), 0, -1))
        assert gallery.columns == 4
        await wait_for(pilot, lambda: all(t.thumbnail.loaded for t in gallery.visible_tiles(ahead=0)))
        tile = gallery.tiles[0]
        assert tile.image is not None and tile.image.path.exists() and ".thumbs" in str(tile.image.thumb)
        assert tile.thumbnail.source_size is not None and max(tile.thumbnail.source_size) <= 512
        assert "7 generations" in str(gallery.query_one("#gallery-status", Static).render())

        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"fox", "enter")
        await wait_for(pilot, lambda: gallery.query_text == "fox" and len(gallery.tiles) == 3)
        assert {t.node.id for t in gallery.tiles} == {1, 2, 6}

        await pilot.press("escape")  # closes the gallery
        await pilot.pause()
        assert app.result is None


async def test_gallery_starred_filter_and_jump(store: ProjectStore) -> None:
    app = Host(lambda: GalleryScreen(SimpleNamespace(store=store)))
    async with app.run_test(size=(110, 36)) as pilot:
        await pilot.pause()
        gallery = _screen(app, GalleryScreen)
        await wait_for(pilot, lambda: len(gallery.tiles) == len(PROMPTS))
        gallery.query_one("#gallery-starred", Checkbox).value = True
        await wait_for(pilot, lambda: len(gallery.tiles) == 2
                       and all(t.query(".gallery-caption") for t in gallery.tiles))
        assert {t.node.id for t in gallery.tiles} == {2, 5}
        assert all("★" in str(t.query_one(".gallery-caption", Static).render()) for t in gallery.tiles)
        gallery.tiles[0].focus()
        await pilot.press("right")
        assert gallery.focused_tile is gallery.tiles[1]
        expected = gallery.tiles[1].node.id
        await pilot.press("g")
        await pilot.pause()
        assert app.result == expected == 2


async def test_gallery_empty_search_message(store: ProjectStore) -> None:
    app = Host(lambda: GalleryScreen(SimpleNamespace(store=store)))
    async with app.run_test(size=(100, 30)) as pilot:
        gallery = _screen(app, GalleryScreen)
        await wait_for(pilot, lambda: len(gallery.tiles) > 0)
        gallery.query_text = "zebra"
        await gallery.reload()
        await pilot.pause()
        assert gallery.tiles == []
        assert "No generations matching" in str(gallery.query_one("#gallery-empty", Static).render())


async def test_gallery_many_turns_loads_only_visible_and_pages(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_project(tmp_path / "p", n=40)
    monkeypatch.setattr(GalleryScreen, "PAGE", 24)
    try:
        app = Host(lambda: GalleryScreen(SimpleNamespace(store=store)))
        async with app.run_test(size=(80, 30)) as pilot:
            gallery = _screen(app, GalleryScreen)
            # Newest 24 rows; the newest is the failed turn without an image.
            await wait_for(pilot, lambda: len(gallery.tiles) == 23)
            assert gallery.more_available
            await pilot.pause(0.2)
            requested = [t for t in gallery.tiles if t.requested]
            assert 0 < len(requested) < 23  # lazy: far tiles untouched
            last = gallery.tiles[-1]
            last.focus()
            last.scroll_visible(animate=False)
            await wait_for(pilot, lambda: last.thumbnail.loaded)
            # Reaching the end appended the next page without jumping back to the top.
            await wait_for(pilot, lambda: len(gallery.tiles) == 40)
            assert not gallery.more_available
            assert gallery.grid.scroll_y > 0 and app.focused is last
            assert [t.index for t in gallery.tiles] == list(range(40))
            assert [t.node.id for t in gallery.tiles] == list(range(40, 0, -1))
    finally:
        store.close()


async def test_gallery_viewer_and_compare(store: ProjectStore) -> None:
    app = Host(lambda: GalleryScreen(SimpleNamespace(store=store)))
    async with app.run_test(size=(110, 36)) as pilot:
        gallery = _screen(app, GalleryScreen)
        await wait_for(pilot, lambda: len(gallery.tiles) == len(PROMPTS))
        gallery.tiles[1].focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ViewerScreen))
        viewer = _screen(app, ViewerScreen)
        assert len(viewer.paths) == len(PROMPTS) and viewer.index == 1
        await wait_for(pilot, lambda: viewer.preview.source == viewer.paths[1])
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is gallery

        gallery.tiles[0].focus()
        await pilot.press("c")
        assert gallery.marks == [gallery.tiles[0].node.id] and gallery.tiles[0].has_class("-marked")
        await pilot.press("right", "c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        compare = _screen(app, CompareScreen)
        await wait_for(pilot, lambda: compare.turns is not None)
        assert compare.ids == (7, 6)
        await wait_for(pilot, lambda: compare.query_one("#compare-image-b", im.ImagePreview).source is not None)
        differs = {label for label, _a, _b, d in compare.rows if d}
        assert {"Prompt", "Seed", "Aspect ratio", "Cost"} <= differs and "Model" not in differs
        shot = app.export_screenshot()
        assert "Seed" in shot and "Model" not in shot  # equal rows hidden by default
        await pilot.press("e")
        assert "Model" in app.export_screenshot()
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is gallery and gallery.marks == []


def test_word_diff_and_rows(store: ProjectStore) -> None:
    left, right = word_diff("a red fox in the snow", "a red fox at night")
    assert "in the snow" in left.plain and "at night" in right.plain
    assert any("strike" in str(span.style) for span in left.spans)
    assert any("green" in str(span.style) for span in right.spans)
    rows = {r[0]: r for r in diff_rows(store.get_turn(1), store.get_turn(2))}
    assert rows["Prompt"][3] and rows["Seed"][3] and rows["Aspect ratio"][3]
    assert not rows["Model"][3]
    assert rows["Cost"][3]


async def test_compare_shows_missing_image_and_bad_ids(store: ProjectStore) -> None:
    app = Host(lambda: CompareScreen(SimpleNamespace(store=store), 1, 8))
    async with app.run_test(size=(100, 34)) as pilot:
        compare = _screen(app, CompareScreen)
        await wait_for(pilot, lambda: compare.turns is not None)
        placeholder = compare.query_one("#compare-image-b .image-preview--placeholder", Static)
        assert "No image (failed: quota)" in str(placeholder.render())
        await pilot.press("x")
        await wait_for(pilot, lambda: compare.ids == (8, 1) and compare.turns is not None
                       and compare.turns[0].id == 8)
    app = Host(lambda: CompareScreen(SimpleNamespace(store=store), 1, 999))
    async with app.run_test(size=(100, 34)) as pilot:
        compare = _screen(app, CompareScreen)
        await wait_for(pilot, lambda: bool(compare.error))
        assert "Cannot compare #1 and #999" in compare.error


async def test_viewer_fit_one_to_one_pan_and_browse(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    small = tmp_path / "small.jpg"
    big.write_bytes(picture(0, (3000, 1800)))
    small.write_bytes(picture(2, (200, 120), fmt="JPEG"))
    app = Host(lambda: ViewerScreen([big, small], 0))
    async with app.run_test(size=(100, 40)) as pilot:
        viewer = _screen(app, ViewerScreen)
        await wait_for(pilot, lambda: viewer.preview.source == big)
        assert viewer.preview.source_size == (3000, 1800)
        await pilot.press("z")
        await wait_for(pilot, lambda: viewer.one_to_one and viewer._full_size == (3000, 1800))
        vw, vh = viewer._viewport_pixels()
        start = viewer.offset
        assert start == ((3000 - vw) // 2, (1800 - vh) // 2)
        shown = viewer.preview.image_widget.image  # type: ignore[union-attr]
        assert shown.size == (min(vw, 3000), min(vh, 1800))  # native pixels, no scaling
        await pilot.press("right")
        assert viewer.offset[0] == start[0] + vw // viewer.PAN_STEPS
        await pilot.press("shift+up")
        assert viewer.offset[1] == max(0, start[1] - 4 * (vh // viewer.PAN_STEPS))
        viewer.offset = (10**6, viewer.offset[1])
        await pilot.press("shift+right")
        assert viewer.offset[0] == 3000 - vw  # clamped at the right edge
        assert "1:1" in str(viewer.query_one("#viewer-info", Static).render())
        await pilot.press("z")
        await pilot.pause()
        assert not viewer.one_to_one
        await pilot.press("right")  # fit mode: next image
        await wait_for(pilot, lambda: viewer.preview.source == small)
        assert "2/2" in str(viewer.query_one("#viewer-title", Static).render())
        await pilot.press("n")
        await wait_for(pilot, lambda: viewer.preview.source == big)
        await pilot.press("q")
        await pilot.pause()
        assert app.result is None


async def test_viewer_broken_file_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(picture(0)[:300])
    app = Host(lambda: ViewerScreen([bad]))
    async with app.run_test(size=(80, 24)) as pilot:
        viewer = _screen(app, ViewerScreen)
        await wait_for(pilot, lambda: bool(viewer.preview.error))
        assert "Cannot decode image bad.png" in str(viewer.query_one("#viewer-info", Static).render())
        await pilot.press("z")  # 1:1 of a broken file: still a message, no crash
        await pilot.pause()
        assert viewer.one_to_one


def test_tile_is_focusable() -> None:
    assert GalleryTile.can_focus


def test_snapshot_gallery(snap_compare: Any, store: ProjectStore) -> None:
    async def run_before(pilot: Any) -> None:
        gallery = pilot.app.screen
        await wait_for(pilot, lambda: len(gallery.tiles) == len(PROMPTS))
        await wait_for(pilot, lambda: all(t.thumbnail.loaded and t.thumbnail.source_size
                                          for t in gallery.visible_tiles(ahead=0)))
        await pilot.press("right", "c")
        await pilot.pause()

    assert snap_compare(Host(lambda: GalleryScreen(SimpleNamespace(store=store))), terminal_size=(100, 30),
                        run_before=run_before)


async def test_viewer_one_to_one_pans_without_encoding_on_the_event_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    big = tmp_path / "big.png"
    big.write_bytes(picture(1, (2400, 1600)))
    monkeypatch.setattr(im_protocol, "_chosen_protocol", "sixel")
    encodes: list[bool] = []
    original = im_patches._ORIGINAL_IMAGE_TO_SIXELS

    def counting(*args: Any, **kwargs: Any) -> str:
        encodes.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(im_patches, "_ORIGINAL_IMAGE_TO_SIXELS", counting)
    app = Host(lambda: ViewerScreen([big]))
    async with app.run_test(size=(100, 40)) as pilot:
        viewer = _screen(app, ViewerScreen)
        await wait_for(pilot, lambda: viewer.preview.source == big)
        await pilot.press("z")
        await wait_for(pilot, lambda: viewer.one_to_one and viewer._full_size is not None)
        for key in ("right", "down", "shift+left", "up"):
            await pilot.press(key)
        await pilot.pause()
        assert len(encodes) >= 5  # fit + 1:1 + four pans, all encoded...
        assert not any(encodes), "a sixel was encoded on the event loop"  # ...in threads
