"""Storyboard export: a real branch made against the local server → contact sheet + Markdown + HTML."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.cli.main import main
from banana_studio.config import load_config
from banana_studio.domain.events import TurnSaved
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import GenerateRequest, Studio
from banana_studio.services.storyboard import default_folder, export_storyboard
from banana_studio.store.storyboard import TILE, html_page, markdown_page, sources_of


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(small=True) as s:
        yield s


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", "k-storyboard")
    (tmp_path / "config.toml").write_text(f'base_url = "{srv.base_url}"\n', encoding="utf-8")
    return tmp_path


async def _gen(studio: Studio, prompt: str, parent: int | None, **settings: object) -> int:
    turn = None
    async for ev in studio.generate(GenerateRequest(prompt=prompt, parent_id=parent,
                                                    settings=GenerationSettings(**settings))):
        if isinstance(ev, TurnSaved):
            turn = ev.turn
    assert turn is not None
    return int(turn.id)


def make_branch(project: str = "story") -> tuple[Studio, list[int]]:
    async def go() -> tuple[Studio, list[int]]:
        studio = Studio.open(load_config(), project=project)
        a = await _gen(studio, "a lighthouse on a cliff <b>bold</b>", None, aspect_ratio="16:9", google_search=True)
        b = await _gen(studio, "make it night with stars", a, aspect_ratio="16:9")
        c = await _gen(studio, "add a ship [fault:image_safety]", b, aspect_ratio="16:9")
        await studio.target.aclose()
        return studio, [a, b, c]

    return asyncio.run(go())


def test_storyboard_of_a_real_branch(env: Path) -> None:
    studio, (a, b, c) = make_branch()
    try:
        assert studio.store.get_turn(c).status == "failed"
        out = export_storyboard(studio.store, c, env / "board")
    finally:
        studio.store.close()
    assert out.folder == env / "board" and out.branch_json.name == "branch.json"
    doc = json.loads(out.branch_json.read_text())
    assert [t["id"] for t in doc["turns"]] == [a, b, c]

    with Image.open(out.sheet) as sheet:
        # 2 images + 1 failed-turn tile → 3 columns, one row
        assert sheet.width >= 3 * TILE and sheet.height < 2 * TILE + 200
        # the failed tile is a placeholder (dark), the image tiles are not
        assert sheet.getpixel((12 + 2 * (TILE + 12) + TILE // 2, 56 + TILE // 2))[0] < 60

    md = out.markdown.read_text()
    page = out.html.read_text()
    thoughts = "".join(p.get("text", "") for p in doc["turns"][0]["model_content"]["parts"] if p.get("thought"))
    assert thoughts.strip() and thoughts.strip().splitlines()[0] in md
    sources = doc["turns"][0]["grounding"]["sources"]
    assert sources and all(s["uri"] in md and s["uri"] in page for s in sources)
    assert "IMAGE_SAFETY" in md and "IMAGE_SAFETY" in page
    for im in doc["turns"][1]["images"]:
        assert im["file"] in md and (out.folder / im["file"]).is_file()
    assert "drafts/" in md  # the thought (draft) images are part of the story
    # everything in the HTML page is escaped
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold</b>" not in md and "&lt;b>bold&lt;/b>" in md
    assert "storyboard.png" in md and "storyboard.png" in page


def test_only_http_sources_are_linked() -> None:
    turn = {"id": 1, "prompt": "x", "status": "done", "settings": {}, "images": [],
            "grounding": {"sources": [{"title": "ok", "uri": "https://example.org/a"},
                                      {"title": "evil", "uri": "javascript:alert(1)"}]}}
    doc = {"project": "p", "turn_id": 1, "turns": [turn]}
    assert sources_of(turn) == [("ok", "https://example.org/a")]
    assert "javascript:" not in html_page(doc) and "javascript:" not in markdown_page(doc)


def test_cli_export_storyboard(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    studio, (_a, b, _c) = make_branch("cli")
    studio.store.close()
    assert main(["export", str(b), "-o", str(env / "out"), "--storyboard", "-p", "cli"]) == 0
    out = capsys.readouterr().out
    for name in ("branch.json", "storyboard.png", "storyboard.md", "storyboard.html"):
        assert name in out and (env / "out" / name).is_file()


def test_default_folder(env: Path) -> None:
    studio, (_a, b, _c) = make_branch("names")
    try:
        assert default_folder(studio.store, b, env).name == f"names-turn-{b:04d}-storyboard"
    finally:
        studio.store.close()
