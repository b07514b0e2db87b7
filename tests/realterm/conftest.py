"""Fixtures for the real-terminal tests (the harness is in ``xsession.py``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from xsession import Session, env_for


@pytest.fixture(scope="session")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with one project ("demo") holding two finished demo turns, made with ``banana-studio
    gen --demo`` (the local server; no network)."""
    root = tmp_path_factory.mktemp("realterm-data")
    cli = [sys.executable, "-m", "banana_studio.cli.main"]
    for prompt, aspect in (("a lighthouse at dusk", "16:9"), ("a red fox in snow", "1:1")):
        done = subprocess.run([*cli, "gen", "--demo", "--quiet", "--yes", "-p", "demo", "-a", aspect, prompt],
                              env=env_for(root), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def session(tmp_path: Path, demo_project: Path) -> Iterator[Session]:
    s = Session(demo_project, tmp_path)
    try:
        yield s
    finally:
        s.close()
