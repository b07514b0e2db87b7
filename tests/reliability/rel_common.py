"""Shared pieces of the reliability suite: the full fault matrix and project-integrity checks.

Every row of :data:`MATRIX` is one way the Gemini API (played by the local ``FakeGemini``) can
misbehave, with what the user must be told (``kind`` + a phrase of the message) and how the turn
must end.  The engine, service and Pilot tests all run the same rows.
"""

from __future__ import annotations

import io
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

KEY = "AIza" + "ReliabilityFakeKey_0123456789ABCDEF"
"""A recognisable fake key (Google's shape, so the regex scrubber would catch it too)."""
assert len(KEY) == 39

TMP_MARKERS = (".bstmp", ".tmp", ".part", "~")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    fault: str
    """FakeGemini fault name."""
    params: dict[str, Any] = field(default_factory=dict)
    count: int = 1
    """How many requests the fault applies to (inject only)."""
    ok: bool = False
    """The turn ends with an image (status done)."""
    kind: str = ""
    """EngineError.kind expected when not ok."""
    phrase: str = ""
    """Case-insensitive phrase the user-facing message must contain (error or warning)."""
    terminal: str = "Failed"
    """Engine terminal event: Failed or Finished."""
    attempts: int = 1
    """ApiTarget.retry_attempts for this case."""
    retries: int = 0
    """Retrying events expected."""
    timeout: float | None = None
    """ApiTarget.timeout_seconds override (hang)."""
    partial: bool = False
    """Failed.partial carries the thoughts received before the failure."""
    retry_friendly: bool = True
    """Usable through a prompt tag / header (they apply to every attempt, so no retry-then-ok)."""

    @property
    def status(self) -> str:
        return "done" if self.ok else "failed"


MATRIX: list[Case] = [
    Case("bad_key", "bad_key", kind="bad_key", phrase="config --set-key"),
    Case("permission_403", "permission", kind="permission", phrase="Permission denied (403"),
    Case("not_found_404", "not_found", kind="not_found", phrase="was not found"),
    Case("quota_429", "quota", kind="quota", phrase="Quota exhausted (429"),
    Case("quota_429_delay", "quota", {"retry_delay": 7}, kind="quota", phrase="retry after 7 s"),
    Case("quota_429_retry_then_ok", "quota", {"retry_delay": 0.05}, ok=True, terminal="Finished", attempts=3,
         retries=1, retry_friendly=False),
    Case("quota_429_nodelay_retry_then_ok", "quota", ok=True, terminal="Finished", attempts=3, retries=1,
         retry_friendly=False),
    Case("quota_429_exhausted", "quota", {"retry_delay": 0.02}, count=9, kind="quota",
         phrase="gave up after 3 attempts", attempts=3, retries=2),
    Case("server_500", "server", kind="server", phrase="server failed (500"),
    Case("server_500_retry_then_ok", "server", ok=True, terminal="Finished", attempts=2, retries=1,
         retry_friendly=False),
    Case("overloaded_503", "overloaded", kind="overloaded", phrase="overloaded (503"),
    Case("high_demand_503", "high_demand", kind="overloaded", phrase="experiencing high demand"),
    Case("overloaded_503_exhausted", "overloaded", count=9, kind="overloaded", phrase="gave up after 2 attempts",
         attempts=2, retries=1),
    Case("high_demand_503", "high_demand", kind="overloaded", phrase="high demand"),
    Case("slow_ok", "slow", {"seconds": 0.3}, ok=True, terminal="Finished"),
    Case("hang_timeout", "hang", {"seconds": 4}, kind="timeout", phrase="timeout", timeout=0.4),
    Case("stream_error", "stream_error", kind="stream_error", phrase="middle of the answer", partial=True),
    Case("truncated", "truncated", kind="truncated", phrase="before the image was complete", partial=True),
    Case("malformed_json", "malformed_json", kind="malformed", phrase="malformed", partial=True),
    Case("bad_base64", "bad_base64", kind="malformed", phrase="malformed", partial=True),
    Case("image_safety", "image_safety", kind="safety", phrase="safety filter (IMAGE_SAFETY)", terminal="Finished"),
    Case("image_prohibited", "image_prohibited", kind="prohibited", phrase="IMAGE_PROHIBITED_CONTENT",
         terminal="Finished"),
    Case("no_image", "no_image", kind="no_image", phrase="NO_IMAGE", terminal="Finished"),
    Case("blocked_prompt", "blocked_prompt", kind="blocked", phrase="prompt was blocked", terminal="Finished"),
    Case("parts_null", "parts_null", kind="no_image", phrase="returned no image", terminal="Finished"),
    Case("candidates_null", "candidates_null", kind="no_image", phrase="empty answer", terminal="Finished"),
    Case("text_only", "text_only", kind="no_image", phrase="text only", terminal="Finished"),
    Case("text_base64", "text_base64", ok=True, terminal="Finished", phrase="base64 text"),
    Case("empty_signature", "empty_signature", ok=True, terminal="Finished", phrase="empty thought signature"),
    # region edits (issue 15): an answer that changes pixels outside the marked region is still an answer
    Case("region_leak", "region_leak", ok=True, terminal="Finished"),
    # hostile servers (issue 11): redacted / made visible, never an internal error
    Case("key_echo", "key_echo", ok=True, terminal="Finished"),
    Case("hostile_text", "hostile_text", ok=True, terminal="Finished"),
    Case("bad_unicode", "bad_unicode", kind="safety", phrase="IMAGE_SAFETY", terminal="Finished"),
    Case("lying_svg", "lying_image", {"kind": "svg"}, kind="bad_image", phrase="not a valid image",
         terminal="Finished"),
    Case("lying_truncated_jpeg", "lying_image", {"kind": "truncated_jpeg"}, kind="bad_image",
         phrase="damaged or incomplete", terminal="Finished"),
    Case("lying_random", "lying_image", {"kind": "random", "mb": 1}, kind="bad_image", phrase="not a valid image",
         terminal="Finished"),
    Case("lying_huge", "lying_image", {"kind": "huge"}, kind="bad_image", phrase="MP", terminal="Finished"),
]

