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

from typing import TYPE_CHECKING

from textual import events

if TYPE_CHECKING:
    from banana_studio.tui.screens.main.screen import MainScreen

NARROW_AT = 120
SETTINGS_AT = 180
TREE_AT = 220


def default_panels(width: int) -> tuple[bool, bool]:
    """(tree shown, settings open) for a terminal ``width`` columns wide."""
    return width >= TREE_AT, width >= SETTINGS_AT


class MainLayout:
    """The panel toggles of :class:`~banana_studio.tui.screens.main.MainScreen` (a mixin: ``self`` is the
    main screen)."""

    _tree_choice: bool | None = None
    _settings_choice: bool | None = None

    # -- state ------------------------------------------------------------------------------------

    @property
    def tree_on(self: MainScreen) -> bool:
        return self.has_class("-tree-on")

    @property
    def settings_open(self: MainScreen) -> bool:
        return self.has_class("-settings-open")

    @property
    def focus_mode(self: MainScreen) -> bool:
        return self.has_class("-focus-mode")

    def layout_classes(self: MainScreen, width: int) -> list[str]:
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

    def apply_layout(self: MainScreen, width: int | None = None) -> None:
        if width is None:
            try:
                width = self.app.size.width
            except Exception:
                return
        wanted = self.layout_classes(int(width or 0))
        self.set_class("-tree-on" in wanted, "-tree-on")
        self.set_class("-settings-open" in wanted, "-settings-open")

    def _on_resize(self: MainScreen, event: events.Resize) -> None:
        self.apply_layout(event.size.width)

    def _narrow(self: MainScreen) -> bool:
        try:
            return int(self.app.size.width) < NARROW_AT
        except Exception:
            return False

    # -- toggles ----------------------------------------------------------------------------------

    def show_tree(self: MainScreen, on: bool = True) -> None:
        self._tree_choice = on
        if on and self._narrow():
            self._settings_choice = False
        if on:
            self.remove_class("-focus-mode")
        self.apply_layout()

    def show_settings(self: MainScreen, on: bool = True) -> None:
        self._settings_choice = on
        if on and self._narrow():
            self._tree_choice = False
        if on:
            self.remove_class("-focus-mode")
        self.apply_layout()

    def action_toggle_tree(self: MainScreen) -> None:
        on = not (self.tree_on and not self.focus_mode)
        self.show_tree(on)
        if on:
            self.call_after_refresh(self.tree.focus)
        elif self.focused is None or self.focused.id == "tree":
            self.composer.focus_prompt()

    def action_toggle_settings(self: MainScreen) -> None:
        """F4: open the settings and go there; from inside them, fold them to the summary line."""
        sidebar = self.composer.sidebar
        if self.settings_open and not self.focus_mode and sidebar.has_focus_within:
            self.show_settings(False)
            self.composer.focus_prompt()
            return
        self.show_settings(True)
        self.call_after_refresh(sidebar.focus_first)

    def action_focus_mode(self: MainScreen) -> None:
        """F6: the picture takes the whole stage with the prompt under it (F6 again: back)."""
        on = not self.focus_mode
        self.set_class(on, "-focus-mode")
        if on:
            self.composer.focus_prompt()
