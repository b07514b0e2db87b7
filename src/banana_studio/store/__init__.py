"""The project history store: a tree of turns per project, on local disk (no Textual, no network)."""

from banana_studio.store.names import ProjectError, slugify, validate_project_name
from banana_studio.store.project import (
    ProjectInfo,
    ProjectStore,
    TurnNode,
    find_turn_for_image,
    list_projects,
    recent_turns,
)

__all__ = [
    "ProjectError",
    "ProjectInfo",
    "ProjectStore",
    "TurnNode",
    "find_turn_for_image",
    "list_projects",
    "recent_turns",
    "slugify",
    "validate_project_name",
]
