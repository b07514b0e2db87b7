"""The stage of the main screen: the preview, and beside it the turn panel (turn detail ⇄ thinking log).

The screen hands it every engine event of the running generation (:meth:`Stage.consume`, one
``match``) and every turn the user selects (:meth:`Stage.show_turn`); the stage owns what the preview
and the two tabs show.  It never touches the store: the screen passes the turn and its image paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import var
from textual.widgets import ContentSwitcher

from banana_studio.domain import events as ev
from banana_studio.domain.region import Box
from banana_studio.tui.images import ImagePreview
from banana_studio.tui.widgets.thinking_log import ThinkingLog
from banana_studio.tui.widgets.turn_detail import TurnDetail

if TYPE_CHECKING:
    from banana_studio.domain.turn import Turn

_NO_IMAGE = {"failed": "No image — the turn failed", "interrupted": "No image — interrupted",
             "cancelled": "No image — cancelled", "pending": "Waiting…", "running": "Generating…"}


class Stage(Horizontal):
    """Preview + turn panel.  ``selected_id`` is bound to the screen's (it names the detail tab)."""

    selected_id: var[int | None] = var(None)

    class ViewerRequested(Message):
        """A double click on the preview: show the image full screen."""

    class RegionDragged(Message):
        """A rectangle dragged with the mouse over the preview's picture: start a region edit with it."""

        def __init__(self, box: Box) -> None:
            super().__init__()
            self.box = box

    _drag_from: tuple[int, int] | None = None
    """The screen cell a mouse drag over the preview's picture started on."""

    def compose(self) -> ComposeResult:
        yield ImagePreview("", id="preview")  # "No image yet" once the project is known to have none
        with ContentSwitcher(initial="detail", id="info"):
            yield TurnDetail(id="detail")
            yield ThinkingLog(id="log")

    def on_mount(self) -> None:
        self.preview.border_title = "Preview"
        self.watch(self.switcher, "current", self._tab_changed)

    # -- parts ------------------------------------------------------------------------------------

    @property
    def preview(self) -> ImagePreview:
        return self.query_one(ImagePreview)

    @property
    def log(self) -> ThinkingLog:
        return self.query_one(ThinkingLog)

    @property
    def detail(self) -> TurnDetail:
        return self.query_one(TurnDetail)

    @property
    def switcher(self) -> ContentSwitcher:
        return self.query_one("#info", ContentSwitcher)

    @property
    def tab(self) -> str | None:
        """``"detail"`` or ``"log"``: the turn panel's shown tab."""
        return self.switcher.current

    @tab.setter
    def tab(self, name: str) -> None:
        self.switcher.current = name

    def watch_selected_id(self) -> None:
        if self.is_mounted:
            self._tab_changed()

    def _tab_changed(self, current: str | None = None) -> None:
        """The turn panel's border title is its tab bar: the shown tab is highlighted."""
        switcher = self.switcher
        current = switcher.current
        turn = f"Turn #{self.selected_id}" if self.selected_id is not None else "Turn"
        tabs = []
        for name, label in (("detail", turn), ("log", "Thinking")):
            tabs.append(f"[b reverse] {label} [/]" if current == name else f" {label} ")
        switcher.border_title = "".join(tabs)
        switcher.border_subtitle = "L switches"

    @on(events.Click, "#preview, #preview *")
    def _preview_clicked(self, event: events.Click) -> None:
        if event.chain >= 2:
            self.post_message(self.ViewerRequested())

    # -- a region dragged on the preview (issue 15): the viewer opens in region mode with it ---------

    def _picture_region(self) -> Any:
        widget = self.preview.image_widget
        return widget.region if widget is not None and widget.display and self.preview.source else None

    @on(events.MouseDown)  # no selector: the terminal's mouse events carry no widget, only the position
    def _preview_pressed(self, event: events.MouseDown) -> None:
        region = self._picture_region()
        if event.button != 1 or region is None or not region.contains(event.screen_x, event.screen_y):
            return
        self._drag_from = (int(event.screen_x), int(event.screen_y))
        self.preview.capture_mouse()

    @on(events.MouseUp)
    def _preview_released(self, event: events.MouseUp) -> None:
        start, self._drag_from = self._drag_from, None
        if start is None:
            return
        self.preview.release_mouse()
        end = (int(event.screen_x), int(event.screen_y))
        region = self._picture_region()
        if end == start or region is None:  # a click, not a drag
            return
        from banana_studio.tui.region_flow import drag_box

        box = drag_box((region.x, region.y, region.width, region.height), start, end)
        if box is not None:
            event.stop()
            self.post_message(self.RegionDragged(box))

    # -- a selected turn ----------------------------------------------------------------------------

    async def show_turn(self, turn: Turn, costs: dict[str, Any], images: list[tuple[Path, str]], *,
                        keep_tab: bool) -> None:
        """``turn`` in the detail tab (``images``: its thumbnails); ``keep_tab`` leaves the log up."""
        await self.detail.show_turn(turn, costs, images)
        if not keep_tab:
            self.tab = "detail"

    async def show_image(self, turn: Turn, path: Path | None) -> None:
        """``turn``'s last image in the preview: ``path`` is the file of its last final image, else of
        its last draft (None: the turn has no image, the preview says why)."""
        preview = self.preview
        finals = turn.final_images
        shown = finals[-1] if finals else (turn.draft_images[-1] if turn.draft_images else None)
        if shown is not None and path is not None:
            size = f" · {shown.width}×{shown.height}" if shown.width else ""
            preview.border_title = f"Preview · #{turn.id}{'' if finals else ' draft'}{size}"
            # The digest of the streamed bytes: the final image just shown from the stream is not
            # decoded and sent to the terminal again (the saved file also carries the recipe).
            await preview.show_path(path, digest=shown.sha256)
        else:
            preview.border_title = "Preview"
            preview.set_placeholder(_NO_IMAGE.get(turn.status, "No image"))

    async def nothing_sent(self, turn: Turn | None, path: Path | None) -> None:
        """A send refused before anything was recorded: the preview stops saying "generating" and shows
        the turn that was on it before (``turn``, ``path`` as for :meth:`show_image`), if any."""
        if turn is not None:
            await self.show_image(turn, path)
            return
        self.preview.border_title = "Preview"
        self.preview.set_placeholder("No image — nothing was sent")

    def show_empty(self, *, unless_shown: bool = False) -> None:
        """No turn at all (an empty project, or its last branch deleted).  ``unless_shown``: only if no
        turn is shown yet (reading the project failed part-way)."""
        if unless_shown and self.detail.turn_id is not None:
            return
        self.detail.show_empty()
        self.preview.set_placeholder("No image yet")

    def clear(self) -> None:
        self.show_empty()
        self.preview.clear()

    async def toggle_log(self, stored: Turn | None, drafts: list[Path]) -> None:
        """L: the other tab.  ``stored``: a past turn whose stored thoughts and drafts the log shows."""
        if self.tab == "log":
            self.tab = "detail"
            return
        if stored is not None and self.log.turn_id != stored.id:
            await self.log.show_stored(stored, drafts)
        self.tab = "log"

    # -- a running generation -------------------------------------------------------------------------

    async def begin(self, title: str) -> None:
        """A generation starts: the log comes up, reset, and the preview waits for the first draft."""
        self.tab = "log"
        self.preview.set_placeholder("Generating…")
        self.preview.border_title = "Preview · generating"
        await self.log.start(title)

    async def consume(self, event: ev.StudioEvent, *, follow: bool) -> str | None:
        """Show one engine event.  ``follow``: the user watches the live turn (its drafts go to the
        preview).  Returns the new activity text for the status line, or None to leave it."""
        log = self.log
        match event:
            case ev.TurnStarted(turn=turn):
                log.turn_id = turn.id
                log.set_title(f"Turn #{turn.id}" + (f" ← #{turn.parent_id}" if turn.parent_id else "")
                              + f" · {turn.prompt[:80]}")
            case ev.ThoughtText(text=text):
                await log.thought(text)
                return "◌ Thinking…"
            case ev.DraftImage(data=data, index=index):
                await log.draft(data, index)
                if follow:
                    self.preview.border_title = f"Preview · draft {index + 1}"
                    await self.preview.show_bytes(data, name=f"draft {index + 1}")
                return f"◌ Draft {index + 1}…"
            case ev.AnswerText(text=text):
                log.answer(text)
            case ev.FinalImage(data=data, index=index):
                log.final_image(index)
                if follow:
                    self.preview.border_title = "Preview · final"
                    await self.preview.show_bytes(data, name="final")
                return "◌ Saving…"
            case ev.Grounding(queries=queries, sources=sources):
                log.sources(queries, sources)
            case ev.Retrying(attempt=attempt, max_attempts=most, delay=delay, reason=reason):
                log.retrying(attempt, most, delay, reason)
                return f"⟳ retry {attempt}/{most} in {delay:.0f}s"
            case ev.TurnSaved(turn=turn):
                price = f"${turn.cost:.3f}" + (" simulated" if turn.is_demo else "")
                log.finish(turn.status, price if turn.cost else "")
                return ""
            case _:
                pass
        return None

    def error(self, message: str) -> None:
        self.log.error(message)

    def finish(self, status: str, note: str = "") -> None:
        self.log.finish(status, note)

    async def prepare_log(self) -> None:
        await self.log.prepare()
