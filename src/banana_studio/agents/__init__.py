"""Agents in the same tree: ``banana-studio mcp``, a Model Context Protocol server over stdio.

* :mod:`.desk` — what an agent can do (generate, edit, fork, list, recipe, image), through the
  :class:`~banana_studio.services.Studio` service exactly like the studio and ``gen``: the same
  validation, budgets, cost reporting and crash-safe turns.  No MCP import (tested on its own).
* :mod:`.views` — turns and listings as JSON for an agent, every string sanitised and redacted.
* :mod:`.images` — an image at the size the client asks for (Pillow, run off the event loop).
* :mod:`.server` — the MCP tools and resources over the desk (the official ``mcp`` SDK).

Turns an agent makes are recorded with ``source = "mcp"`` and the client's announced name.
"""
