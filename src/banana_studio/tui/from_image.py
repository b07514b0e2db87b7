"""The studio side of "continue from the image alone" (binding id ``continue-from-image``).

The action fills the composer: the chosen turn's final image goes into the reference tray, the next
send becomes a new root turn (kind ``from_image``), the turn's settings are loaded, and the prompt's
title says plainly that the conversation is not carried over.  The user writes the prompt and sends.

It is also what the studio offers when a send is refused because the branch was made by another
target (demo → Gemini API, Gemini API → Vertex AI): see :func:`offer_image_alone`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from banana_studio.config import redact

if TYPE_CHECKING:
    from banana_studio.tui.screens.main import MainScreen

IMAGE_ALONE_TITLE = "Prompt → new thread from #{id}'s image alone (the conversation is not carried over)"


async def continue_from_image(main: MainScreen, turn_id: int, prompt: str = "") -> bool:
    """Prepare the composer of ``main`` (a MainScreen) to continue from ``turn_id``'s image alone."""
    from banana_studio.services.continuity import final_image_path

    try:
        turn = await asyncio.to_thread(main.store.get_turn, turn_id)
        path = await asyncio.to_thread(final_image_path, main.store, turn_id)
    except Exception as exc:
        main.notify(redact(str(exc)), title="Cannot continue from the image", severity="warning")
        return False
    if not await main.composer.use_image_alone(path, turn.settings, prompt):
        return False
    main.continue_from_image_alone(turn_id)
    main.notify(f"#{turn_id}'s image is the reference of a new thread: write the prompt and send. The "
                "conversation (thoughts, earlier turns) is not carried over.", title="Continue from the image alone")
    return True


def offer_image_alone(main: MainScreen, turn_id: int, message: str, prompt: str = "") -> None:
    """A send from ``turn_id`` was refused across targets: explain, and offer the way that works."""
    from banana_studio.tui.screens.confirm import ConfirmScreen

    async def answered(yes: bool | None) -> None:
        if yes:
            await continue_from_image(main, turn_id, prompt)

    main.app.push_screen(ConfirmScreen("This branch cannot continue here", redact(message),
                                       yes="Continue from the image alone", no="Cancel"), answered)
