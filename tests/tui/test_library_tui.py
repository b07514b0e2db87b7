"""The library view (every project, the query language, Enter opens the turn in its project) and the
gallery's multi-select with bulk tag editing, through Pilot."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from PIL import Image
from textual.app import App
from textual.widgets import Input, Static

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore
from banana_studio.tui.app import make_app
from banana_studio.tui.screens.gallery import GalleryScreen
from banana_studio.tui.screens.library import LibraryScreen
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.screens.tag_edit import TagEditScreen

APP_CSS = Path(__file__).parents[2] / "src" / "banana_studio" / "tui" / "app.tcss"


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), ((i * 70) % 256, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


def fill(store: ProjectStore, prompts: list[str]) -> None:
    for i, prompt in enumerate(prompts):
        t = store.create_turn(None, prompt, GenerationSettings(aspect_ratio="16:9" if i % 2 else "1:1"), [],
                              user_content(prompt))
        store.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/png", data=png(i))]),
                            status="done", cost=0.1)


class Host(App[None]):
    CSS_PATH = str(APP_CSS)

    def __init__(self, factory: Any) -> None:
        super().__init__()
        self.factory = factory

    def on_mount(self) -> None:
        self.push_screen(self.factory())


def status_of(screen: Any) -> str:
    return str(screen.query_one("#gallery-status", Static).render())


async def test_bulk_tags_from_the_gallery_selection(tmp_path: Path, h: Any) -> None:
    store = ProjectStore.open(tmp_path / "projects", "tags")
    fill(store, ["a red fox", "an owl", "a whale", "a frog"])
    app = Host(lambda: GalleryScreen(SimpleNamespace(store=store)))
    try:
        async with app.run_test(size=(110, 36)) as pilot:
            await h.wait_until(pilot, lambda: isinstance(app.screen, GalleryScreen) and len(app.screen.tiles) == 4)
            gallery = app.screen
            gallery.tiles[0].focus()
            await pilot.press("space", "right", "space")
            assert set(gallery.selected) == {("", 4), ("", 3)}
            assert gallery.tiles[0].has_class("-selected") and not gallery.tiles[2].has_class("-selected")
            await h.wait_until(pilot, lambda: "2 turns selected" in status_of(gallery))
            await pilot.press("t")
            await h.wait_until(pilot, lambda: isinstance(app.screen, TagEditScreen), what="the tag editor")
            await pilot.press(*"-", "enter")  # a bad tag is refused in the dialog, which stays
            await h.wait_until(pilot, lambda: "empty" in str(app.screen.query_one("#tag-error", Static).render()))
            editor_input = app.screen.query_one("#tag-input", Input)
            editor_input.value = "hero, client x"
            await pilot.press("enter")
            await h.wait_until(pilot, lambda: store.tags_of([3, 4]) == {3: ["client x", "hero"],
                                                                       4: ["client x", "hero"]}, what="tags stored")
            assert store.tags_of([1, 2]) == {1: [], 2: []}
            # Now remove one from a single focused tile (no selection): Esc drops the selection first.
            await h.wait_until(pilot, lambda: app.screen is gallery)
            await pilot.press("escape")
            assert gallery.selected == {} and app.screen is gallery
            gallery.tiles[0].focus()
            await pilot.press("t")
            await h.wait_until(pilot, lambda: isinstance(app.screen, TagEditScreen))
            assert "client x" in str(app.screen.query_one("#tag-current").render())
            app.screen.query_one("#tag-input", Input).value = "-client x"
            await pilot.press("enter")
            await h.wait_until(pilot, lambda: store.tags_of([4]) == {4: ["hero"]}, what="tag removed")
            # The gallery's search speaks the query language.
            await h.wait_until(pilot, lambda: app.screen is gallery)
            await pilot.press("slash", *"tag:hero", "enter")
            await h.wait_until(pilot, lambda: gallery.query_text == "tag:hero"
                               and {t.node.id for t in gallery.tiles} == {3, 4}, what="tag search")
            await pilot.press("slash")
            gallery.query_one("#gallery-search", Input).value = "colour:red"
            await pilot.press("enter")
            await h.wait_until(pilot, lambda: 'Unknown filter "colour:"' in status_of(gallery), what="query error")
    finally:
        store.close()


async def test_library_searches_every_project_and_opens_the_turn_there(demo_studio: Any, h: Any) -> None:
    root = Path(demo_studio.store.path).parent
    fill(demo_studio.store, ["a kite over the sea", "two kites"])
    with ProjectStore.open(root, "other") as other:
        fill(other, ["a lighthouse at dusk", "a kite shop \x1b[31m", "a lighthouse \u202eat dawn"])
        other.edit_tags([3], add=["hero"])
    app = make_app(demo_studio)
    async with app.run_test(size=(140, 45)) as pilot:
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        main = app.screen
        await main.run_action("library")
        await h.wait_until(pilot, lambda: isinstance(app.screen, LibraryScreen) and len(app.screen.tiles) == 5
                           and all(t.query(".gallery-caption") for t in app.screen.tiles),
                           what="every project's images")
        library = app.screen
        assert {(t.node.project, t.node.turn_id) for t in library.tiles} == {
            ("test", 1), ("test", 2), ("other", 1), ("other", 2), ("other", 3)}
        captions = [str(t.query_one(".gallery-caption", Static).render()) for t in library.tiles]
        assert not any("\x1b" in c or "\u202e" in c for c in captions)  # hostile text escaped
        assert any("other" in c for c in captions)
        await h.wait_until(pilot, lambda: "Library · all projects · 5 generations" in status_of(library))

        await pilot.press("slash", *"kite -project:test", "enter")
        await h.wait_until(pilot, lambda: [(t.node.project, t.node.turn_id) for t in library.tiles]
                           == [("other", 2)], what="a filtered search")
        library.query_one("#gallery-search", Input).value = "lighthouse tag:hero"
        await pilot.press("slash", "enter")
        await h.wait_until(pilot, lambda: [t.node.turn_id for t in library.tiles] == [3], what="tag filter")
        library.query_one("#gallery-search", Input).value = "lighthouse"
        await pilot.press("slash", "enter")
        await h.wait_until(pilot, lambda: len(library.tiles) == 2)
        await pilot.press("p")  # only this project: no lighthouse here
        await h.wait_until(pilot, lambda: not library.all_projects and library.tiles == [], what="scope")
        await pilot.press("p")
        await h.wait_until(pilot, lambda: len(library.tiles) == 2)
        library.tiles[-1].focus()  # the older lighthouse, in project "other"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: app.studio.store.name == "other" and isinstance(app.screen, MainScreen)
                           and app.screen.selected_id == 1, what="the turn opened in its project")
        await h.settle(pilot)


async def test_palette_lists_matching_turns_of_every_project(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.commands import StudioCommands

    root = Path(demo_studio.store.path).parent
    fill(demo_studio.store, ["a kite over the sea"])
    with ProjectStore.open(root, "other") as other:
        fill(other, ["a lighthouse at dusk", "a kite shop"])
        other.edit_tags([2], add=["hero"])
    app = make_app(demo_studio)
    async with app.run_test(size=(140, 45)) as pilot:
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        provider = StudioCommands(app.screen)
        await provider.startup()
        hits = [hit async for hit in provider.search("tag:hero")]
        texts = [str(hit.text) for hit in hits]
        assert texts == ["Open other #2: a kite shop"], texts
        assert "hero" in (hits[0].help or "")
        kites = [str(hit.text) for hit in [hit async for hit in provider.search("kite")]]
        assert "Open other #2: a kite shop" in kites  # another project's turn, by its words
        assert not any(t.startswith("Open #") for t in kites)  # this project's: the prompt search lists them
        bad = [str(hit.text) async for hit in provider.search("colour:red")]  # a bad query: no library hits
        assert not any(t.startswith("Open ") for t in bad)
        await hits[0].command()
        await h.wait_until(pilot, lambda: app.studio.store.name == "other" and isinstance(app.screen, MainScreen)
                           and app.screen.selected_id == 2, what="the palette opened the turn in its project")
        await h.settle(pilot)


async def test_tags_of_the_selected_turn_show_in_its_detail(demo_studio: Any, h: Any) -> None:
    fill(demo_studio.store, ["a kite", "a kite at night \x1b[2J"])
    app = make_app(demo_studio)
    async with app.run_test(size=(140, 45)) as pilot:
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.selected_id == 2)
        main = app.screen
        await main.run_action("tags")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TagEditScreen), what="the tag editor")
        app.screen.query_one("#tag-input", Input).value = "client\u202ex"  # refused: bidi control
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: "control" in str(app.screen.query_one("#tag-error", Static).render()))
        app.screen.query_one("#tag-input", Input).value = "hero, client x"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: demo_studio.store.tags_of([2]) == {2: ["client x", "hero"]},
                           what="tags stored")

        def meta() -> str:
            return str(main.query_one("#detail-meta", Static).render())

        await h.wait_until(pilot, lambda: "#hero" in meta() and "#client x" in meta(), what="tags in the detail")
        with demo_studio.store._tx() as c:  # a hostile tag written by something else
            c.execute("INSERT INTO turn_tags(turn_id, tag) VALUES (2, 'evil\u202e\x1b[2J')")
        main.load_turn(2)
        await h.wait_until(pilot, lambda: "#evil" in meta(), what="the hostile tag shown")
        assert "\u202e" not in meta() and "\x1b" not in meta() and "#evil\\u202e\\x1b[2J" in meta()
        await h.settle(pilot)


async def test_the_library_has_its_own_keys_not_the_gallerys(tmp_path: Path, h: Any) -> None:
    store = ProjectStore.open(tmp_path / "projects", "keys")
    fill(store, ["a red fox", "an owl"])
    app = Host(lambda: LibraryScreen(SimpleNamespace(store=store)))
    try:
        async with app.run_test(size=(110, 36)) as pilot:
            await h.wait_until(pilot, lambda: isinstance(app.screen, LibraryScreen) and len(app.screen.tiles) == 2)
            library = app.screen
            keys = {b.action for b in library._bindings.key_to_bindings.get("c", [])}
            assert keys == set(), keys  # no cross-project "compare" (its turn ids would mix projects)
            assert {b.action for b in library._bindings.key_to_bindings["enter"]} == {"open"}
            assert {b.action for b in library._bindings.key_to_bindings["tab"]} == {"app.focus_next"}
            library.tiles[0].focus()
            await pilot.press("c")
            assert library.marks == []
    finally:
        store.close()
