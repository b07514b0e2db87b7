"""Shared fixtures for the studio TUI tests: isolated dirs, a demo Studio against the local fake
server with zero latency, and Pilot helpers.  Never touches the network beyond 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from banana_studio.tui import images as tui_images

# Deterministic, tty-free image rendering for every TUI test.
tui_images.select_image_protocol("halfcell")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's config/data, or sees a real key."""
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BANANA_STUDIO_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("BANANA_STUDIO_EXPORT_DIR", str(tmp_path / "exports"))
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
                 "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL",
                 "BANANA_STUDIO_IMAGE_PROTOCOL", "SSH_CONNECTION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def zero_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    import banana_studio.services.studio as studio_mod

    monkeypatch.setattr(studio_mod, "DEMO_LATENCY", 0.0)


def open_demo_studio(project: str = "test", config: Any = None) -> Any:
    from banana_studio.config import load_config
    from banana_studio.services import Studio

    return Studio.open(config or load_config(), project=project, demo=True)


@pytest.fixture
async def demo_studio(zero_latency: None) -> AsyncIterator[Any]:
    studio = open_demo_studio()
    try:
        yield studio
    finally:
        await studio.aclose()


@pytest.fixture
def sync_demo_studio(zero_latency: None) -> Iterator[Any]:
    """For snapshot tests (their app runs in its own event loop)."""
    studio = open_demo_studio()
    try:
        yield studio
    finally:
        fake = getattr(studio, "_fake", None)
        if fake is not None:
            fake.stop()
        studio.store.close()


def png_bytes(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def make_png(tmp_path: Path) -> Callable[..., Path]:
    counter = {"n": 0}

    def make(name: str | None = None, size: tuple[int, int] = (64, 48)) -> Path:
        counter["n"] += 1
        path = tmp_path / "refs" / (name or f"ref{counter['n']:02d}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        shade = (counter["n"] * 37) % 256
        path.write_bytes(png_bytes(size, (shade, 120, 255 - shade)))
        return path

    return make


async def wait_until(pilot: Any, predicate: Callable[[], bool], timeout: float = 60.0,
                     what: str = "condition") -> None:
    """Pump the app until ``predicate()`` holds (fails the test after ``timeout`` seconds: a deadline
    for a heavily loaded 2-core box, not a measurement -- the condition decides)."""
    # Poll with a plain sleep: the condition decides when to go on, not Pilot's wait for every widget to
    # drain its queue (tests/pilot_sync.py makes that wait safe, but it is not what the test waits for).
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        if predicate():
            return
    raise AssertionError(f"timed out waiting for {what}")


async def wait_generation(pilot: Any, main: Any, timeout: float = 120.0) -> None:
    """Wait for the running generation to end and its follow-up loads to settle."""
    await wait_until(pilot, lambda: not main.generating, timeout, "the generation to finish")
    await settle(pilot)


async def settle(pilot: Any, timeout: float = 60.0) -> None:
    """Wait until no worker is pending/running (cancelled ones — e.g. superseded exclusive loads — are fine)."""
    from textual.worker import WorkerState

    def idle() -> bool:
        return not any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in pilot.app.workers)

    await pilot.pause(0.05)
    for _ in range(3):  # idle three times in a row: follow-up loads start from messages
        await wait_until(pilot, idle, timeout, "workers to settle")
    await pilot.pause(0.05)


async def send_prompt(pilot: Any, main: Any, text: str) -> None:
    from banana_studio.tui.widgets.prompt import PromptArea

    prompt = main.query_one(PromptArea)
    prompt.focus()
    prompt.load_text(text)
    await pilot.press("ctrl+j")
    await asyncio.sleep(0)
    await wait_generation(pilot, main)


@pytest.fixture
def h() -> Any:
    """The helpers above, as a fixture (test modules here are not a package)."""
    from types import SimpleNamespace

    return SimpleNamespace(send_prompt=send_prompt, wait_generation=wait_generation, wait_until=wait_until,
                           settle=settle,
                           open_demo_studio=open_demo_studio, png_bytes=png_bytes)
