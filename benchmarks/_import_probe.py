"""Run the studio while logging WHEN heavy modules are first imported and when the start-up phases
happen (``App.run`` called, first frames written), as wall-clock stamps appended to a file as they
happen (so the log survives the process being killed).  Used by bench_startup.py to check that
google-genai is not imported before the first screen is painted, and to break start-up into phases.

    python benchmarks/_import_probe.py LOGFILE [banana-studio arguments...]
"""

from __future__ import annotations

import importlib.abc
import sys
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any

WATCH = ("google.genai", "httpx2", "httpx", "pydantic", "PIL.Image", "sqlite3", "textual_image", "textual.app",
         "banana_studio.engine.runner", "banana_studio.fakeserver.server")


class _Logger(importlib.abc.MetaPathFinder):
    def __init__(self, path: str) -> None:
        self.path = path
        self.seen: set[str] = set()

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname in WATCH and fullname not in self.seen:
            self.seen.add(fullname)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(f"{time.time():.6f} {fullname}\n")
        return None  # let the normal finders do the work


def _stamp(path: str, what: str) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{time.time():.6f} {what}\n")


def _hook_textual(log: str) -> None:
    """Stamp ``App.run`` and the first few frames (``App._display``)."""
    import textual.app as ta

    frames = [0]
    original_display = ta.App._display
    original_run = ta.App.run

    def _display(self: Any, screen: Any, renderable: Any) -> None:
        frames[0] += 1
        if frames[0] <= 8:
            _stamp(log, f"[frame {frames[0]}] {type(screen).__name__}")
        original_display(self, screen, renderable)

    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        _stamp(log, f"[App.run] {type(self).__name__}")
        return original_run(self, *args, **kwargs)

    ta.App._display = _display  # type: ignore[method-assign]
    ta.App.run = run  # type: ignore[method-assign]


def main() -> int:
    log = sys.argv[1]
    _stamp(log, "[interpreter ready]")
    sys.meta_path.insert(0, _Logger(log))
    if "--phases" in sys.argv:
        sys.argv.remove("--phases")
        _hook_textual(log)  # imports textual.app early: only for the phase breakdown, not for hygiene
    from banana_studio.cli.main import main as studio_main

    return int(studio_main(sys.argv[2:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
