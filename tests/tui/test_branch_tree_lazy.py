"""BranchTree.load: a big project laid out from its (id, parent) skeleton, display rows fetched only
for the lines on screen and the cursor's ancestors, more as the view scrolls."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from tests.tui.test_branch_tree import Node, TreeApp, line_text

from banana_studio.tui.widgets.branch_tree import BranchTree

N = 20_000


def skeleton(n: int) -> tuple[list[int], list[int | None]]:
    """A long conversation with a fork every 100 turns (the fork continues the column)."""
    ids = list(range(1, n + 1))
    parents: list[int | None] = [None] + [i - 1 if i % 100 else i - 2 for i in ids[1:]]
    return ids, parents


class Loader:
    def __init__(self, parents: dict[int, int | None]) -> None:
        self.parents = parents
        self.calls: list[list[int]] = []
        self.called = asyncio.Event()

    async def __call__(self, ids: list[int]) -> Sequence[Any]:
        self.calls.append(list(ids))
        self.called.set()
        return [Node(i, self.parents[i], f"prompt {i}") for i in ids if i in self.parents]

    @property
    def fetched(self) -> set[int]:
        return {i for call in self.calls for i in call}


async def test_load_fetches_only_the_screens_around_the_cursor() -> None:
    ids, parents = skeleton(N)
    loader = Loader(dict(zip(ids, parents, strict=True)))
    app = TreeApp([])
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.query_one(BranchTree)
        await pilot.pause()
        await tree.load(ids, parents, loader, select=N)
        await pilot.pause()
        assert tree.turn_count == N and tree.node_count == N and tree.cursor_id == N
        assert tree.selected_id == N
        path = tree.path_to(N)
        assert path[0] == 1 and len(path) > N // 2
        fetched = loader.fetched
        assert {N, N - 1} <= fetched, "the cursor and its parent have their display rows"
        assert len(fetched) <= 4 * tree.scrollable_content_region.height + 1, len(fetched)
        visible = [line_text(tree, y) for y in range(tree.scrollable_content_region.height)]
        assert any(f"#{N} " in line and f"prompt {N}" in line for line in visible)
        assert tree.node(N) is not None and tree.node(N).prompt == f"prompt {N}"
        assert tree.node(1) is None  # far off screen: not fetched

        # Jumping to the top draws lines whose rows are not there yet: they are fetched, then drawn.
        loader.called.clear()
        n_calls = len(loader.calls)
        tree.action_first()
        [line_text(tree, y) for y in range(tree.scrollable_content_region.height)]
        await asyncio.wait_for(loader.called.wait(), 10)
        await pilot.pause()
        assert len(loader.calls) == n_calls + 1 and 1 in loader.calls[-1]
        top = [line_text(tree, y) for y in range(tree.scrollable_content_region.height)]
        assert "prompt 1" in top[0]
        assert len(loader.fetched) < N // 10


async def test_newer_load_wins_and_cursor_survives() -> None:
    ids, parents = skeleton(500)
    loader = Loader(dict(zip(ids, parents, strict=True)))
    app = TreeApp([])
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.query_one(BranchTree)
        await tree.load(ids, parents, loader, select=250)
        await pilot.pause()
        assert tree.cursor_id == 250
        # Reload without 250..500 (a deleted branch): the cursor goes to the closest surviving ancestor.
        keep = 240
        first = asyncio.ensure_future(tree.load(ids, parents, loader, select=10))
        await asyncio.sleep(0)  # let it start (and reach its worker thread) before the newer load
        await tree.load(ids[:keep], parents[:keep], loader)
        await first  # superseded: it must not overwrite the newer data
        await pilot.pause()
        assert tree.turn_count == keep and tree.cursor_id == keep
        # An empty project.
        await tree.load([], [], loader)
        await pilot.pause()
        assert tree.cursor_id is None and "No turns yet" in line_text(tree, 0)
