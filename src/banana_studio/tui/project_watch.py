"""Notice turns that other processes add to the open project (an MCP agent, ``banana-studio gen`` in
another shell, a second studio) without a restart.

Cheap polling, off the event loop: every :data:`INTERVAL` seconds a worker thread reads SQLite's
``PRAGMA data_version`` on the studio's own connection (one integer; it changes only when ANOTHER
connection committed, never for this studio's own writes).  Only when it changed does it read the
tree skeleton, diff it with the ids seen last time and post :class:`ProjectChanged` to the screen,
which reloads the tree keeping the selection and says "2 new turns from mcp".

A poll is never started while the previous one still runs (a busy disk just makes polls rarer), and
a closed or unreadable project quietly stops the watch until the studio changes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message
from textual.timer import Timer

from banana_studio.domain.safetext import display_text
from banana_studio.domain.words import plural

INTERVAL = 1.0
"""Seconds between two polls (a PRAGMA on an open connection: microseconds)."""
MAX_SOURCES = 50
"""New turns whose source is read for the notice (beyond that they are counted, not named)."""
OTHER = "another process"
"""How a new turn a person made elsewhere (``gen``, a second studio) is named."""


@dataclass
class ProjectChanged(Message):
    """Another process committed to the open project (handler: ``on_project_changed``)."""

    bubble = False  # for the screen that watches, not the app

    new_ids: list[int] = field(default_factory=list)
    """Turns that were not there at the previous poll (and that this studio is not making)."""
    by_source: dict[str, int] = field(default_factory=dict)
    """How many of them each source made: {"mcp": 2, "another process": 1}."""

    @property
    def notice(self) -> str:
        """ "2 new turns from mcp · 1 new turn from another process" ("" when none are new)."""
        return " · ".join(f"{plural(n, 'new turn')} from {src}" for src, n in self.by_source.items())


@dataclass(slots=True)
class _Seen:
    store: Any
    version: int
    ids: set[int]


class ProjectWatch:
    """Polls the project of ``studio()`` for the screen ``owner`` (start with :meth:`start`)."""

    def __init__(self, owner: Any, studio: Callable[[], Any], *, known: Callable[[], Collection[int]] | None = None,
                 interval: float = INTERVAL) -> None:
        self.owner = owner
        self.studio = studio
        """Read at every poll: the screen may switch projects (then the watch starts over)."""
        self.known = known
        """Ids the screen already shows (its own new turns are not announced as someone else's)."""
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

    def _poll(self, store: Any, mine: set[int]) -> ProjectChanged | None:
        version = store.data_version()  # first: a commit landing after it is caught by the next poll
        seen = self._seen
        if seen is not None and seen.store is store and seen.version == version:
            return None
        ids, _parents = store.tree_skeleton()
        now = set(ids)
        self._seen = _Seen(store, version, now)
        if seen is None or seen.store is not store:
            return None  # the baseline of a newly watched project
        new = sorted(now - seen.ids - mine)
        counts: Counter[str] = Counter()
        for node in store.nodes_for(new[-MAX_SOURCES:]):
            source = display_text(getattr(node, "source", "") or "", one_line=True)[:40]
            counts[source or OTHER] += 1
        if len(new) > MAX_SOURCES:
            counts[OTHER if not counts else counts.most_common(1)[0][0]] += len(new) - MAX_SOURCES
        return ProjectChanged(new_ids=new, by_source=dict(counts))
