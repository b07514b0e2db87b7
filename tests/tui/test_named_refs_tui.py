"""Named references in the studio: ``@`` completion in the prompt, the chips, the send (what the local
server receives), a re-roll after a re-point, and saving a turn's image / a tray reference by name."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from banana_studio.domain.content import b64decode_any
from banana_studio.services.named_refs import NamedReferences
from banana_studio.tui.app import make_app

SIZE = (160, 48)


def library() -> NamedReferences:
    return NamedReferences(None)  # the user library (BANANA_STUDIO_DATA_DIR: the test's own)


def save(name: str, *paths: Path) -> list[str]:
    return [i.sha256 for i in library().save_files(name, list(paths)).images]


def sent_hashes(studio: Any) -> list[str]:
    body = [r for r in studio.demo_server.requests if "enerateContent" in r.path][-1].body
    parts = body["contents"][-1]["parts"]
    return [hashlib.sha256(b64decode_any(p["inlineData"]["data"])).hexdigest() for p in parts if "inlineData" in p]


async def test_at_completes_names_and_the_tray_shows_chips(demo_studio: Any, h: Any, make_png: Any) -> None:
    from banana_studio.tui.widgets.name_completion import NameCompletion
    from banana_studio.tui.widgets.prompt import PromptArea
    from banana_studio.tui.widgets.ref_tray import NamedChip, RefChips, RefTray

    save("@hero", make_png(), make_png())
    save("@heron", make_png())
    save("@logo", make_png())
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await h.wait_until(pilot, main.started.is_set, what="the project to load")
        prompt = main.query_one(PromptArea)
        box = main.query_one(NameCompletion)
        tray = main.query_one(RefTray)
        await h.wait_until(pilot, lambda: len(prompt.names) == 3, what="the saved names")
        prompt.focus()
        await pilot.press(*"a poster of ", "@", "h", "e")
        await h.wait_until(pilot, lambda: box.open and box.option_count == 2, what="the completion list")
        assert [box.get_option_at_index(i).id for i in range(2)] == ["@hero", "@heron"]
        assert box.region.bottom <= prompt.cursor_screen_offset.y  # drawn above the line being written
        assert "2 images · user" in str(box.get_option_at_index(0).prompt)
        await pilot.press("down")
        assert box.chosen == "@heron"
        await pilot.press("up", "tab")  # Tab inserts the chosen name, the focus stays in the prompt
        await h.wait_until(pilot, lambda: prompt.text == "a poster of @hero ", what="the name inserted")
        assert not box.open and prompt.has_focus
        await h.wait_until(pilot, lambda: tray.named == [NamedChip("@hero", 2, "user")], what="the @hero chip")
        chips = main.query_one(RefChips).render().plain
        assert "@hero ×2" in chips and "2/14" in chips

        await pilot.press("@", "l")
        await h.wait_until(pilot, lambda: box.open and box.chosen == "@logo", what="@logo offered")
        await pilot.press("escape")  # closes the list, and only the list
        assert not box.open and prompt.has_focus and prompt.text.endswith("@l")
        await pilot.press("o")
        assert not box.open  # closed for this word
        await pilot.press("enter")  # no list open: Enter is a newline (send is Ctrl+Enter)
        assert prompt.text.endswith("@lo\n")
        await pilot.press("@", "l", "enter")  # Enter inserts the name while the list is open
        await h.wait_until(pilot, lambda: prompt.text.endswith("@lo\n@logo "), what="Enter inserts")
        await pilot.press("@", "h")
        await h.wait_until(pilot, lambda: box.open and box.option_count == 2, what="the list again")
        await pilot.click("#name-completion", offset=(3, 2))  # the second name, with the mouse
        await h.wait_until(pilot, lambda: prompt.text.endswith("@logo @heron "), what="a click inserts")
        assert not box.open and prompt.has_focus

        prompt.load_text("@ghost and @hero")
        await h.wait_until(pilot, lambda: [c.images for c in tray.named] == [-1, 2], what="the unknown chip")
        assert "@ghost ? not saved" in main.query_one(RefChips).render().plain
        assert "no such named reference" in str(main.query_one("#ref-message").render())


async def test_send_expands_and_a_reroll_after_a_repoint_sends_the_same_images(
        demo_studio: Any, h: Any, make_png: Any) -> None:
    from banana_studio.tui.widgets.ref_tray import RefTray

    hero = save("@hero", make_png(), make_png())
    plain = make_png()
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await h.wait_until(pilot, main.started.is_set, what="the project to load")
        await main.composer.add_references([plain])
        await h.send_prompt(pilot, main, "a poster of @hero")
        turn = demo_studio.store.get_turn(main.selected_id)
        assert turn.status == "done", turn.error
        assert [r.named for r in turn.references] == ["", "@hero", "@hero"]
        plain_sha = hashlib.sha256(plain.read_bytes()).hexdigest()
        assert sent_hashes(demo_studio) == [plain_sha, *hero]
        assert main.query_one(RefTray).named == []  # the prompt was emptied with the tray

        save("@hero", make_png())  # re-pointed
        main.focus_next()  # out of the prompt: Ctrl+R re-rolls the selected turn
        await pilot.press("ctrl+r")
        await h.wait_until(pilot, lambda: len(demo_studio.store.tree_index()) == 2, what="the re-roll")
        await h.wait_generation(pilot, main)
        assert sent_hashes(demo_studio) == [plain_sha, *hero]  # the recorded images, not the new pointing

        await pilot.press("ctrl+f")  # fork: the prompt with its @name back, the named images not as files
        tray = main.query_one(RefTray)
        await h.wait_until(pilot, lambda: main.composer.prompt.text == "a poster of @hero"
                           and [hashlib.sha256(i.path.read_bytes()).hexdigest() for i in tray.items] == [plain_sha],
                           what="the fork's fields")
        await h.wait_until(pilot, lambda: [(c.name, c.images) for c in tray.named] == [("@hero", 1)],
                           what="@hero as it points now")


async def test_save_the_turn_image_and_a_tray_reference_by_name(demo_studio: Any, h: Any, make_png: Any) -> None:
    from textual.widgets import Checkbox

    from banana_studio.tui.screens.named_ref import NamedRefScreen
    from banana_studio.tui.widgets.prompt import PromptArea
    from banana_studio.tui.widgets.ref_tray import RefChips

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await h.wait_until(pilot, main.started.is_set, what="the project to load")
        await h.send_prompt(pilot, main, "a red fox")
        turn = demo_studio.store.get_turn(main.selected_id)
        await pilot.press("escape")  # leave the prompt: letters act on the turn
        await pilot.press("N")
        await h.wait_until(pilot, lambda: isinstance(app.screen, NamedRefScreen), what="the name dialog")
        await pilot.press("F", "o", "x")
        await h.wait_until(pilot, lambda: "lowercase: try @fox" in str(app.screen.query_one("#ref-name-note").render()),
                           what="the name checked as typed")
        await pilot.press("enter")
        assert isinstance(app.screen, NamedRefScreen)  # refused, the dialog stays
        await pilot.press("backspace", "backspace", "backspace", *"fox", "enter")
        await h.wait_until(pilot, lambda: library().resolve("@fox") is not None, what="@fox saved")
        fox = library().resolve("@fox")
        assert fox.scope == "user" and [i.sha256 for i in fox.images] == [turn.final_images[0].sha256]
        prompt = main.query_one(PromptArea)
        await h.wait_until(pilot, lambda: "@fox" in prompt.names, what="the completion knows @fox")

        ref = make_png("hostile\x1b[2J.png")
        await main.composer.add_references([ref])
        chips = main.query_one(RefChips)
        chips.focus()
        await pilot.press("n")
        await h.wait_until(pilot, lambda: isinstance(app.screen, NamedRefScreen), what="the dialog for the ref")
        assert "\x1b" not in str(app.screen.query_one(".modal-message").render())
        await pilot.press(*"bg", "tab", "space")
        assert app.screen.query_one(Checkbox).value
        await pilot.press("shift+tab", "enter")
        store_path = demo_studio.store.path
        await h.wait_until(pilot, lambda: NamedReferences(store_path).resolve("@bg") is not None, what="@bg saved")
        bg = NamedReferences(store_path).resolve("@bg")
        assert bg.scope == "project" and bg.images[0].sha256 == hashlib.sha256(ref.read_bytes()).hexdigest()
        assert library().resolve("@bg") is None  # not in the user library

        second = make_png()
        await main.composer.add_references([second])
        main.action_save_tray_named()  # the palette's "Save all references as one named reference…"
        await h.wait_until(pilot, lambda: isinstance(app.screen, NamedRefScreen), what="the dialog for the tray")
        await pilot.press(*"pair", "enter")
        await h.wait_until(pilot, lambda: library().resolve("@pair") is not None, what="@pair saved")
        assert [i.label for i in library().resolve("@pair").images] == [ref.name, second.name]


async def test_a_send_with_an_unknown_name_records_nothing_and_gives_the_prompt_back(
        demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.widgets.prompt import PromptArea

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await h.wait_until(pilot, main.started.is_set, what="the project to load")
        await h.send_prompt(pilot, main, "a poster of @ghost")
        assert demo_studio.store.tree_index() == []
        assert "There is no named reference @ghost" in main.last_error
        prompt = main.query_one(PromptArea)
        await h.wait_until(pilot, lambda: prompt.text == "a poster of @ghost", what="the prompt given back")
        requests = demo_studio.demo_server.requests if demo_studio.demo_server else []
        assert not [r for r in requests if "enerateContent" in r.path]


async def test_the_named_references_screen_inserts_and_removes(demo_studio: Any, h: Any, make_png: Any) -> None:
    from textual.widgets import OptionList

    from banana_studio.tui.screens.confirm import ConfirmScreen
    from banana_studio.tui.screens.named_refs import NamedRefsScreen
    from banana_studio.tui.widgets.prompt import PromptArea

    save("@hero", make_png(), make_png("h\x1b[2J.png"))
    save("@logo", make_png("logo\x1b]0;x\x07.png"))
    save("@logo", make_png())  # re-pointed once
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await h.wait_until(pilot, main.started.is_set, what="the project to load")
        prompt = main.query_one(PromptArea)
        prompt.load_text_at_end("a poster of")
        main.action_named_refs()  # the palette's "Named references…"
        await h.wait_until(pilot, lambda: isinstance(app.screen, NamedRefsScreen)
                           and app.screen.query_one(OptionList).option_count == 2, what="the list of names")
        screen = app.screen
        detail = str(screen.query_one("#named-refs-detail").render())
        assert "@hero · user library" in detail and "2. h\\x1b[2J.png" in detail and "\x1b" not in detail
        await pilot.press("down")
        await h.wait_until(pilot, lambda: "Pointed before: 1 time" in str(screen.query_one("#named-refs-detail")
                                                                            .render()), what="@logo's history")
        await pilot.press("delete")
        await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="asked first")
        await pilot.press("y")
        await h.wait_until(pilot, lambda: app.screen is screen and screen.query_one(OptionList).option_count == 1,
                           what="@logo removed")
        assert library().resolve("@logo") is None
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: app.screen is main, what="closed with a name")
        await h.wait_until(pilot, lambda: prompt.text == "a poster of @hero ", what="the name written")
        await h.wait_until(pilot, lambda: "@logo" not in prompt.names, what="the completion forgets @logo")
