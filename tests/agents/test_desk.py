"""The agent desk on its own (no MCP transport): sources recorded and shown by the CLI, images at
the asked size, refusals before anything is recorded, cancellation."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from banana_studio.agents.desk import AgentDesk, AgentError, Ask
from banana_studio.agents.images import clamp_size
from banana_studio.cli.main import main
from banana_studio.config import load_config
from banana_studio.domain.settings import GenerationSettings


@pytest.fixture
async def desk(tmp_path: Path) -> Any:
    d = AgentDesk(load_config(), project="desk", project_dir=tmp_path / "p", demo=True, demo_latency=0)
    try:
        yield d
    finally:
        await d.aclose()


async def test_source_is_recorded_and_history_json_shows_it(desk: AgentDesk, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = await desk.generate(Ask(prompt="a teapot", client="agent\x1b[31m 1.0"))
    assert out["ok"] and out["source"] == "mcp"
    await desk.aclose()
    assert main(["history", "--json", "--project-dir", str(tmp_path / "p"), "--project", "desk"]) == 0
    turns = json.loads(capsys.readouterr().out)["turns"]
    assert [t["source"] for t in turns] == ["mcp"]
    assert main(["export", str(out["id"]), "-o", str(tmp_path / "out"), "--project-dir", str(tmp_path / "p"),
                 "--project", "desk"]) == 0
    exported = json.loads((tmp_path / "out" / "branch.json").read_text(encoding="utf-8"))
    assert exported["turns"][0]["source"] == "mcp"
    assert exported["turns"][0]["source_client"] == "agent\x1b[31m 1.0"  # stored as received, escaped on display


async def test_image_sizes(desk: AgentDesk) -> None:
    out = await desk.generate(Ask(prompt="a wide field", settings={"aspect_ratio": "16:9"}))
    stored = Path(out["images"][0]["path"]).read_bytes()
    full, info = await desk.image(out["id"], max_size=0)
    assert full.data == stored and info["width"] == info["original_width"]  # 0 = the file as it is
    small, info = await desk.image(out["id"], max_size=100, fmt="webp")
    with Image.open(io.BytesIO(small.data)) as im:
        assert im.format == "WEBP" and im.size == (100, 56)
    assert clamp_size(1) == 16 and clamp_size(10**6) == 4096 and clamp_size(None) == 1024
    with pytest.raises(AgentError, match=r"index must be 0\.\.0"):
        await desk.image(out["id"], index=3)
    with pytest.raises(AgentError, match="format must be"):
        await desk.image(out["id"], fmt="bmp")


async def test_refusals_record_nothing(desk: AgentDesk) -> None:
    with pytest.raises(AgentError, match="Unknown setting"):
        await desk.generate(Ask(prompt="x", settings={"api_key": "nope"}))
    with pytest.raises(AgentError, match="empty"):
        await desk.generate(Ask(prompt="   "))
    with pytest.raises(AgentError, match="Not sent"):
        await desk.generate(Ask(prompt="x", references=["/nonexistent/ref.png"]))
    listing = await desk.list_turns()
    assert listing["turn_count"] == 0


async def test_cross_target_edit_is_refused_with_the_image_to_continue_from(desk: AgentDesk, png: bytes) -> None:
    from banana_studio.domain.content import Content, Part, user_content

    studio = await desk.studio(None, create=True)
    t = studio.store.create_turn(None, "a real kite", GenerationSettings(), [], user_content("a real kite"),
                                 "generate", "gemini-api")
    studio.store.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/png", data=png,
                                                                          thought_signature=b"\x0agoogle")]),
                               status="done", cost=0.134)
    with pytest.raises(AgentError) as refused:
        await desk.edit(t.id, Ask(prompt="now at night"))
    message = str(refused.value)
    assert message.startswith("Not sent: The branch of turn #") and "made with Gemini API" in message
    path = str(studio.store.abs_path(studio.store.get_turn(t.id).final_images[0].path))
    assert f"call generate with references=[{json.dumps(path)}]" in message
    assert studio.demo_server is None  # nothing was sent
    out = await desk.generate(Ask(prompt="now at night", references=[path]))  # the way offered works
    assert out["ok"] and out["parent_id"] is None


@pytest.fixture
def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), "red").save(buf, format="PNG")
    return buf.getvalue()


async def test_a_cancelled_agent_request_leaves_a_cancelled_turn(tmp_path: Path) -> None:
    desk = AgentDesk(load_config(), project="slow", project_dir=tmp_path / "p", demo=True, demo_latency=5)
    started = asyncio.Event()

    async def progress(text: str) -> None:
        if text.startswith("Turn #"):
            started.set()

    try:
        job = asyncio.ensure_future(desk.generate(Ask(prompt="a slow snail"), progress=progress))
        await asyncio.wait_for(started.wait(), 60)  # the turn is recorded and the request is out
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        listing = await desk.list_turns("slow")
        assert [t["status"] for t in listing["turns"]] == ["cancelled"]
    finally:
        await desk.aclose()


def test_projects_recent_still_lists_a_project_from_before_sources(tmp_path: Path) -> None:
    """A schema-4 project (not opened since the upgrade: read-only peeks do not migrate) keeps its
    place in `projects --recent`; its turns count as made by people."""
    import sqlite3

    from banana_studio.domain.content import user_content
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.store import ProjectStore, recent_turns

    with ProjectStore.open(tmp_path, "old") as store:
        store.create_turn(None, "an old turn", GenerationSettings(), [], user_content("an old turn"))
        db = store.path / "project.db"
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE turns DROP COLUMN source")
    conn.execute("ALTER TABLE turns DROP COLUMN source_client")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    rows = recent_turns(tmp_path, 5)
    assert [(info.name, node.prompt, node.source) for info, node in rows] == [("old", "an old turn", "")]
    with ProjectStore.open(tmp_path, "old") as store:  # opening migrates it
        assert store.get_turn(1).source == "" and store.tree_index()[0].source == ""
