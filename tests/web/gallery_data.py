"""A projects folder made by the real studio against the local Gemini server, for the gallery tests:
a branch of three turns (one failed; the second asked for by an agent with a hostile client name) with
hostile text in the prompt, label and model answer, and a copy of the project under a hostile folder name."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from banana_studio.config import load_config
from banana_studio.domain.events import TurnSaved
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.web import Gallery

HOSTILE_PROMPT = "a lighthouse <script>alert('prompt')</script><img src=x onerror=alert(1)> & \"quotes\""
HOSTILE_LABEL = "</a><script>alert('label')</script>"
HOSTILE_FOLDER = "evil\"'><img src=x onerror=alert('folder')><script>"


@dataclass
class Projects:
    root: Path
    name: str
    turns: list[int]
    final_rel: str
    """Project-relative path of the first turn's final image."""


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its sha256 (the SQLite -wal/-shm side files aside: a read-only
    reader of a WAL database may create them, they hold no project data)."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith(("-wal", "-shm")):
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


HOSTILE_CLIENT = "<script>alert('client')</script> agent 1.0"


async def _gen(studio: Studio, prompt: str, parent: int | None, **who: str) -> int:
    turn = None
    async for ev in studio.generate(GenerateRequest(prompt=prompt, parent_id=parent,
                                                    settings=GenerationSettings(aspect_ratio="16:9"), **who)):
        if isinstance(ev, TurnSaved):
            turn = ev.turn
    assert turn is not None
    return int(turn.id)


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Projects]:
    base = tmp_path_factory.mktemp("gallery")
    mp = pytest.MonkeyPatch()
    mp.setenv("BANANA_STUDIO_DATA_DIR", str(base / "data"))
    mp.setenv("BANANA_STUDIO_CONFIG", str(base / "config.toml"))
    mp.setenv("GOOGLE_API_KEY", "k-gallery")
    try:
        with FakeGemini(small=True) as srv:
            (base / "config.toml").write_text(f'base_url = "{srv.base_url}"\n', encoding="utf-8")

            async def go() -> tuple[Path, list[int], str]:
                studio = Studio.open(load_config(), project="shots")
                a = await _gen(studio, HOSTILE_PROMPT + " [fault:hostile_text]", None)
                b = await _gen(studio, "make it night with stars", a, source="mcp", source_client=HOSTILE_CLIENT)
                c = await _gen(studio, "add a ship [fault:image_safety]", b)
                studio.store.set_label(a, HOSTILE_LABEL)
                rel = studio.store.get_turn(a).final_images[0].path
                await studio.target.aclose()
                studio.store.close()
                return studio.store.path.parent, [a, b, c], rel

            root, turns, rel = asyncio.run(go())
        shutil.copytree(root / "shots", root / HOSTILE_FOLDER)
        yield Projects(root, "shots", turns, rel)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def gallery(projects: Projects) -> Iterator[Gallery]:
    with Gallery(projects.root) as g:
        yield g
