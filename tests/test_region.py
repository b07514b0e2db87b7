"""Region edits: parsing, the pixel guarantee, and the whole path through the local server."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from banana_studio.config import Config
from banana_studio.domain.events import StudioEvent, TurnSaved
from banana_studio.domain.region import (
    Box,
    RegionError,
    RegionSpec,
    covered_fraction,
    outpaint_layout,
    parse_boxes,
    parse_outpaint,
)
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.turn import Turn
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.services import region as region_service
from banana_studio.services import region_pixels as px
from banana_studio.store import variants
from banana_studio.store.recipe import read_recipe

KEY = "test-key-for-the-fake-server"
BOX = Box(0.25, 0.25, 0.375, 0.25)


# -- domain -------------------------------------------------------------------------------------------


def test_parse_boxes_fractions_pixels_and_errors() -> None:
    assert parse_boxes("0.1,0.2,0.5,0.4") == [Box(0.1, 0.2, 0.5, 0.4)]
    assert parse_boxes("0.1,0.2,0.5,0.4; 0,0,0.1,0.1")[1] == Box(0, 0, 0.1, 0.1)
    assert parse_boxes("100,50,200,100", size=(400, 200)) == [Box(0.25, 0.25, 0.5, 0.5)]
    assert parse_boxes("0.8,0.8,0.5,0.5") == [Box(0.8, 0.8, 0.2, 0.2)]  # clamped to the image
    for bad in ("", "0.1,0.2,0.3", "a,b,c,d", "0.1,0.1,0,0.2", "1.5,1.5,0.1,0.1", "100,50,200,100"):
        with pytest.raises(RegionError):
            parse_boxes(bad)


def test_box_2d_and_coverage() -> None:
    assert Box(0.1, 0.2, 0.5, 0.4).box_2d() == (200, 100, 600, 600)
    assert covered_fraction([Box(0, 0, 0.5, 0.5), Box(0.25, 0.25, 0.5, 0.5)]) == pytest.approx(0.4375)


def test_outpaint_layout() -> None:
    lay = outpaint_layout(1024, 1024, "16:9", "left")
    assert (lay.width, lay.height) == (1820, 1024) and lay.offset == (796, 0)
    assert len(lay.fill) == 1 and lay.fill[0].x == 0.0
    centre = outpaint_layout(1000, 1000, "4:3")
    assert len(centre.fill) == 2 and centre.offset == (166, 0)
    assert parse_outpaint("16:9") == ("16:9", "center")
    for bad in ("16:9:up", "16", "a:b:left"):
        with pytest.raises(RegionError):
            parse_outpaint(bad)
    with pytest.raises(RegionError):
        outpaint_layout(1024, 1024, "16:9", "top")


def test_outpaint_zoom_layout() -> None:
    """A zoom grows the canvas at the picture's own ratio, every side (the issue's "another aspect ratio
    or size"; only a ratio was taken)."""
    assert parse_outpaint("1.5x") == ("1.5x", "center") and parse_outpaint("2X:top") == ("2x", "top")
    lay = outpaint_layout(1000, 800, "1.5x")
    assert (lay.width, lay.height) == (1500, 1200) and lay.offset == (250, 200) and len(lay.fill) == 4
    assert covered_fraction(lay.fill) == pytest.approx(1 - lay.original.area)
    assert covered_fraction([*lay.fill, lay.original]) == pytest.approx(1.0)
    top = outpaint_layout(1000, 800, "2x", "top")
    assert top.offset == (500, 800) and top.original.bottom == pytest.approx(1.0)
    for bad in ("1x", "0.5x", "5x", "1.5x:up", "1.5x:left:top", "nanx"):
        with pytest.raises(RegionError):
            outpaint_layout(1000, 800, *parse_outpaint(bad))


def test_region_spec_round_trip_is_lenient() -> None:
    spec = RegionSpec((BOX,), protect=False, feather=5)
    assert RegionSpec.from_json(spec.to_json()) == spec
    assert RegionSpec.from_json({"boxes": [["x"], [0.1, 0.1, 0.2, 0.2]], "feather": "?"}).boxes == (
        Box(0.1, 0.1, 0.2, 0.2),)
    assert not RegionSpec.from_json("junk").active


# -- pixels -------------------------------------------------------------------------------------------


def _noise(size: tuple[int, int], seed: int) -> Image.Image:
    return Image.frombytes("RGB", size, bytes((i * 7919 + seed * 31) % 251 for i in range(size[0] * size[1] * 3)))


