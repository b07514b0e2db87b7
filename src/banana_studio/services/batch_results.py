"""Reading a job's results: inline ones in memory, a downloaded JSONL file line by line from disk."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


class Results:
    """Results of a job: inline ones in memory, or an index of the results file on disk (key → line
    offset), so one multi-MB line is read and parsed at a time."""

    def __init__(self, path: Path | None = None) -> None:
        self.inline: dict[str, tuple[Any, Any]] = {}
        self.path = path
        self.offsets: dict[str, int] = {}
        self.bad: dict[str, str] = {}

    def get(self, key: str) -> tuple[Any, Any] | None:
        if key in self.inline:
            return self.inline[key]
        if key in self.bad:
            return None, {"message": self.bad[key]}
        if self.path is None or key not in self.offsets:
            return None
        with open(self.path, "rb") as fh:
            fh.seek(self.offsets[key])
            obj = json.loads(fh.readline())
        resp = obj.get("response")
        return (resp if isinstance(resp, dict) else None), obj.get("error")


def index_lines(path: Path) -> Results:
    """Index the complete lines of a (possibly partial) JSONL results file.  A line that is not valid
    JSON is skipped (the last one of a cut download) or, if it names its key, recorded as failed."""
    out = Results(path)
    offset = 0
    with open(path, "rb") as fh:
        for raw in fh:
            start, offset = offset, offset + len(raw)
            if not raw.endswith(b"\n") or not raw.strip():
                continue  # an unterminated last line: the download was cut there
            try:
                obj = json.loads(raw)
            except ValueError:
                m = re.search(rb'"key"\s*:\s*"([^"\\]{1,200})"', raw[:1000])
                if m:
                    out.bad.setdefault(m.group(1).decode("utf-8", "replace"),
                                       "The batch result line for this prompt is not valid JSON.")
                continue
            if isinstance(obj, dict):
                out.offsets.setdefault(str(obj.get("key", "")), start)  # duplicate keys: first wins
    return out
