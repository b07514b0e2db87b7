"""Layer boundaries, checked statically over every module (including imports inside functions)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "banana_studio"

# layer -> top-level modules it must never import (anywhere in the file)
FORBIDDEN = {
    "domain": {"textual", "textual_image", "rich", "google", "sqlite3", "banana_studio.tui",
               "banana_studio.store", "banana_studio.engine", "banana_studio.services"},
    "engine": {"textual", "textual_image", "sqlite3", "banana_studio.tui", "banana_studio.store"},
    "store": {"textual", "textual_image", "google", "banana_studio.tui", "banana_studio.engine"},
    "fakeserver": {"textual", "textual_image", "google", "banana_studio.tui", "banana_studio.store"},
    "services": {"textual", "textual_image", "google", "banana_studio.tui"},  # only engine/ talks to the SDK
    "tui": {"google", "sqlite3"},
    "web": {"textual", "textual_image", "google", "banana_studio.tui", "banana_studio.engine",
            "banana_studio.services"},  # the gallery reads the store, read-only, and nothing else
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _violations(layer: str) -> list[str]:
    out = []
    for path in sorted((PKG / layer).rglob("*.py")):
        for mod in _imports(path):
            for bad in FORBIDDEN[layer]:
                if mod == bad or mod.startswith(bad + "."):
                    out.append(f"{path.relative_to(PKG)} imports {mod}")
    return out


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_boundaries(layer: str) -> None:
    assert (PKG / layer).is_dir()
    assert _violations(layer) == []


def test_one_stylesheet_for_the_app() -> None:
    sheets = list(PKG.rglob("*.tcss"))
    assert [p.name for p in sheets] == ["app.tcss"]


def test_starting_the_tui_module_does_not_import_the_sdk() -> None:
    code = ("import sys, banana_studio.tui.app, banana_studio.cli.studio, banana_studio.services; "
            "print('google.genai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "TERM": "dumb"})
    assert out.stdout.strip() == "False"
