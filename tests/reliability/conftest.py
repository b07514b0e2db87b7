"""Fixtures of the reliability suite: an isolated environment and an in-process fake Gemini."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rel_common import isolated_env

from banana_studio.fakeserver import FakeGemini


@pytest.fixture
def iso_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every banana-studio directory under tmp_path; no real key or base URL from the outer environment."""
    for name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI",
                 "BANANA_STUDIO_TEST_WRITE_DELAY", "BANANA_STUDIO_TEST_WRITE_MATCH", "BANANA_STUDIO_TEST_WRITE_READY"):
        monkeypatch.delenv(name, raising=False)
    env = isolated_env(tmp_path)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, latency=0.0, small=True) as srv:
        yield srv
