"""The cost guard of the TUI: a confirm modal when a request would go over the daily / project budget
from the config.  Used by every lane that spends (send, re-roll, retry, variations, batch jobs)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from banana_studio.tui.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode

    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import GenerateRequest, Studio


async def budget_allows(app: App[Any], studio: Studio, settings: GenerationSettings, n: int = 1, n_refs: int = 0, *,
                        batch: bool = False, estimate: float | None = None) -> bool:
    """True if the request is within budget or the user confirms it anyway.  Call from a worker.

    Without a configured budget this returns at once (no thread hop, no modal)."""
    config = studio.config
    if config.daily_budget is None and config.project_budget is None:
        return True
    verdict = await asyncio.to_thread(studio.check_budget, settings, n, n_refs=n_refs, batch=batch,
                                      estimate=estimate)
    if verdict.ok:
        return True
    answer = await app.push_screen_wait(ConfirmScreen(
        "Over budget", f"{verdict.message}\n\nSend anyway?", yes="Send anyway", no="Don't send", danger=True))
    return bool(answer)


def guarded(node: DOMNode, studio: Studio, request: GenerateRequest, go: Callable[[], Any], n: int = 1) -> None:
    """Run ``go()`` now, or after confirming a request over the configured budget (in a worker of
    ``node``)."""
    if studio.config.daily_budget is None and studio.config.project_budget is None:
        go()
        return

    async def check() -> None:
        if await budget_allows(node.app, studio, request.settings, n, len(request.references)):
            go()

    node.run_worker(check(), group="budget", exclusive=True, exit_on_error=False)
