"""Commands that run until they are stopped (``serve``, ``serve-fake``): wait for Ctrl-C or SIGTERM,
then stop cleanly."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable


def run_until_stopped(stop: Callable[[], None]) -> int:
    """Block until Ctrl-C (or SIGTERM, treated the same), say "Stopping.", call ``stop()``; exit code 0."""

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nStopping.", file=sys.stderr)
    finally:
        stop()
    return 0
