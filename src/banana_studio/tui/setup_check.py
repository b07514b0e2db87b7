"""Start-up check of the API target (Vertex AI: project, location, credentials), shown at once.

The check runs in a worker (it may read credential files or ask the metadata server); a problem is
shown as a lasting notification with the remedy, before anyone types a prompt — and sending later
records no turn for it (see ``Studio.generate``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from banana_studio.tui.screens.main import MainScreen


def check_target_on_start(main: MainScreen) -> None:
    async def go() -> None:
        error = await main.studio.check_target()
        if error is not None:
            main.notify(error.message, title="Vertex AI setup", severity="error", timeout=60)

    main.run_worker(go(), group="target-check", exclusive=True, exit_on_error=False)
