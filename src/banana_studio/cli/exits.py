"""Exit codes and the error line, shared by every command (the table is in the README).

====  ==================================================================================
code  meaning
====  ==================================================================================
0     done
1     the work failed while running: the API refused or failed, no image came back, a
      file could not be written, a batch job failed, nothing was found
2     invalid input or setup: bad arguments, an unknown turn or project, no API key,
      settings the model does not accept, an unreadable input file
3     over the configured budget (``--yes`` sends anyway)
130   interrupted (Ctrl-C)
====  ==================================================================================

Every error line starts with ``error: `` (warnings with ``warning: ``, notes with ``note: ``).
"""

from __future__ import annotations

import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_BUDGET = 3
EXIT_CANCELLED = 130


def error(message: str, code: int = EXIT_INVALID) -> int:
    """Print ``error: message`` on stderr; returns ``code`` (``return error(...)``)."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    return code


def warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
