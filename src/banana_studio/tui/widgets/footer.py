"""The key-binding footer, recomposed only when what it shows changes.

Textual's ``Footer`` rebuilds all of its key widgets (about fifteen here) after every
``refresh_bindings``: each focus change, each reactive declared with ``bindings=True`` (several in
``Select``, ``Input`` and ``TextArea``), terminal focus in/out.  Right after start-up that happened
five times in a row while the settings controls were mounted, each time for the same keys, and it
delayed the screen becoming complete by ~40 ms.  :class:`StudioFooter` compares what would be shown
(keys, labels, enabled state, tooltips, key display, compact mode) with what is shown and skips the
rebuild when they are equal.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class StudioFooter(Footer):
    """A ``Footer`` that skips rebuilds which would show the same keys."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shown: tuple[Any, ...] | None = None

    def _signature(self) -> tuple[Any, ...]:
        """Everything ``Footer.compose`` reads to build its keys."""
        app = self.app
        keys = tuple(
            (binding.key, binding.action, binding.description, binding.group, enabled, tooltip,
             binding.tooltip, app.get_key_display(binding))
            for (_node, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.key == app.COMMAND_PALETTE_BINDING
        )
        return (keys, self.compact, self.show_command_palette, self.combine_groups, app.ENABLE_COMMAND_PALETTE,
                app.COMMAND_PALETTE_BINDING)

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        try:
            signature = self._signature()
        except Exception:  # anything unexpected: behave exactly like Footer
            signature = None
        if signature is not None and signature == self._shown and self.children:
            return
        self._shown = signature
        await super().recompose()
