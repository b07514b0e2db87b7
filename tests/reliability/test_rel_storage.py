"""Storage failures while a turn is saved (disk full), and secrets in the studio UI (screenshots)."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import pytest
from rel_common import KEY, check_project

from banana_studio.config import Config
from banana_studio.domain.events import Failed, TurnSaved
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio


@pytest.mark.parametrize("where", ["blobs/", "images/0001-"], ids=["first-blob-while-streaming", "final-image"])
async def test_disk_full_while_saving_fails_the_turn_cleanly(where: str, fake: FakeGemini, tmp_path: Path,
                                                             iso_env: dict[str, str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import banana_studio.store.files as project_mod

    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    real = project_mod.atomic_write
    calls: list[str] = []

    def full_disk(path: Path, data: bytes, **kw: Any) -> None:
        calls.append(str(path))
        if where in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data, **kw)

    studio = Studio.open(Config(base_url=fake.base_url, retry_attempts=1), project="disk", project_dir=tmp_path / "p")
    try:
        monkeypatch.setattr(project_mod, "atomic_write", full_disk)
        events = [ev async for ev in studio.generate(GenerateRequest(prompt="a mountain lake"))]
        assert any(where in c for c in calls), calls  # the failure really was hit
        failed = [e for e in events if isinstance(e, Failed)]
        assert failed and failed[-1].error.kind == "storage"
        assert "No space left on device" in failed[-1].error.message
        assert isinstance(events[-1], TurnSaved)
        turn = studio.store.get_turn(events[-1].turn.id)
        assert turn.status == "failed" and turn.error_kind == "storage" and turn.final_images == []
        check_project(studio.store.path, turns=1)  # no half-written or unrecorded file anywhere
        # space is freed: retrying the same request works and the project is whole
        monkeypatch.setattr(project_mod, "atomic_write", real)
        again = [ev async for ev in studio.generate(studio.retry(turn.id))][-1].turn
        assert again.status == "done" and len(again.final_images) == 1
        check_project(studio.store.path, turns=2)
    finally:
        await studio.aclose()


class _EchoKey:
    """Minimal hostile server: every model call fails with the caller's key in the message."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                import json

                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("x-goog-api-key", "")
                data = json.dumps({"error": {"code": 403, "status": "PERMISSION_DENIED",
                                             "message": f"Consumer 'api_key:{key}' has been suspended."}}).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


async def test_key_never_on_screen_or_in_screenshots(tmp_path: Path, iso_env: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from banana_studio.tui import images as tui_images
    from banana_studio.tui.app import make_app
    from banana_studio.tui.screens.main import MainScreen
    from banana_studio.tui.widgets.prompt import PromptArea

    tui_images.select_image_protocol("halfcell")
    key = "studio-secret-key-0a1b2c3d4e5f"
    monkeypatch.setenv("GOOGLE_API_KEY", key)
    echo = _EchoKey()
    studio = Studio.open(Config(base_url=echo.url, retry_attempts=1), project="secret", project_dir=tmp_path / "p")
    try:
        app = make_app(studio)
        async with app.run_test(size=(140, 45)) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            prompt = main.query_one(PromptArea)
            prompt.focus()
            prompt.load_text("a secret garden")
            await pilot.press("ctrl+j")
            for _ in range(500):
                await pilot.pause(0.02)
                if main.live_turn_id is not None and not main.generating:
                    break
            await pilot.pause(0.2)
            assert "suspended" in main.last_error and key not in main.last_error
            shot = app.export_screenshot()
            assert "suspended" in shot and key not in shot
            assert all(key not in str(n.message) for n in app._notifications)
        turn = studio.store.get_turn(1)
        assert turn.status == "failed" and key not in turn.error
    finally:
        await studio.aclose()
        echo.close()
    for d in [tmp_path / "p", *(Path(v) for v in iso_env.values())]:
        for f in (d.rglob("*") if d.is_dir() else []):
            if f.is_file():
                assert key.encode() not in f.read_bytes(), f


async def test_cancel_while_the_final_image_is_written_keeps_it(fake: FakeGemini, tmp_path: Path,
                                                                iso_env: dict[str, str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer is complete (and billed) once the final image arrived: a cancel during the save waits
    for it, so the turn ends done with its image, never 'cancelled' with a half-saved image."""
    import asyncio

    from banana_studio.domain.events import FinalImage

    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    ready = tmp_path / "paused-mid-write"
    monkeypatch.setenv("BANANA_STUDIO_TEST_WRITE_DELAY", "1.0")  # store hook: pause mid-write...
    monkeypatch.setenv("BANANA_STUDIO_TEST_WRITE_MATCH", "images/0001-")
    monkeypatch.setenv("BANANA_STUDIO_TEST_WRITE_READY", str(ready))  # ...and say so
    studio = Studio.open(Config(base_url=fake.base_url, retry_attempts=1), project="cw", project_dir=tmp_path / "p")
    try:
        got_final = asyncio.Event()

        async def consume() -> None:
            async for ev in studio.generate(GenerateRequest(prompt="a cat")):
                if isinstance(ev, FinalImage):
                    got_final.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_final.wait(), 10)
        for _ in range(12_000):  # until the write hook is paused half-way (a real point, not a delay)
            if ready.exists():
                break
            await asyncio.sleep(0.01)
        assert ready.exists(), "the final image write never started"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        turn = studio.store.get_turn(1)
        assert turn.status == "done" and len(turn.final_images) == 1, (turn.status, turn.error)
        assert studio.store.abs_path(turn.final_images[0].path).is_file()
        check_project(studio.store.path, turns=1)
    finally:
        await studio.aclose()
