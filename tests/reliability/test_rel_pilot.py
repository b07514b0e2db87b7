"""The fault matrix through the real UI: type a prompt (with a ``[fault:NAME]`` tag where a tag can
express the case) in demo mode, press send, and check what the user sees, the turn's final status in
the tree/store, and that the project on disk is intact.  Also: the studio after a crash."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from rel_common import MATRIX, Case, check_project, tag_for
from textual.widgets import Static

from banana_studio.config import load_config
from banana_studio.services import Studio
from banana_studio.tui import images as tui_images
from banana_studio.tui.app import make_app
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.thinking_log import ThinkingLog
from banana_studio.tui.widgets.turn_detail import TurnDetail

tui_images.select_image_protocol("halfcell")  # deterministic, tty-free image drawing
SIZE = (140, 45)


@pytest.fixture
async def demo(iso_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Studio]:
    import banana_studio.services.studio as studio_mod

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)
    studio = Studio.open(load_config(), project="pilot", demo=True)
    try:
        yield studio
    finally:
        await studio.aclose()


async def wait_until(pilot: Any, pred: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await asyncio.sleep(0.02)  # not pilot.pause(): see tests/tui/conftest.py wait_until
        if pred():
            return
    raise AssertionError(f"timed out waiting for {what}")


def text_of(widget: Static) -> str:
    return str(widget.render())


async def send(pilot: Any, main: MainScreen, text: str) -> None:
    prompt = main.query_one(PromptArea)
    prompt.focus()
    prompt.load_text(text)
    await pilot.pause(0.05)  # let the footer finish recomposing after the focus change
    before = main.gen_id
    await pilot.press("ctrl+j")  # Pilot's post-key sync skips widgets removed meanwhile (tests/pilot_sync.py)
    await asyncio.sleep(0)
    await wait_until(pilot, lambda: main.gen_id > before and main.live_turn_id is not None,
                     what="the turn to start")
    await wait_until(pilot, lambda: not main.generating, what="the generation to end")
    await pilot.pause(0.1)


GROUPS: dict[str, list[Case]] = {
    "http-errors": [c for c in MATRIX if c.fault in ("bad_key", "permission", "not_found", "quota", "server",
                                                     "overloaded", "high_demand") and c.retries == 0 and not c.ok],
    "retries": [c for c in MATRIX if c.retries > 0],
    "stream": [c for c in MATRIX if c.fault in ("slow", "hang", "stream_error", "truncated", "malformed_json",
                                                "bad_base64")],
    "answers": [c for c in MATRIX if c.fault in ("image_safety", "image_prohibited", "no_image", "blocked_prompt",
                                                 "parts_null", "candidates_null", "text_only", "text_base64",
                                                 "empty_signature", "region_leak")],
    "hostile": [c for c in MATRIX if c.fault in ("key_echo", "hostile_text", "bad_unicode", "lying_image")],
}


def test_groups_cover_the_matrix() -> None:
    ids = [c.id for g in GROUPS.values() for c in g]
    assert sorted(ids) == sorted(c.id for c in MATRIX)


async def check_case(pilot: Any, app: Any, main: MainScreen, demo: Studio, case: Case, n_turns: int) -> None:
    """Send one prompt under ``case`` as a new thread and check what the user sees."""
    if demo.target.timeout_seconds != (case.timeout or 10.0):
        await demo.target.aclose()  # the timeout is baked into the HTTP client: make a new one
        demo.target.timeout_seconds = case.timeout or 10.0
    demo.target.retry_attempts = case.attempts
    demo.target.initial_backoff = 0.02
    demo.target.max_backoff = 0.2
    prompt = f"a harbour at night, take {n_turns}"
    if case.retry_friendly:
        prompt = f"{prompt} {tag_for(case)}"
    else:  # "fails, then succeeds": only a queued fault can stop after N requests
        await demo.ready_target()
        assert demo._fake is not None
        demo._fake.inject(case.fault, count=case.count, **case.params)
    app._notifications.clear()
    main.action_new_thread()
    await send(pilot, main, prompt)
    turn = demo.store.get_turn(main.live_turn_id)
    where = f"[{case.id}]"
    assert turn.id == n_turns and turn.parent_id is None, where
    assert turn.status == case.status, (where, turn.status, turn.error)
    log = main.query_one(ThinkingLog)
    status_line = text_of(log.query_one("#log-status", Static))
    error_box = log.query_one("#log-error", Static)
    tree = main.query_one(BranchTree)
    await wait_until(pilot, lambda: tree.node(turn.id) is not None and tree.node(turn.id).status == case.status,
                     what=f"{where} the tree to show the final status")
    notes = [(n.severity, str(n.message)) for n in app._notifications]
    if case.ok:
        assert "Done" in status_line and not error_box.display, where
        assert main.last_error == "", where
        assert not [n for n in notes if n[0] == "error"], (where, notes)
        if case.phrase:  # non-fatal oddities (base64 text, empty signature) are shown as warnings
            assert any(sev == "warning" and case.phrase in msg for sev, msg in notes), (where, notes)
    else:
        assert "Failed" in status_line, (where, status_line)
        assert error_box.display and case.phrase.lower() in text_of(error_box).lower(), (where, text_of(error_box))
        assert case.phrase.lower() in main.last_error.lower(), where
        assert any(sev == "error" and case.phrase.lower() in msg.lower() for sev, msg in notes), (where, notes)
        detail = main.query_one(TurnDetail)
        await wait_until(pilot, lambda: detail.turn_id == turn.id, what=f"{where} the failed turn's detail")
        assert case.phrase.lower() in text_of(detail.query_one("#detail-error", Static)).lower(), where
    check_project(demo.store.path, turns=n_turns)


@pytest.mark.parametrize("group", list(GROUPS))
async def test_faults_through_the_ui(group: str, demo: Studio) -> None:
    """Every case of the group in one studio session, each as a new thread (one app start per group)."""
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        for n, case in enumerate(GROUPS[group], 1):
            await check_case(pilot, app, main, demo, case, n)
        # after all of that, a plain prompt still works in the same session
        demo.target.retry_attempts = 1
        if demo._fake is not None:
            demo._fake.clear_faults()
        app._notifications.clear()
        main.action_new_thread()
        await send(pilot, main, "a calm morning")
        assert demo.store.get_turn(main.live_turn_id).status == "done"
        assert main.last_error == ""
    check_project(demo.store.path, turns=len(GROUPS[group]) + 1)


async def test_studio_opens_after_a_crash_and_retries_the_interrupted_turn(demo: Studio, tmp_path: Path) -> None:
    """A turn left 'running' by a dead process shows as interrupted; Retry regenerates it."""
    import os
    import subprocess
    import sys

    store_path = demo.store.path
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from banana_studio.store import ProjectStore\n"
        "from banana_studio.domain.content import user_content\n"
        "from banana_studio.domain.settings import GenerationSettings\n"
        "s = ProjectStore.open_path(Path(sys.argv[1]))\n"
        "t = s.create_turn(None, 'a stormy sea', GenerationSettings(), [], user_content('a stormy sea'))\n"
        "s.set_status(t.id, 'running')\n"
        "print(t.id, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(store_path)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    assert proc.stdout is not None
    tid = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    await demo.aclose()
    studio = Studio.open(load_config(), project="pilot", demo=True)
    try:
        assert studio.store.recovered == [tid]
        app = make_app(studio)
        async with app.run_test(size=SIZE) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            tree = main.query_one(BranchTree)
            await wait_until(pilot, lambda: tree.node(tid) is not None, what="the tree")
            assert tree.node(tid).status == "interrupted"
            # the notice comes after the tree (the project's costs and batch jobs load in between)
            await wait_until(pilot, lambda: any("nterrupted" in str(n.message) or "nterrupted" in str(n.title)
                                                for n in app._notifications), what="the interrupted notice")
            tree.select_turn(tid)
            await wait_until(pilot, lambda: main.selected_id == tid, what="selection")
            await main.action_retry()
            await wait_until(pilot, lambda: main.live_turn_id not in (None, tid), what="the retry to start")
            await wait_until(pilot, lambda: not main.generating, what="the retry to end")
            new = studio.store.get_turn(main.live_turn_id)
            assert new.status == "done" and new.prompt == "a stormy sea" and new.final_images
        check_project(studio.store.path, turns=2)
    finally:
        await studio.aclose()


async def test_quit_during_generation_loses_nothing(demo: Studio) -> None:
    """Ctrl-Q while an answer streams: the app exits promptly, and the reopened project is consistent
    with the turn cancelled (or interrupted), its drafts kept, and retry working."""
    project_dir = demo.store.path
    app = make_app(demo)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        assert isinstance(main, MainScreen)
        await demo.ready_target()
        assert demo._fake is not None
        demo._fake.inject("slow", seconds=30)  # queued, so the retry below is not slowed down
        prompt = main.query_one(PromptArea)
        prompt.focus()
        prompt.load_text("a slow sunrise")
        await pilot.press("ctrl+j")
        await wait_until(pilot, lambda: main.live_turn_id is not None, what="the turn to start")
        t0 = time.monotonic()
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: not app.is_running, timeout=10, what="the app to exit")
        assert time.monotonic() - t0 < 5
    studio = Studio.open(load_config(), project="pilot", demo=True)
    try:
        turn = studio.store.get_turn(1)
        assert turn.status in ("cancelled", "interrupted"), turn.status
        check_project(project_dir, turns=1)
        events = [ev async for ev in studio.generate(studio.retry(1))]
        assert events[-1].turn.status == "done"
    finally:
        await studio.aclose()
