"""`ui.send_key = "enter"`: Enter sends, and the footer says so."""

from __future__ import annotations

import re
from typing import Any

from banana_studio.config import load_config
from banana_studio.tui.app import make_app


def _footer_text(app: object) -> str:
    svg = app.export_screenshot()  # type: ignore[attr-defined]
    return re.sub(r"<[^>]+>", "", svg).replace("&#160;", " ")


async def test_enter_mode_sends_on_enter_and_footer_shows_it(zero_latency: None, h: Any) -> None:
    cfg = load_config()
    cfg.send_key = "enter"
    studio = h.open_demo_studio(config=cfg)
    try:
        app = make_app(studio)
        async with app.run_test(size=(140, 45)) as pilot:
            await pilot.pause(0.3)
            text = _footer_text(app)
            assert "⏎ Send" in text and "ctrl+⏎" not in text
            await pilot.click("#prompt")
            await pilot.press(*"a quiet harbour", "enter")
            for _ in range(200):
                await pilot.pause(0.05)
                if studio.store.tree_index():
                    break
            assert [n.prompt for n in studio.store.tree_index()] == ["a quiet harbour"]
    finally:
        await studio.aclose()


async def test_default_footer_shows_ctrl_enter(demo_studio: object) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause(0.3)
        assert "ctrl+⏎ Send" in _footer_text(app)
