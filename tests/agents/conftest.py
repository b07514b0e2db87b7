"""Fixtures for the agent (MCP) tests: private config/data dirs, no key from the environment, and
deterministic image drawing for the Pilot tests.  Nothing here reaches beyond 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from banana_studio.tui import images as tui_images

tui_images.select_image_protocol("halfcell")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BANANA_STUDIO_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("BANANA_STUDIO_DEMO_LATENCY", "0")
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE",
                 "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_VERTEX_BASE_URL",
                 "BANANA_STUDIO_IMAGE_PROTOCOL", "SSH_CONNECTION"):
        monkeypatch.delenv(name, raising=False)


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    """Let the app run until ``predicate()`` holds; the deadline only bounds a hang on a loaded box."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(0.02)
        if predicate():
            return
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def until() -> Any:
    return wait_until