CASES = {c.id: c for c in MATRIX}


def tag_for(case: Case) -> str:
    params = "".join(f";{k}={v}" for k, v in case.params.items())
    return f"[fault:{case.fault}{params}]"


# -- project integrity ------------------------------------------------------------------------------

def temp_files(project: Path) -> list[Path]:
    out = []
    for p in project.rglob("*"):
        if p.is_file() and (p.name.endswith(TMP_MARKERS) or ".bstmp" in p.name):
            out.append(p)
    return out


def check_project(project: Path, *, turns: int | None = None) -> dict[str, Any]:
    """Assert that the project on disk is consistent; return a summary.

    - SQLite ``integrity_check`` and ``foreign_key_check`` pass;
    - no temp / half-written files anywhere in the project;
    - every image row points at an existing file that decodes completely, and its bytes are the blob;
    - every file under ``images/`` is on record (nothing half-written or orphaned is visible);
    - no turn is left pending/running (nobody is generating).
    """
    db = project / "project.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = conn.execute("SELECT id, status FROM turns ORDER BY id").fetchall()
        images = conn.execute("SELECT turn_id, kind, path, sha256 FROM images").fetchall()
    finally:
        conn.close()
    if turns is not None:
        assert len(rows) == turns, rows
    assert [r for r in rows if r[1] in ("pending", "running")] == []
    assert temp_files(project) == []
    recorded = set()
    for _tid, _kind, rel, sha in images:
        path = project / rel
        assert path.is_file(), rel
        with Image.open(path) as im:
            im.load()
        recorded.add(path.resolve())
        blob = project / "blobs" / sha[:2] / sha[2:]
        assert blob.is_file(), f"blob of {rel} missing"
    on_disk = {p.resolve() for p in (project / "images").rglob("*") if p.is_file()} if (project / "images").exists() \
        else set()
    assert on_disk <= recorded, f"unrecorded files in images/: {sorted(on_disk - recorded)}"
    return {"turns": dict(rows), "images": images}


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: str = "orange") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def png_bytes(size: tuple[int, int] = (64, 48), color: str = "teal") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


def isolated_env(tmp_path: Path) -> dict[str, str]:
    """Environment variables pointing every banana-studio directory into ``tmp_path``."""
    return {
        "BANANA_STUDIO_DATA_DIR": str(tmp_path / "data"),
        "BANANA_STUDIO_CONFIG": str(tmp_path / "config" / "config.toml"),
        "BANANA_STUDIO_CACHE_DIR": str(tmp_path / "cache"),
        "BANANA_STUDIO_LOG_DIR": str(tmp_path / "log"),
    }


def child_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY",
                                                             "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI")}
    env.update(isolated_env(tmp_path))
    env.update(extra)
    return env
