"""Reading a job's results: inline ones in memory, a downloaded JSONL file line by line from disk; the
texts of a failed job or request."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from banana_studio.engine.batch import JobView


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
    if not path.exists():  # no try brought a single byte
        return out
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


def keep_longer(trying: Path, part: Path) -> None:
    """A cut download attempt: keep it as the part file if it brought more than the one kept so far."""
    if not trying.exists():
        return
    if not part.exists() or trying.stat().st_size > part.stat().st_size:
        trying.replace(part)
    else:
        trying.unlink()


def job_failure_text(view: JobView) -> str:
    state = view.state.removeprefix("JOB_STATE_").lower()
    if view.error_message or view.error_code is not None:
        code = f" (code {view.error_code})" if view.error_code is not None else ""
        return f"The job {state}{code}: {view.error_message or 'no reason given'}"
    if view.state == "JOB_STATE_EXPIRED":
        return "The job expired: Google did not finish it within 48 hours; nothing was billed for unfinished requests."
    return f"The job ended {state}."


CANCEL_CONFIRM_TEXT = "A job that ends cancelled brings back no results: nothing of it is imported."


def cancel_outcome_text(name: str, short_state: str, done: bool) -> str:
    """What a cancel request did (CLI and the batch screen say the same)."""
    if done:
        return f"{name}: {short_state}"
    return (f"{name}: cancel requested; Google is still stopping it ({short_state}). Waiting continues until it has "
            "stopped (`banana-studio batch --resume`): if the job still ends succeeded, its results are imported; a "
            "job that ends cancelled brings back no results, so nothing is imported.")


def request_error_text(error: Any) -> str:
    if isinstance(error, dict):
        code, message = error.get("code"), error.get("message")
    else:
        code, message = getattr(error, "code", None), getattr(error, "message", None)
    message = message or "unknown error"
    return f"The batch request failed ({code}): {message}" if code else f"The batch request failed: {message}"
