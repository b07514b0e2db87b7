"""The settings panel shows the next request's size (history + refs) under the cost, and warns before
the API's request limit, naming the way on.  The limit is scaled down here so a few small demo turns
cross it; tests/test_reality.py covers the real-size numbers."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static

from banana_studio.tui.app import make_app
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets.sidebar import SettingsSidebar

SIZE = (140, 45)


def _texts(main: MainScreen) -> tuple[str, str]:
    side = main.query_one(SettingsSidebar)
    return str(side.query_one("#estimate", Static).render()), str(side.query_one("#problems", Static).render())


async def test_next_request_size_and_warning(demo_studio: Any, h: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import banana_studio.engine.request as request_mod

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await h.settle(pilot)
        assert "next request 0.0 MB" in _texts(main)[0]
        await h.send_prompt(pilot, main, "a lighthouse at dusk")
        first = demo_studio.next_request_size(main.requested_parent(), main.query_one(SettingsSidebar).settings)
        await h.wait_until(pilot, lambda: f"next request {first.total / 2**20:.1f} MB" in _texts(main)[0],
                           what="the size of the next request under the cost")
        assert "Continue from the image alone" not in _texts(main)[1]
        # with the limit just above this branch's size, the same branch is past 80%: the warning names the way on
        monkeypatch.setattr(request_mod, "MAX_REQUEST_BYTES", int(first.total / 0.9))
        await h.send_prompt(pilot, main, "now with a red boat")
        await h.wait_until(pilot, lambda: "Continue from the image alone" in _texts(main)[1],
                           what="the request-size warning")
        assert "% of the" in _texts(main)[1] or "over the" in _texts(main)[1]
