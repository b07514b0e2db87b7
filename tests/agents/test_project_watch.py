"""The project watch's poll on its own (no app): what counts as new, and from whom."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from banana_studio.domain.content import user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore
from banana_studio.tui.project_watch import ProjectWatch

FOREIGN_PID = 2**31 - 7
"""The owner pid of turns "made by another process" (rows as another process writes them)."""


def _add(store: ProjectStore, prompt: str, source: str = "", *, elsewhere: bool = False) -> int:
    tid = store.create_turn(None, prompt, GenerationSettings(), [], user_content(prompt), source=source).id
    if elsewhere:
        with store._tx() as c:
            c.execute("UPDATE turns SET owner_pid = ? WHERE id = ?", (FOREIGN_PID, tid))
    return tid


async def test_new_turns_by_source_floods_deletions_and_own_turns(tmp_path: Path) -> None:
    mine = ProjectStore.open(tmp_path, "w")
    other = ProjectStore.open(tmp_path, "w")  # another process's connection
    studio = SimpleNamespace(store=mine, active_turns=set())
    watch = ProjectWatch(None, lambda: studio)
    try:
        _add(mine, "before")
        assert await watch.check() is None  # the baseline
        own = _add(mine, "the studio's own")  # this connection's writes are not a change
        assert await watch.check() is None

        ids = [_add(other, f"agent {i}", "mcp", elsewhere=True) for i in range(120)]
        ids.append(_add(other, "gen in a shell", elsewhere=True))
        _add(other, "a turn of this process on another connection")  # same pid: this studio's own
        own_too = _add(mine, "the studio's own, between two polls")
        change = await watch.check()
        assert change is not None and change.new_ids == ids and own not in ids and own_too not in change.new_ids
        assert change.by_source == {"mcp": 120, "another process": 1}
        assert await watch.check() is None

        hidden = _add(other, "asked to be left out", elsewhere=True)
        watch.known = lambda: {hidden}
        change = await watch.check()
        assert change is not None and change.new_ids == [] and change.notice == ""

        other.delete_branch(ids[0])  # a change with nothing new: the tree still reloads, no notice
        change = await watch.check()
        assert change is not None and change.new_ids == [] and change.notice == ""
    finally:
        other.close()
        mine.close()
