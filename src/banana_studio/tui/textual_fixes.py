"""Work-arounds for Textual behaviour that hurts a long studio session (Textual 8.2.x).

Watchers leak: ``DOMNode.watch`` (and so ``data_bind``) appends ``(node, callback)`` to the watched
object's watcher list, and Textual drops entries of closed nodes only when that attribute *changes*.
``Footer`` recomposes its ``FooterKey``s, each ``data_bind(compact=Footer.compact)``, every time
the bindings change (focus moves, a generation starts or ends), and ``compact`` never changes, so
every old key stayed reachable with its styles and caches: +2.4 MB of RSS per generation in
``benchmarks/bench_memory.py --tui`` (100 generations: 387 MB and climbing).  :func:`apply` prunes
closed nodes from a watcher list whenever a watcher is added to it.
"""

from __future__ import annotations

from typing import Any

_applied = False


def _prune(obj: Any, attribute_name: str) -> None:
    watchers = getattr(obj, "__watchers", None)
    if not watchers:
        return
    entries = watchers.get(attribute_name)
    if entries:
        entries[:] = [(node, callback) for node, callback in entries
                      if not (getattr(node, "_closing", False) or getattr(node, "_closed", False))]


def apply() -> None:
    """Install the work-arounds (idempotent)."""
    global _applied
    if _applied:
        return
    from textual import dom, reactive

    original = reactive._watch

    def _watch(node: Any, obj: Any, attribute_name: str, callback: Any, *, init: bool = True) -> None:
        _prune(obj, attribute_name)
        original(node, obj, attribute_name, callback, init=init)

    reactive._watch = _watch  # type: ignore[assignment]
    dom._watch = _watch  # type: ignore[attr-defined]  # DOMNode.watch uses the name imported into textual.dom
    _applied = True
