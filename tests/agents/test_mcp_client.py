"""``banana-studio mcp --demo`` driven by the MCP SDK's own client (stdio subprocess, ClientSession),
against the local Gemini server: the tools, the resources, sources, costs, failures and sanitising."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import Implementation
from PIL import Image

from banana_studio.domain.safetext import UNSAFE
from banana_studio.fakeserver import FakeGemini
from banana_studio.services.api_target import DEMO_KEY
from banana_studio.store import ProjectStore

pytestmark = pytest.mark.slow
KEY = "AIzaSy" + "Q" * 33
TIMEOUT = 120  # a bound against a hang, never a pace: nothing here waits for time to pass


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GEMINI_"))}
    env.update(BANANA_STUDIO_CONFIG=str(tmp_path / "config.toml"), BANANA_STUDIO_DATA_DIR=str(tmp_path / "data"),
               BANANA_STUDIO_CACHE_DIR=str(tmp_path / "cache"), BANANA_STUDIO_LOG_DIR=str(tmp_path / "logs"),
               BANANA_STUDIO_DEMO_LATENCY="0", BANANA_STUDIO_DEMO_SMALL="1", **extra)
    return env


def _server(tmp_path: Path, *args: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable,
                                 args=["-m", "banana_studio", "mcp", "--demo", "--project-dir", str(tmp_path / "p"),
                                       "--project", "agentwork", *args],
                                 env=_env(tmp_path, **env))


@contextlib.asynccontextmanager
async def connect(params: StdioServerParameters) -> AsyncIterator[ClientSession]:
    """The SDK's stdio client and session (entered and left in the test's own task: anyio's scopes
    must not cross tasks, as a pytest fixture would make them)."""
    with anyio.fail_after(TIMEOUT), open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(
                read, write, client_info=Implementation(name="pytest-agent", version="9.9")) as session:
            await session.initialize()
            yield session


def _data(result: Any) -> dict[str, Any]:
    text = result.content[0].text
    assert not UNSAFE.search(text), text  # no raw control / bidi character ever reaches the client
    obj = json.loads(text)
    assert result.structured_content == obj
    return obj


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def test_tools_generate_edit_fork_list_recipe_image(tmp_path: Path) -> None:
    async with connect(_server(tmp_path)) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"generate", "edit", "fork", "reroll", "list_turns", "get_recipe", "get_image",
                "list_projects"} <= tools

        said: list[str] = []

        async def progress(done: float, total: float | None, message: str | None) -> None:
            said.append(message or "")

        gen = await session.call_tool("generate", {"prompt": "a banana on the moon",
                                                   "settings": {"aspect_ratio": "16:9", "image_size": "1K"}},
                                      progress_callback=progress)
        assert not gen.is_error, _text(gen)
        first = _data(gen)
        assert first["ok"] and first["status"] == "done" and first["parent_id"] is None
        assert first["source"] == "mcp" and first["source_client"] == "pytest-agent 9.9"
        assert first["demo"] is True and first["cost"] > 0 and first["estimated_cost"] > 0
        assert first["costs"]["demo_project"] >= first["cost"] and first["costs"]["project"] == 0  # demo: no money
        assert first["settings"]["aspect_ratio"] == "16:9"
        assert said[0].startswith(f"Turn #{first['id']} started") and "final image 1 received" in said
        assert any(m.startswith("thinking: ") for m in said), said
        image_path = Path(first["images"][0]["path"])
        assert image_path.is_file()

        edited = await session.call_tool("edit", {"turn_id": first["id"], "prompt": "make the sky pink",
                                                  "preview_size": 64})
        edit = _data(edited)
        preview = [c for c in edited.content if c.type == "image"]
        assert len(preview) == 1 and max(Image.open(io.BytesIO(base64.b64decode(preview[0].data))).size) == 64
        assert edit["parent_id"] == first["id"] and edit["kind"] == "edit" and edit["ok"]
        assert edit["settings"]["aspect_ratio"] == "16:9"  # the parent's settings carry on
        fork = _data(await session.call_tool("fork", {"turn_id": edit["id"], "prompt": "make the sky green"}))
        assert fork["parent_id"] == first["id"] and fork["id"] not in (first["id"], edit["id"])

        listing = _data(await session.call_tool("list_turns", {}))
        assert listing["turn_count"] == 3 and [t["id"] for t in listing["turns"]] == [fork["id"], edit["id"],
                                                                                     first["id"]]
        assert {t["source"] for t in listing["turns"]} == {"mcp"}
        found = _data(await session.call_tool("list_turns", {"search": "pink"}))
        assert [t["id"] for t in found["turns"]] == [edit["id"]]

        recipe = _data(await session.call_tool("get_recipe", {"turn_id": first["id"]}))
        assert recipe["prompt"] == "a banana on the moon" and sorted(recipe["children"]) == sorted(
            [edit["id"], fork["id"]])

        img = await session.call_tool("get_image", {"turn_id": first["id"], "max_size": 200, "format": "png"})
        assert not img.is_error, _text(img)
        pictures = [c for c in img.content if c.type == "image"]
        assert len(pictures) == 1 and pictures[0].mime_type == "image/png"
        with Image.open(io.BytesIO(base64.b64decode(pictures[0].data))) as shown:
            assert max(shown.size) == 200 and shown.size[0] > shown.size[1]  # 16:9, long side as asked
        info = _data(img)
        assert info["width"] == 200 and info["original_width"] > 200

        projects = _data(await session.call_tool("list_projects", {}))
        assert [p["name"] for p in projects["projects"]] == ["agentwork"]

    # What the agent made is in the project, on disk, marked with its source, for a person to review.
    with ProjectStore.open(tmp_path / "p", "agentwork", create=False) as store:
        turn = store.get_turn(edit["id"])
        assert (turn.source, turn.source_client, turn.status) == ("mcp", "pytest-agent 9.9", "done")
        assert [n.source for n in store.tree_index()] == ["mcp", "mcp", "mcp"]


async def test_resources_projects_and_turns(tmp_path: Path) -> None:
    async with connect(_server(tmp_path)) as session:
        made = _data(await session.call_tool("generate", {"prompt": "a lighthouse"}))
        templates = {t.uri_template for t in (await session.list_resource_templates()).resource_templates}
        assert {"banana://projects/{project}", "banana://projects/{project}/turns/{turn_id}"} <= templates
        assert "banana://projects" in {str(r.uri) for r in (await session.list_resources()).resources}
        projects = json.loads((await session.read_resource("banana://projects")).contents[0].text)
        assert projects[0]["name"] == "agentwork" and projects[0]["turns"] == 1
        project = json.loads((await session.read_resource("banana://projects/agentwork")).contents[0].text)
        assert project["turns"][0]["id"] == made["id"]
        turn = json.loads((await session.read_resource(made["uri"])).contents[0].text)
        assert turn["prompt"] == "a lighthouse" and turn["source"] == "mcp"
        with pytest.raises(Exception, match="does not exist"):
            await session.read_resource("banana://projects/agentwork/turns/999")
        spaced = _data(await session.call_tool("generate", {"prompt": "a quay", "project": "my café"}))
        assert spaced["uri"] == "banana://projects/my%20caf%C3%A9/turns/1"
        assert json.loads((await session.read_resource(spaced["uri"])).contents[0].text)["project"] == "my café"


async def test_refusals_and_failures_are_tool_errors(tmp_path: Path) -> None:
    async with connect(_server(tmp_path)) as session:
        bad = await session.call_tool("generate", {"prompt": "x", "settings": {"aspect_ratio": "7:3"}})
        assert bad.is_error and "aspect ratio 7:3" in _text(bad) and "Not sent" in _text(bad)
        missing = await session.call_tool("edit", {"turn_id": 42, "prompt": "more"})
        assert missing.is_error and "does not exist" in _text(missing)
        unknown = await session.call_tool("list_turns", {"project": "nope"})
        assert unknown.is_error
        assert not (tmp_path / "p" / "nope").exists()  # reading never creates a project
        hostile_name = await session.call_tool("list_turns", {"project": "../../etc"})
        assert hostile_name.is_error
        # A failed generation is recorded (the turn exists, failed) and reported as an error with its id.
        failed = await session.call_tool("generate", {"prompt": "a cat [fault:image_safety]"})
        assert failed.is_error
        out = _data(failed)
        assert out["status"] == "failed" and out["id"] >= 1 and out["error"]
        no_image = await session.call_tool("get_image", {"turn_id": out["id"]})
        assert no_image.is_error and "no final images" in _text(no_image)


async def test_hostile_model_text_and_echoed_key_never_reach_the_client(tmp_path: Path) -> None:
    async with connect(_server(tmp_path)) as session:
        hostile = await session.call_tool("generate", {"prompt": "\x1b]52;c;aGk=\x07 a fox [fault:hostile_text]"})
        for block in hostile.content:
            if block.type == "text":
                assert not UNSAFE.search(block.text)
        recipe = await session.call_tool("get_recipe", {"turn_id": _data(hostile)["id"]})
        assert "\\x1b" in _text(recipe) and "\x1b" not in _text(recipe)
        for field in ("finish_message", "thought", "model_version"):
            echoed = await session.call_tool("generate", {"prompt": f"an owl [fault:key_echo;field={field}]"})
            tid = json.loads(_text(echoed))["id"]
            seen = _text(echoed) + _text(await session.call_tool("get_recipe", {"turn_id": tid}))
            assert DEMO_KEY not in seen and "[REDACTED]" in seen, field


async def test_real_target_budget_refuses_and_key_never_appears(tmp_path: Path) -> None:
    """Not demo: the Gemini API target (pointed at the local server), a real-looking key, a budget."""
    (tmp_path / "config.toml").write_text("[budget]\nproject = 0.20\n[network]\nretry_attempts = 1\n",
                                          encoding="utf-8")
    with FakeGemini(port=0, small=True) as srv:
        params = _server(tmp_path, GOOGLE_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=srv.base_url)
        params.args.remove("--demo")
        async with connect(params) as session:
            first = _data(await session.call_tool("generate", {"prompt": "an owl [fault:key_echo;field=answer]"}))
            assert first["demo"] is False and first["cost"] > 0 and first["costs"]["project"] == first["cost"]
            seen = json.dumps(first) + _text(await session.call_tool("get_recipe", {"turn_id": first["id"]}))
            assert KEY not in seen and "[REDACTED]" in seen
            spent = first["costs"]["project"]
            results = [first]
            while spent + first["estimated_cost"] <= 0.20:  # fill the project budget, then one more
                results.append(_data(await session.call_tool("generate", {"prompt": "another owl"})))
                spent = results[-1]["costs"]["project"]
            over = await session.call_tool("generate", {"prompt": "one owl too many"})
            assert over.is_error and "Not sent" in _text(over) and "budget" in _text(over)
            listing = _data(await session.call_tool("list_turns", {}))
            assert listing["turn_count"] == len(results)  # the refused request recorded nothing
            assert KEY not in _text(over)