def outside_mask(size: tuple[int, int], boxes: tuple[Box, ...], feather: int) -> Image.Image:
    """255 where a pixel is farther than ``feather`` from every box (computed independently of the code)."""
    mask = Image.new("L", size, 255)
    for b in boxes:
        left, top, right, bottom = b.pixels(*size)
        mask.paste(0, (max(0, left - feather), max(0, top - feather), min(size[0], right + feather),
                       min(size[1], bottom + feather)))
    return mask


def assert_outside_equal(a: Image.Image, b: Image.Image, boxes: tuple[Box, ...], feather: int) -> None:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).convert("L")
    outside = ImageChops.multiply(diff.point(lambda v: 255 if v else 0), outside_mask(a.size, boxes, feather))
    assert outside.getbbox() is None, f"pixels outside the feathered region differ at {outside.getbbox()}"


def test_protect_is_exact_outside_and_blends_the_edge() -> None:
    src, ans = _noise((200, 120), 1), _noise((200, 120), 2)
    out = px.protect(src, ans, (BOX,), 6)
    assert_outside_equal(out, src, (BOX,), 6)
    left, top, right, _bottom = BOX.pixels(200, 120)
    assert out.getpixel((left + 3, top + 3)) == ans.getpixel((left + 3, top + 3))  # inside: the answer
    edge = out.getpixel((right + 2, top + 5))
    assert edge != src.getpixel((right + 2, top + 5)) or edge == ans.getpixel((right + 2, top + 5))


def test_protect_at_the_answers_resolution() -> None:
    src, ans = _noise((100, 60), 1), _noise((200, 120), 2)
    out = px.protect(src, ans, (BOX,), 4)
    assert out.size == (200, 120)
    assert_outside_equal(out, px.source_at(src, (200, 120)), (BOX,), 4)


def test_change_map_counts_inside_and_outside() -> None:
    before = Image.new("RGB", (100, 100), (10, 10, 10))
    after = before.copy()
    after.paste((250, 250, 250), (25, 25, 50, 50))  # exactly the box below
    img, stats = px.change_map(before, after, (Box(0.25, 0.25, 0.25, 0.25),))
    assert img.size == (100, 100)
    assert stats.inside == pytest.approx(1.0) and stats.outside == pytest.approx(0.0)
    assert stats.changed == pytest.approx(0.0625)


# -- end to end through the local server ---------------------------------------------------------------


@pytest.fixture
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True, image_format="png") as server:
        yield server


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Config:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return Config(project_dir=str(tmp_path / "projects"), base_url=srv.base_url, retry_attempts=1,
                  timeout_seconds=20, region_feather=8)


@pytest.fixture
async def studio(config: Config) -> AsyncIterator[Studio]:
    s = Studio.open(config, project="test")
    yield s
    await s.aclose()


async def saved(studio: Studio, req: GenerateRequest) -> Turn:
    events: list[StudioEvent] = [ev async for ev in studio.generate(req)]
    turn = next(ev.turn for ev in events if isinstance(ev, TurnSaved))
    assert turn.status == "done", turn.error
    return turn


def pic(studio: Studio, turn: Turn, kind: str = "final") -> Image.Image:
    img = next(i for i in turn.images if i.kind == kind)
    return Image.open(studio.store.abs_path(img.path)).convert("RGB")


def region_settings(protect: bool = True, feather: int = 8, boxes: tuple[Box, ...] = (BOX,)) -> GenerationSettings:
    return GenerationSettings(region=RegionSpec(boxes, protect=protect, feather=feather).to_json())


