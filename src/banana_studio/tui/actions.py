"""Every action with a key, declared once: its id, where it lives, its keys, what it does.

The id is ``owner.name`` (``main.send``, ``gallery.close``, ``batch.cancel_job``); the owner is the
screen or widget whose ``BINDINGS`` are made from it (:func:`bindings`).  The command palette
(:mod:`tui.commands`), the help screen (:mod:`tui.screens.help`) and the ``[keymap]`` check of the
config (:func:`resolve_keymap`) all read this table.  Ids of earlier releases (``send``,
``batch-close``, ``ref-remove``…) are aliases, so users' keymaps keep working.

Every screen and widget with keys takes its ``BINDINGS`` from here (main, refs, gallery, variations,
batch, help, viewer, compare, tree, picker, handoff); only the yes/no modals keep their own Esc/Enter.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class Action:
    id: str
    """``owner.name``: the binding id users write in ``[keymap]``."""
    keys: str
    """Textual key names, comma separated; empty: no key (palette only)."""
    action: str
    """The action run on the owner (``app.``-prefixed to run on the app)."""
    description: str
    """Short text: footer, help, palette title."""
    tooltip: str = ""
    """One sentence: footer tooltip, palette help."""
    show: bool = True
    """In the footer."""
    palette: bool = False
    """In the command palette (Ctrl+P)."""
    key_display: str | None = None
    priority: bool = False
    aliases: tuple[str, ...] = ()
    """Earlier ids of this action (still accepted in ``[keymap]``)."""
    title: str = ""
    """The palette title when it differs from ``description``."""

    @property
    def owner(self) -> str:
        return self.id.split(".", 1)[0]

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.description, show=self.show, key_display=self.key_display,
                       priority=self.priority, tooltip=self.tooltip, id=self.id)


def _a(id: str, keys: str, action: str, description: str, tooltip: str = "", **kw: object) -> Action:
    return Action(id, keys, action, description, tooltip, **kw)  # type: ignore[arg-type]


def _grid_moves(owner: str, *, vi: bool = False) -> tuple[Action, ...]:
    """The four hidden arrow-key moves of a grid screen (``move(dx, dy)``); ``vi``: h/j/k/l as well,
    labelled with arrows."""
    steps = (("left", "h", "-1, 0", "Left", "←"), ("right", "l", "1, 0", "Right", "→"),
             ("up", "k", "0, -1", "Up", "↑"), ("down", "j", "0, 1", "Down", "↓"))
    return tuple(_a(f"{owner}.{name}", f"{name},{vi_key}" if vi else name, f"move({delta})", arrow if vi else word,
                    show=False) for name, vi_key, delta, word, arrow in steps)


ACTIONS: tuple[Action, ...] = (
    # -- the app (every screen) ------------------------------------------------------------------
    # Shown as F1: it works everywhere, while "?" is typed into the prompt (it opens the help elsewhere).
    _a("app.help", "f1,question_mark", "help", "Help", "Every key and how turns and branches work",
       palette=True, title="Help: keys and concepts", aliases=("help",)),
    _a("app.quit", "ctrl+q", "quit", "Quit", priority=True, aliases=("quit",)),
    _a("app.new_project", "", "new_project", "New project…", "Create a project and open it", palette=True),
    _a("app.rename_project", "", "rename_project", "Rename this project…", "Rename the current project's folder",
       palette=True),
    # -- the main screen -------------------------------------------------------------------------
    _a("main.send", "ctrl+enter,ctrl+j", "send", "Send",
       "Send the prompt; continues from the selected turn (a new turn in the tree)", key_display="ctrl+⏎",
       palette=True, aliases=("send",)),
    _a("main.cancel", "escape", "cancel", "Cancel", "Cancel the running generation", palette=True,
       aliases=("cancel",)),
    _a("main.leave_input", "escape", "leave_input", "Leave the prompt (letters then act on the turn)", show=False,
       aliases=("leave-input",)),
    _a("main.reroll", "ctrl+r", "reroll", "Re-roll", "Same prompt and settings, a new sibling", palette=True,
       aliases=("reroll",)),
    _a("main.retry", "ctrl+t,R", "retry", "Retry", "Send a failed, cancelled or interrupted turn again (same request)",
       show=False, palette=True, aliases=("retry",)),
    _a("main.fork", "ctrl+f", "fork", "Fork",
       "Load the selected turn's prompt/settings to change them; the send makes a sibling", palette=True,
       aliases=("fork",)),
    _a("main.new_thread", "ctrl+n", "new_thread", "New thread",
       "The next send starts a new root turn instead of continuing", show=False, palette=True,
       aliases=("new-thread",)),
    _a("main.toggle_tree", "ctrl+b", "toggle_tree", "Tree", "Show or hide the branch tree", palette=True,
       aliases=("toggle-tree",)),
    # priority: the prompt's TextArea binds F6 to "select line"; here F6 is the focus mode everywhere.
    _a("main.focus_mode", "f6", "focus_mode", "Focus", "Only the picture and the prompt (F6 again: back to the "
       "panels)", priority=True, palette=True, aliases=("focus-mode",)),
    _a("main.gallery", "ctrl+g", "gallery", "Gallery", "Every image of the project as thumbnails; search, star, "
       "compare", palette=True, aliases=("gallery",)),
    _a("main.library", "", "library", "Library: search every project", "Thumbnails of every project, searched "
       "with tag:, model:, cost>, after: …; tag in bulk", palette=True),
    _a("main.add_reference", "ctrl+l", "add_reference", "Add ref",
       "Add a reference image by path (or paste/drop files on the prompt)", show=False, palette=True,
       aliases=("add-reference",)),
    _a("main.projects", "ctrl+o", "app.projects", "Switch project…", "Switch to, create or rename a project",
       show=False, palette=True, aliases=("project-picker",)),
    _a("main.focus_prompt", "f2", "focus('prompt')", "Focus prompt", "Go to the prompt", show=False, palette=True,
       aliases=("focus-prompt",)),
    _a("main.focus_tree", "f3", "focus('tree')", "Focus tree", "Go to the branch tree (shown if hidden)",
       show=False, palette=True, aliases=("focus-tree",)),
    _a("main.toggle_settings", "f4", "toggle_settings", "Settings",
       "Open the settings (from inside them: fold them to one line)", show=False, palette=True,
       aliases=("focus-sidebar",)),
    _a("main.use_as_reference", "u", "use_as_reference", "Use as reference",
       "Add the selected turn's image to the references", show=False, palette=True, aliases=("use-as-reference",)),
    _a("main.continue_from_image", "i", "continue_from_image", "Continue from the image alone",
       "A new root turn with the selected turn's image as its reference; the conversation is not carried over "
       "(works across demo / Gemini API / Vertex AI)", show=False, palette=True, aliases=("continue-from-image",)),
    _a("main.star", "s", "star", "Star", "Star or unstar the selected turn", show=False, palette=True,
       aliases=("star",)),
    _a("main.label", "l", "label", "Label", "Give the selected turn a short label", show=False, palette=True,
       aliases=("label",)),
    _a("main.tags", "", "tags", "Tags of this turn…", "Add or remove tags on the selected turn (hero, -draft)",
       palette=True),
    _a("main.export", "e", "export", "Export branch", "Copy the images and a branch.json of the path to the "
       "selected turn", show=False, palette=True, aliases=("export",)),
    _a("main.copy_path", "c", "copy_path", "Copy image path", "Copy the selected image's file path (OSC 52 "
       "clipboard)", show=False, palette=True, aliases=("copy-path",)),
    _a("main.save_as", "w", "save_as", "Save image as…", "Save a copy of the selected image (the recipe stays "
       "embedded)", show=False, palette=True, aliases=("save-as",)),
    _a("main.open_external", "o", "open_external", "Open in viewer app", "Open the selected image in the "
       "system's image viewer", show=False, palette=True, aliases=("open-external",)),
    _a("main.delete_branch", "D", "delete_branch", "Delete branch", "Delete the selected turn and every turn "
       "below it (asks first)", show=False, palette=True, aliases=("delete-branch",)),
    _a("main.viewer", "v", "viewer", "View full screen", "The selected image full screen (fit / 1:1, drafts too)",
       show=False, palette=True, aliases=("viewer",)),
    _a("main.region_edit", "r", "region_edit", "Region edit", "Mark where on the shown picture, change only "
       "there", show=False, palette=True, aliases=("region-edit",)),
    # hand-off (tui/handoff.py): the web gallery's link + the ssh line; an scp command for the image
    _a("main.handoff", "H", "handoff", "Hand-off: web gallery link", "Start the read-only web gallery, copy its "
       "link (OSC 52) and the ssh -L line to reach it", show=False, palette=True, aliases=("handoff",)),
    _a("main.copy_scp", "y", "copy_scp", "Copy scp command for the image", "Copy a ready scp command that "
       "fetches the selected image to your own machine", show=False, palette=True, aliases=("copy-scp",)),
    _a("main.compare", "m", "compare", "Compare (mark two)", "Mark a turn, then another: side by side with their "
       "differences", show=False, palette=True, aliases=("compare",)),
    _a("main.toggle_log", "L", "toggle_log", "Log / detail", "Turn panel: detail ⇄ thinking log (a past turn's "
       "stored thoughts and drafts)", show=False, palette=True, aliases=("toggle-log",)),
    _a("main.external_editor", "f9", "external_editor", "Edit prompt in $EDITOR", "Write the prompt in your "
       "editor; the studio waits", show=False, palette=True, aliases=("external-editor",)),
    _a("main.variations", "f5", "variations", "Variations", "Send the prompt N times at once and pick the best "
       "(N sibling turns)", palette=True, aliases=("variations",)),
    _a("main.batch_jobs", "f8", "batch_jobs", "Batch jobs", "Gemini Batch API jobs of the project (half price, "
       "results later)", show=False, palette=True, aliases=("batch-jobs",)),
    _a("main.export_storyboard", "E", "export_storyboard", "Export storyboard", "Contact sheet PNG and "
       "HTML/Markdown pages of the branch", show=False, palette=True, aliases=("export-storyboard",)),
    # templates (tui/screens/main/template_actions.py): matrix runs, save a turn as a template
    # priority: the prompt's TextArea binds F7 to "select all" (Ctrl+A still does that).
    _a("main.run_template", "f7", "run_template", "Run template…", "Pick a template, set its slot values: the "
       "grid, count and cost, then send (parallel) or submit (Batch API)", show=False, palette=True,
       priority=True),
    _a("main.save_as_template", "", "save_as_template", "Save turn as template…", "The selected turn's prompt, "
       "settings and references as a template in your library", palette=True),
    _a("main.edit_template", "", "edit_template", "Edit template in $EDITOR…", "Open a template file in your "
       "editor; it is kept only if it still reads", palette=True),
    _a("main.template_grid", "", "template_grid", "Template run grid of this turn", "The template run that made "
       "the selected turn, as an X/Y grid with the slot values as headings", palette=True),
    # named references (tui/screens/main/named_actions.py): @name in the prompt expands to saved images
    _a("main.save_named", "N", "save_named", "Save image as named reference…", "Save the selected turn's image "
       "under an @name (user or project library); @name in a prompt then sends it", show=False, palette=True),
    _a("main.save_ref_named", "", "save_ref_named", "Save reference as named reference…", "Save the reference "
       "under the tray's cursor under an @name (n on a reference chip does the same)", show=False, palette=True),
    _a("main.save_tray_named", "", "save_tray_named", "Save all references as one named reference…", "Every "
       "reference of the tray under one @name, in tray order", show=False, palette=True),
    _a("main.named_refs", "", "named_refs", "Named references…", "The saved @names of this project and your "
       "user library: write one into the prompt, remove one", show=False, palette=True),
    # -- the reference tray ----------------------------------------------------------------------
    _a("refs.prev", "left", "move(-1)", "Prev ref", show=False),
    _a("refs.next", "right", "move(1)", "Next ref", show=False),
    _a("refs.move_left", "shift+left,less_than_sign", "reorder(-1)", "Move left", aliases=("ref-move-left",)),
    _a("refs.move_right", "shift+right,greater_than_sign", "reorder(1)", "Move right", aliases=("ref-move-right",)),
    _a("refs.remove", "delete,backspace,x", "remove", "Remove", aliases=("ref-remove",)),
    _a("refs.add", "a,plus", "add", "Add ref", aliases=("ref-add",)),
    _a("refs.save_named", "n", "save_named", "Save as @name", "Save this reference in a named-reference library"),
    _a("ref_input.close", "escape", "close_input", "Close", show=False),
    # -- gallery ---------------------------------------------------------------------------------
    _a("gallery.close", "escape", "close", "Close"),
    _a("gallery.search", "slash", "focus_search", "Search", key_display="/"),
    _a("gallery.starred", "s", "toggle_starred", "★ only"),
    _a("gallery.view", "enter,v", "view", "View"),
    _a("gallery.compare", "c", "mark_compare", "Compare"),
    _a("gallery.jump", "g", "jump", "Go to turn"),
    _a("gallery.template_grid", "x", "template_grid", "Template grid", "The template run of the selected "
       "picture as an X/Y grid", show=False),
    *_grid_moves("gallery"),
    _a("gallery.select", "space", "toggle_select", "Select", "Select / unselect the turn (then t: tags)"),
    _a("gallery.select_all", "ctrl+a", "select_all", "Select all", show=False),
    _a("gallery.tags", "t", "edit_tags", "Tags", "Add or remove tags on the selected turns"),
    _a("gallery.library", "l", "library", "Library", "Search every project (the library)"),
    # -- the library (tui/screens/library.py): the gallery across every project ---------------------
    _a("library.close", "escape", "close", "Close"),
    _a("library.search", "slash", "focus_search", "Search", key_display="/"),
    _a("library.starred", "s", "toggle_starred", "★ only"),
    _a("library.open", "enter,g", "open", "Open", "Open the turn in its project"),
    _a("library.view", "v", "view", "View"),
    _a("library.scope", "p", "scope", "All / this project", "Search every project or only the open one"),
    _a("library.select", "space", "toggle_select", "Select"),
    _a("library.select_all", "ctrl+a", "select_all", "Select all", show=False),
    _a("library.tags", "t", "edit_tags", "Tags", "Add or remove tags on the selected turns"),
    *_grid_moves("library"),
    # -- named references (tui/screens/named_refs.py; Enter on a name writes it into the prompt) ----
    _a("named_refs.remove", "delete,x", "remove", "Remove"),
    _a("named_refs.close", "escape,q", "close", "Close"),
    # -- variations grid -------------------------------------------------------------------------
    _a("variations.pick", "enter", "pick", "Pick", aliases=("variations-pick",)),
    _a("variations.close", "escape", "close", "Cancel / back", aliases=("variations-close",)),
    *_grid_moves("variations", vi=True),
    # -- template runs: the modal before sending, the picker, the X/Y grid -------------------------
    _a("template_run.send", "f5,ctrl+j", "send", "Send (parallel)"),
    _a("template_run.batch", "f8", "batch", "Batch (half price)"),
    _a("template_run.close", "escape", "close", "Cancel"),
    _a("template_picker.close", "escape", "close", "Close", show=False),
    _a("matrix.pick", "enter", "pick", "Go to turn"),
    _a("matrix.view", "v", "view", "Full screen"),
    _a("matrix.refresh", "r", "refresh", "Refresh"),
    _a("matrix.close", "escape,q", "close", "Back"),
    *_grid_moves("matrix", vi=True),
    # -- batch jobs ------------------------------------------------------------------------------
    _a("batch.close", "escape,q", "close", "Back", aliases=("batch-close",)),
    _a("batch.new", "n", "new", "New batch from file", aliases=("batch-new",)),
    _a("batch.cancel_job", "c", "cancel_job", "Cancel job", aliases=("batch-cancel",)),
    _a("batch.refresh", "r", "refresh", "Refresh", aliases=("batch-refresh",)),
    # -- help ------------------------------------------------------------------------------------
    _a("help.close", "escape,q,question_mark,f1", "dismiss", "Close", show=False),
    # -- the full-screen viewer ------------------------------------------------------------
    _a("viewer.close", "escape,q", "close", "Close"),
    _a("viewer.zoom", "z,1", "toggle_zoom", "Fit / 1:1"),
    _a("viewer.next", "n,pagedown", "next", "Next"),
    _a("viewer.prev", "p,pageup", "prev", "Prev"),
    _a("viewer.left", "left", "left", "◀", show=False),
    _a("viewer.right", "right", "right", "▶", show=False),
    _a("viewer.pan_up", "up", "pan(0, -1)", "Pan up", show=False),
    _a("viewer.pan_down", "down", "pan(0, 1)", "Pan down", show=False),
    _a("viewer.pan_far_left", "shift+left", "pan(-4, 0)", "Pan far left", show=False),
    _a("viewer.pan_far_right", "shift+right", "pan(4, 0)", "Pan far right", show=False),
    _a("viewer.pan_far_up", "shift+up", "pan(0, -4)", "Pan far up", show=False),
    _a("viewer.pan_far_down", "shift+down", "pan(0, 4)", "Pan far down", show=False),
    _a("viewer.center", "home", "center", "Centre", show=False),
    _a("viewer.region", "r", "region", "Region edit"),
    _a("viewer.region_prompt", "e", "region_prompt", "Write the edit"),
    _a("viewer.change_map", "d", "change_map", "Change map"),
    _a("viewer.outpaint", "x", "outpaint", "Extend (outpaint)", show=False),
    _a("viewer.output", "o", "switch_output", "Protected / model output", show=False),
    # -- compare ---------------------------------------------------------------------------
    _a("compare.close", "escape,q", "close", "Close"),
    _a("compare.swap", "x", "swap", "Swap sides"),
    _a("compare.toggle_same", "e", "toggle_same", "Show/hide equal rows"),
    _a("compare.change_map", "d", "change_map", "Change map"),
    # -- the branch tree -------------------------------------------------------------------
    _a("tree.up", "up", "cursor_up", "Up", show=False),
    _a("tree.down", "down", "cursor_down", "Down", show=False),
    _a("tree.parent", "left", "parent", "Parent"),
    _a("tree.child", "right", "child", "Child"),
    _a("tree.prev_sibling", "left_square_bracket", "prev_sibling", "Prev sibling", key_display="["),
    _a("tree.next_sibling", "right_square_bracket", "next_sibling", "Next sibling", key_display="]"),
    _a("tree.first", "home", "first", "First", show=False),
    _a("tree.last", "end", "last", "Last", show=False),
    _a("tree.page_up", "pageup", "page_up", "Page up", show=False),
    _a("tree.page_down", "pagedown", "page_down", "Page down", show=False),
    _a("tree.select", "enter", "select", "Select"),
    # -- the project picker ----------------------------------------------------------------
    _a("picker.close", "escape", "cancel", "Close", show=False),
    _a("picker.new", "ctrl+n", "new", "New project"),
    _a("picker.rename", "ctrl+r", "rename", "Rename"),
    # -- the hand-off screen ---------------------------------------------------------------
    _a("handoff.copy_link", "c", "copy_link", "Copy link", show=False),
    _a("handoff.copy_tunnel", "s", "copy_tunnel", "Copy ssh line", show=False),
    _a("handoff.copy_scp", "y", "copy_scp", "Copy scp command", show=False),
    _a("handoff.copy_rsync", "b", "copy_rsync", "Copy rsync command", show=False),
    _a("handoff.close", "escape,q,H", "close", "Close", show=False),
)

GESTURES: tuple[tuple[str, str, str], ...] = (
    ("prompt", "↑ / ↓", "recall earlier prompts (on the first / last line)"),
    ("prompt", "paste / drop", "a file path or file:// URI adds it as a reference"),
    ("prompt", "@", "complete a named reference (↑/↓ choose, Tab/Enter insert, Esc close); @@name is the text"),
)
"""Keys the help lists that are not bindings: (group, keys, what they do)."""

_BY_ID = {a.id: a for a in ACTIONS}
_ALIASES = {alias: a.id for a in ACTIONS for alias in a.aliases}


def bindings(owner: str) -> list[Binding]:
    """The ``BINDINGS`` of ``owner`` (``"main"``, ``"gallery"``…), in declaration order."""
    return [a.binding() for a in ACTIONS if a.owner == owner and a.keys]


def action(action_id: str) -> Action | None:
    """The action of ``action_id`` (a current id or an alias)."""
    return _BY_ID.get(_ALIASES.get(action_id, action_id))


def palette() -> list[Action]:
    """The actions the command palette offers: the main screen's, then the app's."""
    return [a for a in ACTIONS if a.palette and a.owner == "main"] + [
        a for a in ACTIONS if a.palette and a.owner == "app"]


def known_ids() -> set[str]:
    """Every id a ``[keymap]`` entry may name (aliases included)."""
    return set(_BY_ID) | set(_ALIASES)


def resolve_keymap(keymap: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """``keymap`` with aliases replaced by the current ids, and the ids nobody knows (sorted)."""
    known = known_ids()
    resolved: dict[str, str] = {}
    unknown: list[str] = []
    for key_id, keys in keymap.items():
        if key_id not in known:
            unknown.append(key_id)
        resolved[_ALIASES.get(key_id, key_id)] = keys
    return resolved, sorted(unknown)

