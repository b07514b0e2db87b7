"""The compositor that skips dividing covered lines (tui/compositor_cuts.py) paints exactly what
Textual's own ``_render_chops`` paints: every frame of a studio session, compared piece by piece."""

from __future__ import annotations

from typing import Any

import pytest
from textual._compositor import Compositor
from textual.strip import Strip

from banana_studio.tui import compositor_cuts
from banana_studio.tui.app import make_app
from banana_studio.tui.widgets.turn_detail import TurnDetail


def _pieces(chops: Any) -> list[dict[int, Any]]:
    return [{cut: None if strip is None else (strip.cell_length, list(strip)) for cut, strip in line.items()}
            for line in chops]


async def test_every_frame_matches_textuals_own(demo_studio: Any, h: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Compositor._render_chops is compositor_cuts.render_chops, "the studio installs it"
    calls = {"divide": 0}
    real_divide = Strip.divide

    def counted(self: Strip, cuts: Any) -> Any:
        calls["divide"] += 1
        return real_divide(self, cuts)

    divisions: list[tuple[int, int]] = []  # (Textual's, ours) per frame

    def both(self: Compositor, crop: Any, is_rendered_line: Any) -> Any:
        before = calls["divide"]
        theirs = compositor_cuts.ORIGINAL(self, crop, is_rendered_line)
        middle = calls["divide"]
        ours = compositor_cuts.render_chops(self, crop, is_rendered_line)
        divisions.append((middle - before, calls["divide"] - middle))
        assert _pieces(ours) == _pieces(theirs), f"frame {len(divisions)} differs"
        return ours

    monkeypatch.setattr(Strip, "divide", counted)
    monkeypatch.setattr(Compositor, "_render_chops", both)
    app = make_app(demo_studio)
    async with app.run_test(size=(160, 50)) as pilot:
        main = app.screen
        await h.send_prompt(pilot, main, "a lighthouse at dusk")  # log, drafts, picture, then the detail
        detail = main.query_one(TurnDetail)
        await h.wait_until(pilot, lambda: detail.turn_id is not None, what="the turn detail")
        await pilot.press("f1")  # a modal screen over the main one
        await h.wait_until(pilot, lambda: app.screen is not main, what="the help screen")
        await pilot.press("escape")
        await h.wait_until(pilot, lambda: app.screen is main, what="back on the main screen")
        await pilot.resize_terminal(118, 40)
        await pilot.pause()
    assert len(divisions) > 10, "the session's frames went through the comparison"
    theirs, ours = (sum(d[i] for d in divisions) for i in (0, 1))
    assert ours < theirs, "lines behind widgets in front were divided all the same"
