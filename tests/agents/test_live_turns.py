"""An open studio notices turns another process adds to its project, without a restart: the tree
reloads keeping the person's selection, and a notice says who made them ("1 new turn from mcp").

The other process is the real ``banana-studio mcp --demo`` driven by the MCP SDK's client, and (in
the second test) a second Studio service on its own connection.  Synchronised on the watch's
messages and polls, never on sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp_types import Implementation

from banana_studio.config import load_config
from banana_studio.services import Studio
from banana_studio.tui.app import make_app
from banana_studio.tui.project_watch import ProjectChanged
from banana_studio.tui.screens.main import MainScreen
from banana_studio.tui.widgets.branch_tree import BranchTree
from banana_studio.tui.widgets.prompt import PromptArea
from banana_studio.tui.widgets.turn_detail import TurnDetail

SIZE = (140, 45)


def _keep(changes: list[ProjectChanged], message: Any) -> None:
    """The app's message hook (it may see one message more than once: keep each once)."""
    if isinstance(message, ProjectChanged) and all(c is not message for c in changes):
        changes.append(message)


async def _send(pilot: Any, main: MainScreen, until: Any, text: str) -> None:
    prompt = main.query_one(PromptArea)
    prompt.focus()
    prompt.load_text(text)
    await pilot.press("ctrl+j")
    await until(lambda: main.live_turn_id is not None and not main.generating, "the studio's own turn")


async def test_turns_from_the_mcp_server_appear_in_the_open_studio(tmp_path: Path, until: Any) -> None:
    studio = Studio.open(load_config(), project="shared", demo=True)
    changes: list[ProjectChanged] = []
    app = make_app(studio)
    try:
        async with app.run_test(size=SIZE, message_hook=lambda m: _keep(changes, m)) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            await until(lambda: main.started.is_set(), "the project to load")
            await _send(pilot, main, until, "a red kite over hills")
            mine = main.live_turn_id
            tree = main.query_one(BranchTree)
            await until(lambda: tree.turn_count == 1 and main.selected_id == mine, "the studio's turn selected")
            polls = main.project_watch.polls
            await until(lambda: main.project_watch.polls > polls, "a poll after the studio's own write")
            assert changes == []  # the studio's own turn is not someone else's change

            params = StdioServerParameters(
                command=sys.executable, env=dict(os.environ),
                args=["-m", "banana_studio", "mcp", "--demo", "--project-dir", str(studio.store.path.parent),
                      "--project", "shared"])
            with open(os.devnull, "w") as errlog:
                async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(
                        read, write, client_info=Implementation(name="claude-code\x1b[2J", version="2.1")) as session:
                    await session.initialize()
                    made = await session.call_tool("generate", {"prompt": "a blue kite over the sea"})
                    assert not made.is_error, made.content[0].text

            await until(lambda: any(c.new_ids for c in changes), "the watch to see the agent's turn")
            new_ids = [i for c in changes for i in c.new_ids]
            assert len(new_ids) == 1 and new_ids[0] != mine
            await until(lambda: tree.turn_count == 2, "the tree to show the agent's turn")
            assert main.selected_id == mine and tree.cursor_id == mine  # the person's selection stays
            notices = [n.message for n in app._notifications]
            assert "1 new turn from mcp" in notices, notices

            # The person can review it: select it, and the detail says an agent asked for it.
            assert tree.select_turn(new_ids[0])
            detail = main.query_one(TurnDetail)
            await until(lambda: main.shown_turn is not None and main.shown_turn.id == new_ids[0],
                        "the agent's turn to load")
            text = " ".join(str(w.render()) for w in detail.query("Static"))
            assert "an agent over MCP" in text and "claude-code\\x1b[2J 2.1" in text  # its name, made inert
            assert "\x1b" not in text
    finally:
        with contextlib.suppress(Exception):
            await studio.aclose()


AGENT_SCRIPT = """
import asyncio, sys
from pathlib import Path
from banana_studio.agents.desk import AgentDesk, Ask
from banana_studio.config import load_config

async def main():
    desk = AgentDesk(load_config(), project="twice", project_dir=Path(sys.argv[1]), demo=True)
    try:
        for prompt in ("agent one", "agent two"):
            assert (await desk.generate(Ask(prompt=prompt, client="bot 1")))["ok"]
    finally:
        await desk.aclose()

asyncio.run(main())
"""


async def _run(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.DEVNULL,
                                                stderr=asyncio.subprocess.PIPE)
    _out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode(errors="replace")


async def test_turns_from_other_processes_are_counted_by_source(until: Any) -> None:
    """Two turns by the agent service and one by `gen` in another shell, all landing between two
    polls: one notice names both sources."""
    studio = Studio.open(load_config(), project="twice", demo=True)
    changes: list[ProjectChanged] = []
    app = make_app(studio)
    root = str(studio.store.path.parent)
    try:
        async with app.run_test(size=SIZE, message_hook=lambda m: _keep(changes, m)) as pilot:
            main = app.screen
            assert isinstance(main, MainScreen)
            await until(lambda: main.started.is_set(), "the project to load")
            await until(lambda: main.project_watch.polls > 0, "the watch's baseline")
            main.project_watch.stop()  # from here the test runs each poll: all three writes land in one
            await _run(sys.executable, "-c", AGENT_SCRIPT, root)
            await _run(sys.executable, "-m", "banana_studio", "gen", "--demo", "--project-dir", root,
                       "--project", "twice", "-q", "a person in another shell")
            change = await main.project_watch.check()
            assert change is not None and len(change.new_ids) == 3
            assert change.by_source == {"mcp": 2, "another process": 1}
            assert change.notice == "2 new turns from mcp · 1 new turn from another process"
            assert await main.project_watch.check() is None  # nothing new since
            main.post_message(change)
            tree = main.query_one(BranchTree)
            await until(lambda: tree.turn_count == 3, "the tree to reload")
            await until(lambda: change.notice in [n.message for n in app._notifications], "the notice")
            await pilot.pause()
    finally:
        with contextlib.suppress(Exception):
            await studio.aclose()
