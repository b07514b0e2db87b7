"""The key-binding footer, recomposed only when what it shows changes.

Textual's ``Footer`` rebuilds all of its key widgets (about fifteen here) after every
``refresh_bindings``: each focus change, each reactive declared with ``bindings=True`` (several in
``Select``, ``Input`` and ``TextArea``), terminal focus in/out.  Right after start-up that happened
five times in a row while the settings controls were mounted, each time for the same keys, and it
delayed the screen becoming complete by ~40 ms.  :class:`StudioFooter` compares what would be shown
(keys, labels, enabled state, tooltips, key display, compact mode) with what is shown and skips the
rebuild when they are equal.

Narrow terminals: the keys that do not fit are left out, least important first (the focused widget's
own keys, then the turn actions), so Send, Cancel, Focus, Tree, Quit and Help always stay visible;
every key is still in the help (F1) and the command palette (Ctrl+P).
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

ESSENTIAL = ("send", "cancel", "quit", "help", "focus_mode", "toggle_tree", "dismiss", "close", "pick", "view")
"""Actions whose keys are never left out (the rest go first when the footer is too narrow)."""
USEFUL = ("reroll", "fork", "gallery", "variations", "toggle_zoom", "next", "prev", "mark_compare", "swap")
PALETTE_WIDTH = 13
"""Room for the right-aligned ``^p palette`` key."""


def key_width(key_display: str, description: str) -> int:
    """Cells one footer key takes (padding 0 1 around the key, 1 after the description)."""
    return len(key_display) + len(description) + 3


def fit_keys(keys: list[tuple[str, str, str]], width: int) -> list[int]:
    """Indexes of ``keys`` ((action, key display, description) each) that fit in ``width`` cells, in
    order; the least important are dropped first, from the right."""
    def rank(action: str) -> int:
        name = action.split(".")[-1]
        if name in ESSENTIAL:
            return 0
        return 1 if name in USEFUL else 2

    kept = list(range(len(keys)))
    total = sum(key_width(k[1], k[2]) for k in keys)
    for level in (2, 1):
        for i in reversed([i for i in kept if rank(keys[i][0]) == level]):
            if total <= width:
                return kept
            kept.remove(i)
            total -= key_width(keys[i][1], keys[i][2])
    return kept


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
                app.COMMAND_PALETTE_BINDING, self._width())

    def _width(self) -> int:
        return int(self.size.width or self.app.size.width)

    def _wanted(self, active: Any) -> tuple[dict[str, tuple[Any, bool, str]], list[tuple[Any, bool, str]]]:
        """The first shown binding of each action (action → (binding, enabled, tooltip)), and those of
        them that fit the footer's width (see :func:`fit_keys`), in order."""
        first: dict[str, tuple[Any, bool, str]] = {}
        for (_node, binding, enabled, tooltip) in active.values():
            if binding.show and binding.action not in first:
                first[binding.action] = (binding, enabled, tooltip)
        entries = list(first.values())
        shown = [(b.action, self.app.get_key_display(b), b.description) for b, _e, _t in entries]
        room = self._width() - (PALETTE_WIDTH if self.show_command_palette else 0)
        return first, [entries[i] for i in fit_keys(shown, room)]

    def _key(self, binding: Any, enabled: bool, tooltip: str) -> FooterKey:
        return FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                         disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)

    def compose(self) -> ComposeResult:
        """Footer's keys (one per action), without those that do not fit (see :func:`fit_keys`)."""
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        _first, wanted = self._wanted(active)
        self.styles.grid_size_columns = len(wanted)
        for binding, enabled, tooltip in wanted:
            yield self._key(binding, enabled, tooltip)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            try:
                _node, binding, enabled, tooltip = active[self.app.COMMAND_PALETTE_BINDING]
            except KeyError:
                return
            yield FooterKey(binding.key, self.app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not enabled,
                            tooltip=binding.tooltip or binding.description)

    async def _on_resize(self, event: events.Resize) -> None:
        if self._shown is not None and self._shown[-1] != self._width():
            await self.recompose()

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        try:
            signature = self._signature()
        except Exception:  # anything unexpected: behave exactly like Footer
            signature = None
        if signature is not None and signature == self._shown and self.children:
            return
        if signature is not None and self._shown is not None and self.children and await self._restate(signature):
            self._shown = signature
            return
        self._shown = signature
        await super().recompose()

    @staticmethod
    def _layout_of(signature: tuple[Any, ...]) -> tuple[Any, ...]:
        """``signature`` without the enabled state and tooltips of the keys (what a restyle can change)."""
        keys = tuple((k[0], k[1], k[2], k[3], k[6], k[7]) for k in signature[0])
        return (keys, *signature[1:])

    async def _restate(self, signature: tuple[Any, ...]) -> bool:
        """Only keys' enabled state or tooltips changed, or one key came or went (Cancel while a
        generation runs): update the key widgets already shown -- restate, mount the new key, remove
        the gone one -- instead of rebuilding all ~15 (each rebuild mounts and styles them all).
        False (rebuild) when anything else changed."""
        assert self._shown is not None
        old, new = self._layout_of(self._shown), self._layout_of(signature)
        if old[1:] != new[1:] or not self._bindings_ready:
            return False
        active = self.screen.active_bindings
        first, wanted = self._wanted(active)
        keys = [k for k in self.children if isinstance(k, FooterKey) and not k.has_class("-command-palette")]
        by_action = {k.action: k for k in keys}
        if len(by_action) != len(keys):
            return False
        for key in keys:  # a key shown must still be the same key (same label and key display)
            entry = first.get(key.action)
            if entry is not None and (entry[0].key != key.key or entry[0].description != key.description
                                      or self.app.get_key_display(entry[0]) != key.key_display):
                return False
        wanted_actions = [b.action for b, _e, _t in wanted]
        kept = [k.action for k in keys if k.action in wanted_actions]
        if kept != [a for a in wanted_actions if a in by_action]:
            return False  # reordered
        for key in keys:
            if key.action not in wanted_actions:
                key.remove()
        new_keys: list[tuple[FooterKey, FooterKey | None]] = []
        for i, (binding, enabled, tooltip) in enumerate(wanted):
            key = by_action.get(binding.action)
            if key is None:
                after = next((by_action[a] for a in wanted_actions[i + 1:] if a in by_action), None)
                new_keys.append((self._key(binding, enabled, tooltip), after))
                continue
            _enable(key, enabled)
            key.tooltip = tooltip or None
        self.styles.grid_size_columns = len(wanted)
        palette = next((k for k in self.children if k.has_class("-command-palette")), None)
        if isinstance(palette, FooterKey) and self.app.COMMAND_PALETTE_BINDING in active:
            _enable(palette, active[self.app.COMMAND_PALETTE_BINDING][2])
        for widget, before in new_keys:
            anchor = before if before is not None else palette
            await (self.mount(widget, before=anchor) if anchor is not None else self.mount(widget))
        return True


def _enable(key: FooterKey, enabled: bool) -> None:
    """Restate a key's enabled state the way FooterKey's constructor sets it (class and click)."""
    if key._disabled != (not enabled):
        key._disabled = not enabled
        key.set_class(not enabled, "-disabled")
