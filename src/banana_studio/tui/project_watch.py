"""Notice turns that other processes add to the open project (an MCP agent, ``banana-studio gen`` in
another shell, a second studio) without a restart.

Cheap polling, off the event loop: every :data:`INTERVAL` seconds a worker thread reads SQLite's
``PRAGMA data_version`` on the studio's own connection (one integer; it changes only when ANOTHER
connection committed, never for this studio's own writes).  Only when it changed does it read the
turns above the newest id seen (ids only grow) and post :class:`ProjectChanged` to the screen, which
reloads the tree keeping the selection and says "2 new turns from mcp".  Both reads are bounded by
what changed, not by the size of the project (benchmarks/bench_watch.py).

A poll is never started while the previous one still runs (a busy disk just makes polls rarer), and
a closed or unreadable project quietly stops the watch until the studio changes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.timer import Timer

from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural

if TYPE_CHECKING:
    from banana_studio.services import Studio
    from banana_studio.store import ProjectStore

INTERVAL = 1.0
"""Seconds between two polls (a PRAGMA on an open connection: microseconds)."""
OTHER = "another process"
"""How a new turn a person made elsewhere (``gen``, a second studio) is named."""


@dataclass
class ProjectChanged(Message):
    """Another process committed to the open project (handler: ``on_project_changed``)."""

    bubble = False  # for the screen that watches, not the app

    new_ids: list[int] = field(default_factory=list)
    """Turns other processes added since the previous poll."""
    by_source: dict[str, int] = field(default_factory=dict)
    """How many of them each source made: {"mcp": 2, "another process": 1}."""

    @property
    def notice(self) -> str:
        """ "2 new turns from mcp · 1 new turn from another process" ("" when none are new)."""
        return " · ".join(f"{plural(n, 'new turn')} from {src}" for src, n in self.by_source.items())


@dataclass(slots=True)
class _Seen:
    store: ProjectStore
    version: int
    last_id: int
    """The newest turn id seen (ids only grow, so what is new is what lies above it)."""


class ProjectWatch:
    """Polls the project of ``studio()`` for the screen ``owner`` (start with :meth:`start`)."""

    def __init__(self, owner: Any, studio: Callable[[], Studio], *, known: Callable[[], Collection[int]] | None = None,
                 interval: float = INTERVAL) -> None:
        self.owner = owner
        self.studio = studio
        """Read at every poll: the screen may switch projects (then the watch starts over)."""
        self.known = known
        """Ids never to announce (the turns this process creates are left out anyway: their owner pid)."""
        self.interval = interval
        self.polls = 0
        """Polls completed (tests wait on it, never on time)."""
        self._seen: _Seen | None = None
        self._busy = False
        self._timer: Timer | None = None

    def start(self) -> None:
        self._timer = self.owner.set_interval(self.interval, self._tick, name="project-watch")
        self.owner.call_later(self._tick)  # the baseline now, not a second from now

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    async def _tick(self) -> None:
        if self._busy:
            return
        self._busy = True
        try:
            change = await self.check()
        finally:
            self._busy = False
        if change is not None:
            self.owner.post_message(change)

    async def check(self) -> ProjectChanged | None:
        """One poll (in a worker thread): the change since the previous poll, or None."""
        studio = self.studio()
        active = set(getattr(studio, "active_turns", ()) or ())
        known = set(self.known()) if self.known is not None else set()
        try:
            return await asyncio.to_thread(self._poll, studio.store, active | known)
        except Exception:  # closed while switching projects, unreadable disk: try again next tick
            self._seen = None
            return None
        finally:
            self.polls += 1

    def _poll(self, store: ProjectStore, mine: set[int]) -> ProjectChanged | None:
        version = store.data_version()  # first: a commit landing after it is caught by the next poll
        seen = self._seen
        if seen is not None and seen.store is store and seen.version == version:
            return None
        if seen is None or seen.store is not store:  # the baseline of a newly watched project
            _nodes, latest = store.turns_after(2**62)
            self._seen = _Seen(store, version, latest)
            return None
        # Bounded by what is new, not by the project: the rows above the last id seen, made elsewhere.
        nodes, latest = store.turns_after(seen.last_id, other_processes=True)
        self._seen = _Seen(store, version, max(latest, seen.last_id))
        counts: Counter[str] = Counter()
        new_ids: list[int] = []
        for node in nodes:
            if node.id in mine:
                continue
            new_ids.append(node.id)
            source = display_text(getattr(node, "source", "") or "", one_line=True)[:40]
            counts[source or OTHER] += 1
        return ProjectChanged(new_ids=new_ids, by_source=dict(counts))
