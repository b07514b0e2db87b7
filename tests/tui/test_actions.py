"""The one table of actions and keys (tui/actions.py): bindings, palette, help and the [keymap]
check all come from it, and the ids of earlier releases keep working in users' keymaps."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from banana_studio.tui import actions
from banana_studio.tui.app import make_app
from banana_studio.tui.screens.main import MainScreen

SIZE = (140, 45)
OLD_IDS = {  # one of each style that earlier releases used
    "send": "main.send", "new-thread": "main.new_thread", "focus-sidebar": "main.toggle_settings",
    "batch-close": "batch.close", "variations-pick": "variations.pick", "ref-remove": "refs.remove",
    "help": "app.help", "quit": "app.quit", "project-picker": "main.projects",
}


def test_ids_are_unique_and_in_one_scheme() -> None:
    ids = [a.id for a in actions.ACTIONS]
    aliases = [alias for a in actions.ACTIONS for alias in a.aliases]
    assert len(set(ids)) == len(ids)
    assert len(set(aliases)) == len(aliases) and not set(aliases) & set(ids)
    for action_id in ids:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", action_id), action_id


def test_old_ids_resolve_and_unknown_ones_are_named() -> None:
    keymap = {old: f"f{n}" for n, old in enumerate(OLD_IDS, start=1)}
    keymap |= {"gallery.close": "x", "viewer.close": "z", "compare.swap": "w", "tree.parent": "h",
               "not-an-action": "y"}
    resolved, unknown = actions.resolve_keymap(keymap)
    assert unknown == ["not-an-action"]
    for old, new in OLD_IDS.items():
        assert resolved[new] == keymap[old] and old not in resolved
    assert resolved["gallery.close"] == "x" and resolved["viewer.close"] == "z"


def test_bindings_palette_and_help_come_from_the_table() -> None:
    from banana_studio.tui.commands import palette_actions

    main_ids = [b.id for b in MainScreen.BINDINGS]  # type: ignore[union-attr]
    assert main_ids == [a.id for a in actions.ACTIONS if a.owner == "main" and a.keys]
    palette = {p.binding_id for p in palette_actions()}
    assert palette == {a.id for a in actions.ACTIONS if a.palette}
    assert "main.leave_input" not in palette


async def test_a_keymap_with_old_ids_works_and_gallery_viewer_ids_are_known(zero_latency: None, tmp_path: Path,
                                                                             h: Any) -> None:
    from banana_studio.config import load_config
    from banana_studio.tui.screens.batch import BatchScreen
    from banana_studio.tui.screens.gallery import GalleryScreen

    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\nsend = "f11"\nbatch-jobs = "f10"\nbatch-close = "x"\n"gallery.close" = "z"\n'
                   '"viewer.close" = "f12"\n', encoding="utf-8")
    studio = h.open_demo_studio(config=load_config(cfg))
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            assert not [n for n in app._notifications if "Unknown binding" in n.message]
            await pilot.click("#prompt")
            await pilot.press(*"an owl", "f11")  # the old id "send", remapped
            await h.wait_until(pilot, lambda: main.live_turn_id is not None, what="sent with the remapped key")
            await h.wait_generation(pilot, main)
            await pilot.press("f10")
            await h.wait_until(pilot, lambda: isinstance(app.screen, BatchScreen), what="batch jobs")
            await pilot.press("x")  # "batch-close"
            await h.wait_until(pilot, lambda: app.screen is main, what="batch screen closed by x")
            await pilot.press("ctrl+g")
            await h.wait_until(pilot, lambda: isinstance(app.screen, GalleryScreen), what="gallery")
            await pilot.press("z")  # "gallery.close"
            await h.wait_until(pilot, lambda: app.screen is main, what="gallery closed by z")
    finally:
        await studio.aclose()


def test_dotted_ids_may_be_written_bare_in_the_config(tmp_path: Path) -> None:
    from banana_studio.config import load_config

    cfg = tmp_path / "config.toml"
    cfg.write_text('[keymap]\nmain.reroll = "ctrl+y"\n"gallery.close" = "q"\nstar = "S"\n', encoding="utf-8")
    keymap = load_config(cfg).keymap
    assert keymap == {"main.reroll": "ctrl+y", "gallery.close": "q", "star": "S"}
    assert actions.resolve_keymap(keymap) == ({"main.reroll": "ctrl+y", "gallery.close": "q", "main.star": "S"}, [])


def test_the_palette_shows_every_key_of_an_action_and_no_key_is_eaten_as_markup() -> None:
    from textual.content import Content

    from banana_studio.tui.commands import palette_actions, palette_help

    helps = {p.binding_id: Content.from_markup(palette_help(p, {})).plain for p in palette_actions()}
    # "[r]" and "[escape]" are Textual styles: unescaped, the key vanished from the line.
    assert helps["main.region_edit"].startswith("[r] Mark where")
    assert helps["main.cancel"].startswith("[esc] Cancel")
    assert helps["main.retry"].startswith("[ctrl+t / R] ")
    assert helps["main.send"].startswith("[ctrl+⏎ / ctrl+j] ")
    assert helps["app.help"].startswith("[f1 / ?] ")
    remapped = next(p for p in palette_actions() if p.binding_id == "main.star")
    assert Content.from_markup(palette_help(remapped, {"main.star": "S"})).plain.startswith("[S] Star")


async def test_the_help_lists_every_key_of_an_action_and_no_key_a_priority_binding_takes(
        demo_studio: Any, h: Any) -> None:
    from rich.console import Console

    from banana_studio.tui.screens.help import HelpScreen
    from banana_studio.tui.widgets.prompt import PromptArea

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await h.settle(pilot)
        assert main.query_one(PromptArea).has_focus
        await pilot.press("f1")
        await h.wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
        console.print(app.screen._table())
        lines = [" ".join(line.split()) for line in console.export_text().splitlines()]
        # F6 is focus mode (a priority key of the screen), not the prompt's own "select line".
        assert not [line for line in lines if line.startswith("f6 Select line")], lines
        assert any(line.startswith("f6 Focus main.focus_mode") for line in lines), lines
        assert any(line.startswith("^t / R Retry") for line in lines), lines
        assert any(line.startswith("ctrl+⏎ / ^j Send") for line in lines), lines
        assert any(line.startswith("f1 / ? Help") for line in lines), lines
