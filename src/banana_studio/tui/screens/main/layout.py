"""How the main screen shares the terminal out: the picture gets the room.

Around the preview sit three panels, switched with classes on the screen (the CSS in ``app.tcss``
does the rest):

``-tree-on``
    the branch tree, left of the preview (Ctrl+B);
``-settings-open``
    the settings sidebar at the right edge (F4); without it the settings are folded into a one-line
    summary above the prompt;
``-focus-mode``
    only the picture, the prompt under it and the status line (F6).

The turn detail and the thinking log are one panel right of the preview (two tabs: the log comes up
while a generation runs, the detail after it).  Defaults follow the terminal width: from
:data:`SETTINGS_AT` columns the settings are open, from :data:`TREE_AT` the tree is shown too.  A
panel the user toggled keeps that choice across resizes.  Below :data:`NARROW_AT` columns only one
panel fits beside the preview: opening the tree closes the settings and the other way round, and
either takes the place of the turn panel.
"""

from __future__ import annotations

from typing import Any

from textual import events

NARROW_AT = 120
SETTINGS_AT = 180
TREE_AT = 220


def default_panels(width: int) -> tuple[bool, bool]:
    """(tree shown, settings open) for a terminal ``width`` columns wide."""
    return width >= TREE_AT, width >= SETTINGS_AT


class MainLayout:
    """The panel toggles of :class:`~banana_studio.tui.screens.main.MainScreen` (a mixin)."""

    _tree_choice: bool | None = None
    _settings_choice: bool | None = None

    # -- state ------------------------------------------------------------------------------------

    @property
    def tree_on(self) -> bool:
        return self.has_class("-tree-on")  # type: ignore[attr-defined, no-any-return]

    @property
    def settings_open(self) -> bool:
        return self.has_class("-settings-open")  # type: ignore[attr-defined, no-any-return]

    @property
    def focus_mode(self) -> bool:
        return self.has_class("-focus-mode")  # type: ignore[attr-defined, no-any-return]

    def layout_classes(self, width: int) -> list[str]:
        """The panel classes for ``width`` (the user's choices win over the defaults)."""
        tree, settings = default_panels(width)
        if self._tree_choice is not None:
            tree = self._tree_choice
        if self._settings_choice is not None:
            settings = self._settings_choice
        if width < NARROW_AT and tree and settings:
            # One panel beside the preview: the one chosen last (the tree when neither was chosen).
            if self._settings_choice and not self._tree_choice:
                tree = False
            else:
                settings = False
        return [name for name, on in (("-tree-on", tree), ("-settings-open", settings)) if on]

    def apply_layout(self, width: int | None = None) -> None:
        screen: Any = self
        if width is None:
            try:
                width = screen.app.size.width
            except Exception:
                return
        wanted = self.layout_classes(int(width or 0))
        screen.set_class("-tree-on" in wanted, "-tree-on")
        screen.set_class("-settings-open" in wanted, "-settings-open")

    def _on_resize(self, event: events.Resize) -> None:
        self.apply_layout(event.size.width)

    def _narrow(self) -> bool:
        try:
            return int(self.app.size.width) < NARROW_AT  # type: ignore[attr-defined]
        except Exception:
            return False

    # -- toggles ----------------------------------------------------------------------------------

    def show_tree(self, on: bool = True) -> None:
        screen: Any = self
        self._tree_choice = on
        if on and self._narrow():
            self._settings_choice = False
        if on:
            screen.remove_class("-focus-mode")
        self.apply_layout()

    def show_settings(self, on: bool = True) -> None:
        screen: Any = self
        self._settings_choice = on
        if on and self._narrow():
            self._tree_choice = False
        if on:
            screen.remove_class("-focus-mode")
        self.apply_layout()

    def action_toggle_tree(self) -> None:
        screen: Any = self
        on = not (self.tree_on and not self.focus_mode)
        self.show_tree(on)
        if on:
            screen.call_after_refresh(screen.query_one("#tree").focus)
        elif screen.focused is None or screen.focused.id == "tree":
            screen.query_one("#prompt").focus()

    def action_toggle_settings(self) -> None:
        """F4: open the settings and go there; from inside them, fold them to the summary line."""
        screen: Any = self
        sidebar = screen.query_one("#sidebar")
        if self.settings_open and not self.focus_mode and sidebar.has_focus_within:
            self.show_settings(False)
            screen.query_one("#prompt").focus()
            return
        self.show_settings(True)
        screen.call_after_refresh(sidebar.focus_first)

    def action_focus_mode(self) -> None:
        """F6: the picture takes the whole stage with the prompt under it (F6 again: back)."""
        screen: Any = self
        on = not self.focus_mode
        screen.set_class(on, "-focus-mode")
        if on:
            screen.query_one("#prompt").focus()
