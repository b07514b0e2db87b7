"""Turns, listings and errors as an agent sees them: plain JSON, every string sanitised.

Everything here is text from outside (prompts, labels, model answers, grounding, file and project
names, server errors): each string goes through :func:`~banana_studio.config.redact` (the API key
never leaves) and :func:`~banana_studio.domain.safetext.display_text` (control characters, bidi
controls and lone surrogates become visible escapes), so a client that shows the result in a
terminal or a chat cannot be driven by it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from banana_studio.config import redact
from banana_studio.domain.safetext import display_text
from banana_studio.domain.turn import Turn

SCHEME = "banana"


def clean(obj: Any, secrets: list[str] | None = None) -> Any:
    """``obj`` with every string (keys included) redacted and made inert."""
    if isinstance(obj, str):
        return display_text(redact(obj, secrets))
    if isinstance(obj, dict):
        return {clean(str(k), secrets): clean(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v, secrets) for v in obj]
    if isinstance(obj, Path):
        return clean(str(obj), secrets)
    return obj


def when(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds") if ts else ""


def project_uri(project: str) -> str:
    """The project's resource URI (the name percent-encoded: spaces, non-ASCII, ``%``)."""
    return f"{SCHEME}://projects/{quote(project, safe='')}"


def turn_uri(project: str, turn_id: int) -> str:
    return f"{project_uri(project)}/turns/{turn_id}"


def node_json(node: Any) -> dict[str, Any]:
    """One light row of a listing (a :class:`~banana_studio.store.TurnNode`)."""
    return {
        "id": node.id, "parent_id": node.parent_id, "prompt": node.prompt, "status": node.status,
        "kind": node.kind, "starred": node.starred, "label": node.label, "images": node.n_final,
        "model": node.model, "image_size": node.image_size, "cost": round(float(node.cost or 0.0), 6),
        "demo": bool(node.is_demo), "source": getattr(node, "source", "") or "person",
        "created_at": when(node.created_at),
    }


def turn_json(turn: Turn, project: str, project_path: Path, *, children: list[int] | None = None,
              costs: dict[str, float] | None = None) -> dict[str, Any]:
    """A turn's full recipe: what was asked, with which settings and references, what came back."""
    content = turn.model_content
    grounding = turn.grounding or {}
    out: dict[str, Any] = {
        "project": project,
        "uri": turn_uri(project, turn.id),
        "id": turn.id,
        "parent_id": turn.parent_id,
        "children": children if children is not None else [],
        "kind": turn.kind,
        "status": turn.status,
        "prompt": turn.prompt,
        "settings": turn.settings.to_json(),
        "references": [{"name": r.name, "mime_type": r.mime_type, "sha256": r.sha256, "named": r.named,
                        "path": str(project_path / r.path)} for r in turn.references],
        "images": [{"index": im.index, "kind": im.kind, "mime_type": im.mime_type, "width": im.width,
                    "height": im.height, "path": str(project_path / im.path)}
                   for im in turn.images if im.kind == "final"],
        "drafts": len(turn.draft_images),
        "text": content.answer_text() if content is not None else "",
        "thoughts": content.thought_text() if content is not None else "",
        "grounding_sources": [{"title": s.get("title", ""), "uri": s.get("uri", "")}
                              for s in grounding.get("sources", []) if isinstance(s, dict)],
        "finish_reason": turn.finish_reason,
        "finish_message": turn.finish_message,
        "error": turn.error,
        "error_kind": turn.error_kind,
        "cost": round(float(turn.cost or 0.0), 6),
        "demo": turn.is_demo,
        "target": turn.target,
        "model_version": turn.model_version,
        "source": turn.source or "person",
        "source_client": turn.source_client,
        "starred": turn.starred,
        "label": turn.label,
        "created_at": when(turn.created_at),
    }
    if costs is not None:
        out["costs"] = money(costs)
    return out


def money(costs: dict[str, float]) -> dict[str, Any]:
    """Branch / project / today spending (real money), demo costs apart."""
    keys = ("turn", "branch", "project", "today", "demo_turn", "demo_branch", "demo_project", "demo_today")
    return {k: round(float(costs[k]), 6) for k in keys if k in costs}
