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
    # only engine/ talks to the SDK; only store/ opens the project databases
    "services": {"textual", "textual_image", "google", "sqlite3", "banana_studio.tui"},
    "tui": {"google", "sqlite3"},
    # The MCP server goes through services/ (validation, budgets, costs), never around it to the engine.
    "agents": {"textual", "textual_image", "google", "sqlite3", "banana_studio.tui", "banana_studio.engine"},
    # The web gallery reads through the store's read-only reader, and nothing else.
    "web": {"textual", "textual_image", "google", "sqlite3", "banana_studio.tui", "banana_studio.engine",
            "banana_studio.services"},
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


SERVICES = PKG / "services"
SERVICES_MAX_LINES = 400


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    base = _module_name(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(path: Path) -> list[ast.Import | ast.ImportFrom]:
    """Every import that runs (at import time or inside a function), ``if TYPE_CHECKING`` blocks aside."""
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return out


def test_services_import_no_private_name() -> None:
    """A services module uses other modules through their public names only (``from x import _y`` is
    how the batch lane once reached into the studio)."""
    bad = []
    for path in sorted(SERVICES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = _absolute(node, path)
            if not module.startswith("banana_studio"):
                continue
            bad += [f"{path.relative_to(PKG)} imports {a.name} from {module}"
                    for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert bad == []


def test_services_reach_no_private_attribute_of_another_object() -> None:
    """No ``other._name`` in services/ (``self._x`` / ``cls._x`` are the object's own business)."""
    bad = []
    for path in sorted(SERVICES.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                bad.append(f"{path.relative_to(PKG)}:{node.lineno} reaches .{node.attr}")
    assert bad == []


def _services_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    modules = {_module_name(p) for p in SERVICES.rglob("*.py")}
    for path in SERVICES.rglob("*.py"):
        name = _module_name(path)
        deps: set[str] = set()
        for node in _runtime_imports(path):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                module = _absolute(node, path)
                targets = [module, *(f"{module}.{a.name}" for a in node.names)]
            deps |= {t for t in targets if t in modules and t != name and t != "banana_studio.services"}
        graph[name] = deps
    return graph


def test_no_import_circle_in_services() -> None:
    """The services modules import each other as a tree (lazy imports inside functions count; only
    ``if TYPE_CHECKING`` imports for annotations are free)."""
    graph = _services_graph()
    assert graph, "no services modules found"
    done: set[str] = set()
    circles: list[str] = []

    def walk(node: str, stack: list[str]) -> None:
        if node in stack:
            circles.append(" -> ".join([*stack[stack.index(node):], node]))
            return
        if node in done:
            return
        for dep in sorted(graph.get(node, ())):
            walk(dep, [*stack, node])
        done.add(node)

    for module in sorted(graph):
        walk(module, [])
    assert circles == []


def test_one_way_a_turn_is_completed() -> None:
    """Outside the store, only services/completion.py writes a turn's end (``store.complete_turn``):
    both lanes (interactive, Batch API import) complete turns through it."""
    allowed = SERVICES / "completion.py"
    bad = []
    for path in sorted(PKG.rglob("*.py")):
        if path == allowed or path.is_relative_to(PKG / "store"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "complete_turn":
                bad.append(f"{path.relative_to(PKG)}:{node.lineno}")
    assert bad == []


def test_services_modules_stay_small() -> None:
    big = [f"{p.relative_to(PKG)}: {n} lines" for p in sorted(SERVICES.rglob("*.py"))
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > SERVICES_MAX_LINES]
    assert big == []


def test_one_stylesheet_for_the_app() -> None:
    sheets = list(PKG.rglob("*.tcss"))
    assert [p.name for p in sheets] == ["app.tcss"]


def test_starting_the_tui_module_does_not_import_the_sdk() -> None:
    code = ("import sys, banana_studio.tui.app, banana_studio.cli.studio, banana_studio.services; "
            "print('google.genai' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "TERM": "dumb"})
    assert out.stdout.strip() == "False"


# The main screen is a package; only the app and the command palette hold it (screens it opens take
# a request or a studio and hand results back with dismiss / messages).
MAIN_SCREEN_USERS = {"tui/app.py", "tui/commands.py", "tui/from_image.py", "tui/setup_check.py"}


def test_screens_do_not_import_the_main_screen_back() -> None:
    users = set()
    for path in sorted((PKG / "tui").rglob("*.py")):
        rel = str(path.relative_to(PKG))
        if rel.startswith("tui/screens/main/"):
            continue
        if any(m == "banana_studio.tui.screens.main" or m.startswith("banana_studio.tui.screens.main.")
               for m in _imports(path)):
            users.add(rel)
    assert users <= MAIN_SCREEN_USERS, sorted(users - MAIN_SCREEN_USERS)


def test_nothing_reaches_into_the_main_screen() -> None:
    import re

    reach = re.compile(r"\bmain\._[a-z]\w*|hasattr\(main,")
    found = [f"{p.relative_to(PKG)}: {m.group(0)}" for p in sorted(PKG.rglob("*.py"))
             for m in reach.finditer(p.read_text(encoding="utf-8"))]
    assert found == []


def test_main_screen_modules_stay_small() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines())
             for p in (PKG / "tui" / "screens" / "main").glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