async def test_region_request_carries_instruction_source_and_guide(studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    edit = await saved(studio, GenerateRequest("a red boat", parent_id=root.id, settings=region_settings(),
                                               kind="region"))
    body = srv.requests[-1].body
    last = body["contents"][-1]["parts"]
    text = last[0]["text"]
    assert "a red boat" in text and "box_2d" in text and "[250, 250, 500, 625]" in text
    images = [p.get("inlineData") or p.get("inline_data") for p in last if "inlineData" in p or "inline_data" in p]
    assert len(images) == 2  # the source and the guide
    import base64

    sent_source = base64.urlsafe_b64decode(images[0]["data"] + "=" * (-len(images[0]["data"]) % 4))
    assert sent_source == studio.store.blob_bytes(root.final_images[0].sha256)  # as made: no re-encode, no recipe
    assert (images[1].get("mimeType") or images[1].get("mime_type")) == "image/jpeg"
    assert edit.prompt == "a red boat"  # the turn records the user's words; the request the instruction
    assert edit.settings.region["boxes"] == [BOX.to_json()]


async def test_protect_on_every_pixel_outside_equals_the_source_even_when_the_model_leaks(
        studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    source = pic(studio, root)
    srv.region_leak = True
    edit = await saved(studio, GenerateRequest("a red boat", parent_id=root.id, settings=region_settings()))
    shown, model = pic(studio, edit), pic(studio, edit, "model")
    assert shown.size == model.size
    assert_outside_equal(shown, px.source_at(source, shown.size), (BOX,), 8)
    # the model's own output leaked (so the guarantee did the work), and is kept
    _, leaked = px.change_map(source, model, (BOX,))
    assert leaked.outside is not None and leaked.outside > 0.5
    protected, raw, is_shown = variants.variants(edit)
    assert protected is not None and raw is not None and is_shown
    # the answer replayed later is the model's own (signatures byte-exact), not the composite
    assert edit.model_content is not None and edit.model_content.final_images()[0].blob == raw.sha256


async def test_protect_off_lets_the_leak_through(studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    srv.inject("region_leak")
    edit = await saved(studio, GenerateRequest("a red boat", parent_id=root.id,
                                               settings=region_settings(protect=False)))
    assert not any(i.kind in ("model", "protected") for i in edit.images)
    cmap = await region_service.change_map(studio.store, edit.id)
    assert cmap.stats.outside is not None and cmap.stats.outside > 0.5
    assert cmap.before == root.id


async def test_well_behaved_model_paints_inside_only(studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    edit = await saved(studio, GenerateRequest("a red boat", parent_id=root.id,
                                               settings=region_settings(protect=False)))
    cmap = await region_service.change_map(studio.store, edit.id)
    assert cmap.stats.outside == pytest.approx(0.0, abs=0.01)
    assert cmap.stats.inside is not None and cmap.stats.inside > 0.2


async def test_switch_between_protected_and_model_output(studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    srv.region_leak = True
    edit = await saved(studio, GenerateRequest("a red boat", parent_id=root.id, settings=region_settings()))
    shown_path = edit.final_images[0].path
    raw = await region_service.show_variant(studio.store, edit.id, protected=False)
    assert raw.final_images[0].path != shown_path and variants.variants(raw)[2] is False
    back = await region_service.show_variant(studio.store, edit.id, protected=True)
    assert back.final_images[0].path == shown_path
    assert len(back.images) == len(edit.images)
    recipe = read_recipe(studio.store.abs_path(shown_path).read_bytes())  # the region is in the image's recipe
    assert recipe is not None and recipe["settings"]["region"]["boxes"] == [BOX.to_json()]
    assert recipe["kind"] == "protected"


async def test_reroll_replays_the_region(studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    edit = await saved(studio, GenerateRequest("a red boat", parent_id=root.id, settings=region_settings()))
    again = await saved(studio, studio.reroll(edit.id))
    assert again.settings.region == edit.settings.region
    assert "box_2d" in srv.requests[-1].body["contents"][-1]["parts"][0]["text"]
    assert any(i.kind == "model" for i in again.images)


async def test_outpaint_keeps_the_original_area(studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    source = pic(studio, root)
    srv.region_leak = True
    spec = RegionSpec(protect=True, feather=8, outpaint="16:9:left")
    edit = await saved(studio, GenerateRequest("", parent_id=root.id, kind="outpaint",
                                               settings=GenerationSettings(region=spec.to_json())))
    assert edit.settings.aspect_ratio == "16:9" and edit.settings.region["boxes"]
    shown = pic(studio, edit)
    lay = outpaint_layout(source.width, source.height, "16:9", "left")
    canvas = px.source_at(px.pad_canvas(source, lay), shown.size)
    left, top, right, bottom = lay.original.pixels(*shown.size)
    box = (left, top, right, bottom)
    assert ImageChops.difference(shown.crop(box), canvas.crop(box)).getbbox() is None  # the original: exact
    model = pic(studio, edit, "model")
    assert ImageChops.difference(model.crop(box), canvas.crop(box)).getbbox() is not None  # (the model leaked)


async def test_outpaint_zoom_keeps_the_original_area_at_its_ratio(studio: Studio, srv: FakeGemini) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn", settings=GenerationSettings(aspect_ratio="4:3")))
    source = pic(studio, root)
    srv.region_leak = True
    spec = RegionSpec(protect=True, feather=8, outpaint="1.5x")
    edit = await saved(studio, GenerateRequest("", parent_id=root.id, kind="outpaint",
                                               settings=GenerationSettings(aspect_ratio="4:3", region=spec.to_json())))
    assert edit.status == "done" and edit.settings.aspect_ratio == "4:3" and len(edit.settings.region["boxes"]) == 4
    shown = pic(studio, edit)
    lay = outpaint_layout(source.width, source.height, "1.5x")
    canvas = px.source_at(px.pad_canvas(source, lay), shown.size)
    box = lay.original.pixels(*shown.size)
    assert ImageChops.difference(shown.crop(box), canvas.crop(box)).getbbox() is None  # the original: exact


async def test_region_edit_without_a_picture_is_refused_before_anything_is_recorded(studio: Studio) -> None:
    events = [ev async for ev in studio.generate(GenerateRequest("x", settings=region_settings()))]
    assert [type(e).__name__ for e in events] == ["Failed"]
    assert studio.store.tree_index() == []


def test_guide_image_marks_the_box() -> None:
    src = Image.new("RGB", (160, 160), (200, 200, 200))
    guide = px.guide_image(src, (BOX,))
    left, top, _, _ = BOX.pixels(160, 160)
    assert guide.getpixel((left, top + 10)) == px.OUTLINE
    assert guide.getpixel((5, 5)) == (100, 100, 100)  # the outside is dimmed
    assert px.png_bytes(guide)[:4] == b"\x89PNG"
    assert io.BytesIO(px.png_bytes(guide)).getbuffer().nbytes > 0


async def test_root_region_edit_on_a_reference_asks_for_its_aspect_ratio(studio: Studio, srv: FakeGemini,
                                                                        tmp_path: Path) -> None:
    ref = tmp_path / "wide.png"
    _noise((320, 180), 3).save(ref)
    edit = await saved(studio, GenerateRequest("a kite", references=[ref], settings=region_settings()))
    assert edit.settings.aspect_ratio == "16:9"
    shown = pic(studio, edit)
    assert_outside_equal(shown, px.source_at(_noise((320, 180), 3), shown.size), (BOX,), 8)
    parts = srv.requests[-1].body["contents"][-1]["parts"]
    assert len([p for p in parts if "inlineData" in p or "inline_data" in p]) == 2  # the ref is the source


def test_an_unrecorded_composite_is_swept(tmp_path: Path) -> None:
    from banana_studio.store import ProjectStore

    store = ProjectStore.open(tmp_path, "p")
    (store.path / "images").mkdir(exist_ok=True)
    stray = store.path / "images" / "0001-x-protected.png"
    stray.write_bytes(b"x")
    assert variants.sweep_unrecorded(store) == ["images/0001-x-protected.png"] and not stray.exists()
    store.close()


async def test_change_map_of_a_plain_edit(studio: Studio) -> None:
    root = await saved(studio, GenerateRequest("a harbour at dawn"))
    edit = await saved(studio, GenerateRequest("now at night", parent_id=root.id))
    cmap = await region_service.change_map(studio.store, edit.id)
    assert cmap.stats.inside is None and cmap.stats.changed > 0.05
    assert "overall" not in cmap.caption() and "changed" in cmap.caption()
    with pytest.raises(RegionError):
        await region_service.change_map(studio.store, root.id)  # a root has no parent to compare with


def test_instruction_template_is_configurable_and_brace_safe() -> None:
    spec = RegionSpec((BOX,))
    text = region_service.instruction("a {weird} prompt", spec, template="Only in {boxes}: {prompt} ({count})")
    assert text == "Only in [250, 250, 500, 625]: a {weird} prompt (1)"
    default = region_service.instruction("a boat", spec)
    assert "box_2d" in default and "a boat" in default and "magenta" in default
    out = region_service.instruction("", RegionSpec(outpaint="16:9:left", boxes=(Box(0, 0, 0.4, 1),)))
    assert "Extend the first image" in out and "[0, 0, 1000, 400]" in out


def test_region_config_section(tmp_path: Path) -> None:
    from banana_studio.config import load_config

    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text('[region]\ntemplate = "no placeholder"\nfeather = 5\nprotect = false\n'
                        'outpaint_template = "Fill: {prompt}"\n[generation]\nregion = {boxes = []}\n')
    cfg = load_config(cfg_path)
    assert cfg.region_feather == 5 and cfg.region_protect is False
    assert cfg.region_template == "" and cfg.outpaint_template == "Fill: {prompt}"
    assert any("region.template" in p for p in cfg.problems)
    assert any("generation.region" in p for p in cfg.problems) and not cfg.defaults.region


def test_the_estimate_counts_the_source_and_the_guide() -> None:
    from banana_studio.domain.catalogue import get_model
    from banana_studio.engine.cost import estimate_cost

    plain = GenerationSettings()
    region = GenerationSettings(region=RegionSpec((Box(0.1, 0.1, 0.3, 0.3),)).to_json())
    per_image = get_model(plain.model).prices.input_image
    assert per_image > 0
    assert estimate_cost(region, 1) == pytest.approx(estimate_cost(plain, 1) + 2 * per_image, abs=1e-6)
