"""Pilot's "wait until every widget has drained its queue", made safe against widgets that leave.

``Pilot.pause()``/``press()`` post a callback to the app and to every widget of the screen and wait for
all of them to run.  A widget removed while that wait is under way (the footer recomposing its keys
when a generation starts or ends, a thumbnail strip being rebuilt) never runs its callback, and the
stock wait then stalls for 30 s and fails the test -- seen on a busy 2-core box.  This wait counts a
widget that has left the DOM (pruned, closing, detached) as drained, and when it does time out it
names the widgets that still hold a callback, so a real stall is diagnosable rather than a mystery.
"""

from __future__ import annotations

import asyncio
from typing import Any

from textual.pilot import Pilot, WaitForScreenTimeout


def _left(node: Any) -> bool:
    return bool(node._closing or node._closed or getattr(node, "_pruning", False) or not node.is_attached)


async def _wait_for_screen(self: Pilot[Any], timeout: float = 30.0) -> bool:
    try:
        screen = self.app.screen
    except Exception:
        return False
    app = self.app
    pending: set[Any] = set()
    drained = asyncio.Event()

    def done_for(node: Any) -> Any:
        def done() -> None:
            pending.discard(node)
            if not pending:
                drained.set()
        return done

    for node in [app, *screen.walk_children(with_self=True)]:
        if node.call_later(done_for(node)):
            pending.add(node)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while pending:
        if app._exception_event.is_set():
            return False
        try:
            await asyncio.wait_for(drained.wait(), 0.05)
        except TimeoutError:
            pass
        for node in [n for n in pending if n is not app and _left(n)]:
            pending.discard(node)
        if pending and loop.time() > deadline:
            names = ", ".join(sorted(repr(n) for n in pending)[:8])
            raise WaitForScreenTimeout(f"Timed out while waiting for widgets to process pending messages: {names}")
    return True


def install() -> None:
    Pilot._wait_for_screen = _wait_for_screen  # type: ignore[method-assign]
