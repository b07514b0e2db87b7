"""Region edits in the studio: from a marked picture to a request the main screen sends.

The viewer (``r``) marks rectangles on a turn's picture and asks for the edit; this module turns that
into a :class:`GenerateRequest` (the turn's settings plus ``region``) and hands it to the screen that
sends generations (``start_region_edit``, the main screen's hook).  The change map (``d``) and the
protected / model-output switch (``o``) of the viewer and the compare screen use it too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banana_studio.domain.region import Box, RegionSpec, covered_fraction, region_of
from banana_studio.domain.turn import Turn

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage
    from textual.app import App
    from textual.screen import Screen

    from banana_studio.config import Config
    from banana_studio.services import GenerateRequest
    from banana_studio.store import ProjectStore

HEAT_MAX = 1600
"""Long side of the heat map the terminal shows (the shares are counted at full resolution)."""
CANVAS_MAX = 480
"""Long side of the picture the region canvas draws from (the terminal shows far fewer pixels)."""
HELP = ("Region mode · drag with the mouse, or arrows move / shift+arrows resize · enter adds · "
        "backspace removes · e: write the edit · esc leaves")


def store_of(app: App[Any]) -> ProjectStore | None:
    studio = getattr(app, "studio", None)
    return getattr(studio, "store", None)


async def turn_of(app: App[Any], path: Path | None) -> Turn | None:
    """The turn whose image file ``path`` is (None: not an image of the open project)."""
    store = store_of(app)
    if store is None or path is None:
        return None
    from banana_studio.services.region import turn_for_path

    def find() -> Turn | None:
        tid = turn_for_path(store, path)
        return store.get_turn(tid) if tid is not None else None

    try:
        return await asyncio.to_thread(find)
    except Exception:
        return None


def is_final(turn: Turn, path: Path, store: ProjectStore) -> bool:
    return any(store.abs_path(i.path) == Path(path) for i in turn.final_images)


async def canvas_image(path: Path) -> PILImage.Image:
    """The picture for the region canvas, decoded and shrunk off the event loop."""
    def load() -> PILImage.Image:
        from PIL import Image, ImageOps

        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((CANVAS_MAX, CANVAS_MAX))
            return img

    return await asyncio.to_thread(load)


def boxes_to_start(turn: Turn) -> tuple[Box, ...]:
    """A turn that was itself a region edit offers its rectangles again."""
    spec = region_of(turn.settings)
    return () if spec.outpaint else spec.boxes


def describe(boxes: list[Box]) -> str:
    if not boxes:
        return "no rectangle yet"
    return f"{len(boxes)} rectangle{'s' if len(boxes) != 1 else ''}, {covered_fraction(boxes) * 100:.1f}% of the image"


def drag_box(picture: tuple[int, int, int, int], start: tuple[int, int], end: tuple[int, int]) -> Box | None:
    """The rectangle covering every cell from ``start`` to ``end`` (screen cells, either order) on a
    picture drawn over ``picture`` = ``(x, y, width, height)`` cells, as fractions of the picture; None
    when it is too thin to use."""
    from banana_studio.domain.region import RegionError, checked_box

    px, py, pw, ph = picture
    if pw <= 0 or ph <= 0:
        return None
    (x0, x1), (y0, y1) = sorted((start[0], end[0])), sorted((start[1], end[1]))
    left, top = max(0, x0 - px) / pw, max(0, y0 - py) / ph
    right, bottom = min(pw, x1 - px + 1) / pw, min(ph, y1 - py + 1) / ph
    try:
        return checked_box(Box(left, top, right - left, bottom - top))
    except RegionError:
        return None


def region_request(turn: Turn, boxes: list[Box], prompt: str, config: Config) -> GenerateRequest:
    from banana_studio.services import GenerateRequest

    spec = RegionSpec(tuple(boxes), protect=bool(getattr(config, "region_protect", True)),
                      feather=int(getattr(config, "region_feather", 12)))
    return GenerateRequest(prompt=prompt, parent_id=turn.id, references=[],
                           settings=turn.settings.copy(region=spec.to_json()), kind="region")


def outpaint_request(turn: Turn, text: str, config: Config) -> GenerateRequest:
    """``"16:9:left a quiet beach"`` → the outpaint request (raises RegionError with the reason)."""
    from banana_studio.domain.region import outpaint_layout, parse_outpaint
    from banana_studio.services import GenerateRequest

    spec_text, _, prompt = text.strip().partition(" ")
    target, side = parse_outpaint(spec_text)
    shown = turn.final_images[0] if turn.final_images else None
    if shown is not None and shown.width and shown.height:  # "16:9:top" on a square: said in the dialog
        outpaint_layout(shown.width, shown.height, target, side)
    spec = RegionSpec(protect=bool(getattr(config, "region_protect", True)),
                      feather=int(getattr(config, "region_feather", 12)), outpaint=spec_text)
    return GenerateRequest(prompt=prompt.strip() or "extend the scene", parent_id=turn.id, references=[],
                           settings=turn.settings.copy(region=spec.to_json()), kind="outpaint")


def deliver(app: App[Any], request: GenerateRequest, title: str) -> bool:
    """Hand ``request`` to the screen that sends generations; False (with a notice) if none can."""
    for screen in reversed(app.screen_stack):
        start = getattr(screen, "start_region_edit", None)
        if callable(start):
            return start(request, title) is not False
    app.notify("Region edits are sent from the main screen: open the picture there (v, then r).",
               severity="warning")
    return False


def open_region_viewer(screen: Screen[Any], turn: Turn | None, boxes: tuple[Box, ...] = ()) -> None:
    """The main screen's ``r`` (or a rectangle dragged on its preview: ``boxes``): the shown turn's
    picture, full screen, in region mode."""
    if turn is None or not turn.final_images:
        screen.notify("Select a turn with a picture first.", severity="warning")
        return
    from banana_studio.tui.screens.viewer import ViewerScreen

    store = screen.app.studio.store
    img = turn.final_images[0]
    title = f"#{turn.id} · region edit · {Path(img.path).name}"
    screen.app.push_screen(ViewerScreen([store.abs_path(img.path)], 0, titles=[title], region_mode=True,
                                       region_boxes=boxes))


async def change_map_png(app: App[Any], after: int, before: int | None = None) -> tuple[bytes, str]:
    """The heat map (PNG) and its caption, or raises ValueError/ProjectError with the reason."""
    from banana_studio.services.region import change_map

    cmap = await change_map(store_of(app), after, before, max_side=HEAT_MAX)
    return cmap.png, cmap.caption()


async def switch_output(app: App[Any], turn: Turn) -> tuple[Turn | None, str]:
    """Toggle a protected region edit between the composite and the untouched model output."""
    from banana_studio.services.region import image_variants as variants
    from banana_studio.services.region import show_variant

    protected, model, shown = variants(turn)
    if protected is None or model is None:
        return None, f"#{turn.id} has one picture only (not a protected region edit)."
    new = await show_variant(store_of(app), turn.id, protected=not shown)
    what = "the model's untouched output" if shown else "the protected picture (outside = the source)"
    return new, f"#{turn.id} now shows {what}."
