"""Inside the studio the collector is paced by the app's loop (tui/gc_tuning.py): automatic collection
is off while it runs, cyclic garbage is still collected, and automatic collection is back after."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from banana_studio.tui.app import make_app


@pytest.fixture
def restore_gc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("BANANA_STUDIO_GC", raising=False)
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


async def test_the_studio_paces_collections_and_gives_them_back(demo_studio: Any, h: Any, restore_gc: None) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=(120, 40)) as pilot:
        await h.wait_until(pilot, lambda: not gc.isenabled(), what="automatic collection off after the first paint")
        assert any(t.name == "gc-pacer" for t in app._timers), "no pacing timer"
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        del cycle  # unreachable now, but only a collection can free it: automatic ones are off
        for _ in range(gc.get_threshold()[0] + 100):  # enough new objects that a young collection is due
            _Cycle()
        await h.wait_until(pilot, lambda: gone() is None, what="the cycle collected by the app's pacer")
        assert not gc.isenabled(), "a paced collection must not switch automatic collection back on"
    assert gc.isenabled(), "automatic collection is back once the app stopped"
