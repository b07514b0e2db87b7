"""Which API a config's requests go to: the in-process demo server, Vertex AI or the Gemini API.

Made without opening a project, so a command can check the target's setup (Vertex AI: project,
location, credentials) before it creates anything on disk.
"""

from __future__ import annotations

from typing import Any

from banana_studio.config import Config, resolve_api_key, uses_vertex
from banana_studio.engine import ApiTarget

DEMO_KEY = "demo-key-local-fake-server"
"""The key demo mode sends to its own local server (never a real key)."""


def api_target_for(config: Config, *, demo: bool = False) -> ApiTarget:
    """The target for ``config`` (``demo``: the local demo server)."""
    key, source = resolve_api_key(config)
    common: dict[str, Any] = {"retry_attempts": config.retry_attempts, "timeout_seconds": config.timeout_seconds}
    if demo:
        return ApiTarget(api_key=DEMO_KEY, base_url=None, demo=True, **common)
    vertex = uses_vertex()
    # The two targets' base URLs stay apart: [vertex] base_url never reaches the Gemini API, and the
    # Gemini API's base_url never reaches Vertex AI.
    base = (config.vertex_base_url if vertex else config.base_url) or None
    return ApiTarget(api_key=key, base_url=base, vertex=vertex, key_source=source,
                     vertex_project=config.vertex_project, vertex_location=config.vertex_location, **common)
