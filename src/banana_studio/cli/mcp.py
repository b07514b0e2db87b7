"""``banana-studio mcp`` — a Model Context Protocol server over stdio for coding agents.

An MCP client (Claude Desktop, Claude Code, VS Code, ...) starts it as a subprocess and talks JSON-RPC
on its stdin/stdout; the SDK keeps stdout for the protocol (anything else printed goes to stderr).
The tools generate, edit, fork, list and read turns of the same projects the studio shows, through
the same service (see :mod:`banana_studio.agents`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def run(args: argparse.Namespace) -> int:
    from banana_studio.config import load_config

    config = load_config()
    for problem in config.problems:
        print(f"warning: {problem}", file=sys.stderr)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="banana-studio mcp: %(message)s")
    from banana_studio.agents.desk import AgentDesk
    from banana_studio.agents.server import build_server

    project_dir = Path(args.project_dir) if getattr(args, "project_dir", None) else None
    desk = AgentDesk(config, project=getattr(args, "project", None), project_dir=project_dir,
                     demo=bool(getattr(args, "demo", False)), mix_demo=bool(getattr(args, "mix_demo", False)))
    server = build_server(desk)
    if sys.stdin.isatty():
        print("banana-studio mcp speaks the Model Context Protocol on stdin/stdout: start it from an MCP client "
              "(see the README, \"Agents (MCP)\"). Ctrl-C to stop.", file=sys.stderr)
    try:
        server.run("stdio")
    except KeyboardInterrupt:
        return 130
    return 0
