"""Pilot tests of the 'beyond the peers' features in the studio: variations grid, budget confirmation,
batch jobs screen (submit, resume after restart, import), storyboard export, compare and `open IMAGE`."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Static

from banana_studio.tui.app import make_app
from banana_studio.tui.screens.batch import BatchScreen, BatchWatcher
from banana_studio.tui.screens.confirm import ConfirmScreen, TextPromptScreen
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.screens.variations import VariationCell, VariationsScreen
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.sidebar import SettingsSidebar

SIZE = (140, 45)


def main_of(app: Any) -> MainScreen:
    for screen in app.screen_stack:
        if isinstance(screen, MainScreen):
            return screen
    raise AssertionError("no MainScreen")


@pytest.fixture
def quick_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo server finishes batch jobs in 0.3 s; the batch screen polls every 0.1 s."""
    from banana_studio.fakeserver import FakeGemini

    class QuickFake(FakeGemini):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**{**kw, "batch_seconds": 0.3})

    monkeypatch.setattr("banana_studio.fakeserver.FakeGemini", QuickFake)
    monkeypatch.setattr(BatchWatcher, "DEMO_POLL", 0.1)


async def type_prompt(pilot: Any, main: MainScreen, text: str) -> None:
    prompt = main.query_one(PromptArea)
    prompt.focus()
    prompt.load_text(text)
    await pilot.pause()


async def test_variations_grid_makes_siblings_and_picks_one(demo_studio: Any, h: Any) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a paper boat")
        parent = main.selected_id
        await type_prompt(pilot, main, "make it red")
        await pilot.press("f5")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="how-many prompt")
        assert app.screen.query_one(Input).value == "4"
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, VariationsScreen), what="variations grid")
        grid = app.screen
        assert isinstance(grid, VariationsScreen)
        await h.wait_until(pilot, lambda: all(c.finished for c in grid.cells), timeout=30, what="4 variations")
        assert all(c.ok for c in grid.cells)
        ids = [c.turn_id for c in grid.cells]
        assert len(set(ids)) == 4
        # Numbered in grid order, with ascending turn ids (not 1 · #8, 2 · #7, …).
        assert ids == sorted(ids), ids  # type: ignore[type-var]
        assert [str(c.border_title) for c in grid.cells] == [f"{i + 1} · #{t}" for i, t in enumerate(ids)]
        assert "✓" in str(grid.cells[0].query_one(".variation-status", Static).render())
        await pilot.press("right", "down")  # 2×2 grid: the fourth cell
        focused = grid.focused
        assert isinstance(focused, VariationCell) and grid.cells.index(focused) == 3
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back to main")
        await h.settle(pilot)
        assert main.selected_id == ids[3]
        nodes = await asyncio.to_thread(demo_studio.store.tree_index)
        kids = [n for n in nodes if n.parent_id == parent]
        assert sorted(n.id for n in kids) == sorted(ids) and {n.kind for n in kids} == {"variation"}
        assert main.query_one(PromptArea).text == ""
        spent = sum(t.cost for t in grid.result.turns if t is not None)
        # Demo variations: the session total counts real money only; the simulated costs go apart.
        assert spent > 0 and app.session.cost == 0 and app.session.demo_cost >= spent


async def test_variations_escape_cancels_the_running_ones(demo_studio: Any, h: Any) -> None:
    fake = await asyncio.to_thread(demo_studio._start_fake)
    del fake
    demo_studio._fake.latency = 0.3
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await type_prompt(pilot, main, "slow variations")
        main.start_variations(2)
        await h.wait_until(pilot, lambda: isinstance(app.screen, VariationsScreen), what="variations grid")
        grid = app.screen
        await h.wait_until(pilot, lambda: all(c.turn_id for c in grid.cells), what="both started")
        await pilot.press("escape")
        await h.wait_until(pilot, lambda: not grid.running, what="cancelled")
        await pilot.press("escape")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back to main")
        ids = [c.turn_id for c in grid.cells]
        await h.wait_until(pilot, lambda: all(demo_studio.store.get_turn(i).status == "cancelled" for i in ids),
                           what="turns marked cancelled")


async def test_budget_confirmation_before_sending(h: Any, zero_latency: None, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Real money only: the Gemini API target (pointed at the local server) asks; demo play never does."""
    from banana_studio.config import load_config
    from banana_studio.fakeserver import FakeGemini
    from banana_studio.services import Studio

    fake = FakeGemini(port=0, latency=0.0, small=True).start()
    (tmp_path / "config.toml").write_text(f'base_url = "{fake.base_url}"\n[budget]\ndaily = 0.05\n',
                                          encoding="utf-8")
    monkeypatch.setenv("GOOGLE_API_KEY", "k-budget-pilot")
    demo = h.open_demo_studio(project="play")
    try:
        app = make_app(demo)
        async with app.run_test(size=SIZE) as pilot:
            main = main_of(app)
            await h.send_prompt(pilot, main, "a free castle")  # no budget question for simulated money
            assert [n.status for n in await asyncio.to_thread(demo.store.tree_index)] == ["done"]
    finally:
        await demo.aclose()
    studio = Studio.open(load_config(), project="test")
    try:
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            main = main_of(app)
            await type_prompt(pilot, main, "an expensive castle")
            await pilot.press("ctrl+j")
            await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="budget modal")
            text = str(app.screen.query_one(".modal-message", Static).render())
            assert "over your daily budget of $0.05" in text
            await pilot.press("n")
            await h.settle(pilot)
            assert isinstance(app.screen, MainScreen)
            assert main.query_one(PromptArea).text == "an expensive castle"  # nothing lost
            assert await asyncio.to_thread(studio.store.tree_index) == []
            await pilot.press("ctrl+j")
            await h.wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="budget modal again")
            await pilot.press("y")
            await h.wait_until(pilot, lambda: main.generating or bool(studio.store.tree_index()), what="sent")
            await h.wait_generation(pilot, main)
            (node,) = await asyncio.to_thread(studio.store.tree_index)
            assert node.status == "done" and node.target == "gemini-api"
    finally:
        await studio.aclose()
        fake.stop()


async def test_batch_screen_submits_and_imports(demo_studio: Any, h: Any, quick_batches: None,
                                                tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a blue bicycle\na green kite\n", encoding="utf-8")
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await pilot.press("f8")
        await h.wait_until(pilot, lambda: isinstance(app.screen, BatchScreen), what="batch screen")
        screen = app.screen
        await pilot.press("n")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="file prompt")
        app.screen.query_one(Input).value = str(prompts)
        await pilot.press("enter")
        table = screen.query_one(DataTable)
        await h.wait_until(pilot, lambda: table.row_count == 1 and str(table.get_row_at(0)[1]) == "imported",
                           timeout=30, what="job imported")
        assert table.get_row_at(0)[6] == "2 ok / 0 failed" and table.get_row_at(0)[2] == "100%"
        await pilot.press("escape")
        await h.wait_until(pilot, lambda: isinstance(app.screen, MainScreen), what="back")
        await h.settle(pilot)
        tree = main.query_one(BranchTree)
        assert "2 turns" in str(tree.border_title)
        kinds = {n.kind for n in await asyncio.to_thread(demo_studio.store.tree_index)}
        assert kinds == {"batch"}


async def test_batch_screen_resumes_a_job_submitted_before(demo_studio: Any, h: Any, quick_batches: None,
                                                           tmp_path: Path) -> None:
    """A job submitted earlier (e.g. `batch --no-wait`, then the studio restarted) is picked up on open."""
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services.batch import BatchLane, BatchPrompt, load_records

    lane = BatchLane(demo_studio)
    record = await lane.submit([BatchPrompt("queued earlier", GenerationSettings(), key="k1")])
    assert [r.name for r in load_records(demo_studio.store.path)] == [record.name]
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await h.wait_until(pilot, lambda: isinstance(app.screen, BatchScreen), what="batch screen")
        screen = app.screen
        await h.wait_until(pilot, lambda: record.name in screen.records and screen.records[record.name].imported,
                           timeout=30, what="resumed job imported")
        (node,) = await asyncio.to_thread(demo_studio.store.tree_index)
        assert node.prompt == "queued earlier" and node.status == "done"


async def test_storyboard_export_action(demo_studio: Any, h: Any, tmp_path: Path) -> None:
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a lighthouse")
        await h.send_prompt(pilot, main, "at night")
        main.query_one(BranchTree).focus()
        await pilot.press("E")
        await h.wait_until(pilot, lambda: isinstance(app.screen, TextPromptScreen), what="folder prompt")
        field = app.screen.query_one(Input)
        assert field.value.endswith(f"-turn-{main.selected_id:04d}-storyboard")
        field.value = str(tmp_path / "sb")
        await pilot.press("enter")
        await h.wait_until(pilot, lambda: (tmp_path / "sb" / "storyboard.html").is_file(), what="storyboard")
        doc = json.loads((tmp_path / "sb" / "branch.json").read_text())
        assert [t["prompt"] for t in doc["turns"]] == ["a lighthouse", "at night"]
        assert "at night" in (tmp_path / "sb" / "storyboard.md").read_text()


async def test_compare_two_turns_shows_the_differences(demo_studio: Any, h: Any) -> None:
    from banana_studio.tui.screens.compare import CompareScreen

    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        await h.send_prompt(pilot, main, "a red fox in the snow")
        first = main.selected_id
        main.parent_override = -1  # new thread
        sidebar = main.query_one(SettingsSidebar)
        sidebar.load(sidebar.settings.copy(aspect_ratio="16:9"))
        await pilot.pause()
        await h.send_prompt(pilot, main, "a blue fox in the snow")
        second = main.selected_id
        assert first != second
        main.query_one(BranchTree).select_turn(first)
        await h.settle(pilot)
        main.query_one(BranchTree).focus()
        await pilot.press("m")
        main.query_one(BranchTree).select_turn(second)
        await h.settle(pilot)
        await pilot.press("m")
        await h.wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare screen")
        await h.settle(pilot)
        screen = app.screen
        rows = {label: (str(a), str(b), differs) for label, a, b, differs in screen.rows}
        assert "red" in rows["Prompt"][0] and "blue" in rows["Prompt"][1] and rows["Prompt"][2]
        assert rows["Aspect ratio"] == ("1:1", "16:9", True)
        assert rows["Cost"][0].startswith("$") and rows["Model"][2] is False
        from banana_studio.tui.images import ImagePreview

        previews = list(screen.query(ImagePreview))
        await h.wait_until(pilot, lambda: all(p.source is not None for p in previews), what="both images shown")


def test_recipe_and_open_image_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`gen` → `recipe IMAGE` prints the embedded recipe → `open IMAGE` starts the studio at that turn
    with its settings restored in the sidebar."""
    import banana_studio.services.studio as studio_mod
    from banana_studio.cli import studio as studio_cli
    from banana_studio.cli.main import main as cli

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    assert cli(["gen", "a teal robot", "--demo", "-q", "-p", "rr", "--aspect", "9:16", "--size", "2K",
                "--seed", "42"]) == 0
    first = Path(capsys.readouterr().out.strip())
    assert cli(["gen", "give it a hat", "--demo", "-q", "-p", "rr", "--parent", "1", "--aspect", "9:16"]) == 0
    image = Path(capsys.readouterr().out.strip())
    copy = tmp_path / "shared.jpg"  # the file travels (renamed, moved) and is opened again
    copy.write_bytes(image.read_bytes())

    assert cli(["recipe", str(copy), "--json"]) == 0
    recipe = json.loads(capsys.readouterr().out)
    assert recipe["prompt"] == "give it a hat" and recipe["turn_id"] == 2 and recipe["parent_id"] == 1
    assert recipe["settings"]["aspect_ratio"] == "9:16" and recipe["project"] == "rr"
    assert "key" not in json.dumps(recipe).lower().replace("image_sha256", "")
    del first

    seen: dict[str, Any] = {}

    async def drive(app: Any) -> None:
        async with app.run_test(size=SIZE) as pilot:
            main = main_of(app)
            deadline = time.monotonic() + 15
            while main.selected_id != 2 and time.monotonic() < deadline:
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            seen["selected"] = main.selected_id
            seen["path"] = list(main.query_one(BranchTree).path_to(main.selected_id))
            seen["settings"] = main.query_one(SettingsSidebar).settings
        await app.studio.aclose()

    class FakeApp:
        def __init__(self, real: Any) -> None:
            self.real = real
            self.return_code = 0

        def run(self) -> None:
            asyncio.run(drive(self.real))

    import banana_studio.tui.app as app_mod

    real_make_app = app_mod.make_app
    monkeypatch.setattr(app_mod, "make_app", lambda *a, **kw: FakeApp(real_make_app(*a, **kw)))
    monkeypatch.setattr(studio_cli, "is_terminal", lambda: True)
    assert cli(["--image-protocol", "halfcell", "open", str(copy), "--demo"]) == 0
    assert seen["selected"] == 2 and seen["path"] == [1, 2]
    assert seen["settings"].aspect_ratio == "9:16" and seen["settings"].image_size == "1K"


async def test_unfinished_jobs_are_resumed_in_the_background_at_start(demo_studio: Any, h: Any,
                                                                     quick_batches: None) -> None:
    """Restarting the studio resumes polling by itself: results land in the tree without opening F8."""
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services.batch import BatchLane, BatchPrompt

    record = await BatchLane(demo_studio).submit([BatchPrompt("made while away", GenerationSettings(), key="a"),
                                                  BatchPrompt("also while away", GenerationSettings(), key="b")])
    notes: list[str] = []
    app = make_app(demo_studio)
    async with app.run_test(size=SIZE) as pilot:
        main = main_of(app)
        real_notify = app.notify

        def spy(message: str, **kw: Any) -> None:
            notes.append(str(message))
            real_notify(message, **kw)

        app.notify = spy  # type: ignore[method-assign]
        main.notify = spy  # type: ignore[method-assign]
        tree = main.query_one(BranchTree)
        await h.wait_until(pilot, lambda: "2 turns" in str(tree.border_title), timeout=30, what="imported turns")
        assert isinstance(app.screen, MainScreen)
        assert any(record.name in n and "imported 2 of 2" in n for n in notes), notes
