"""Project store: crash recovery, concurrent processes, migrations, corrupt/newer/read-only projects."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from banana_studio.domain.content import user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectError, ProjectStore
from banana_studio.store.files import TMP_MARK
from banana_studio.store.schema import SCHEMA_VERSION, create_v1

PRELUDE = textwrap.dedent(
    """
    import io, os, sys, time
    from pathlib import Path
    from PIL import Image
    from banana_studio.store import ProjectStore
    from banana_studio.domain.content import Content, Part, user_content
    from banana_studio.domain.settings import GenerationSettings

    def jpeg(color):
        b = io.BytesIO(); Image.new("RGB", (32, 32), color).save(b, format="JPEG"); return b.getvalue()

    root = Path(sys.argv[1])
    """
)


def run_child(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )


def wait_for(pred, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def temp_files(project: Path) -> list[Path]:
    return list(project.rglob(f"*{TMP_MARK}"))


@pytest.mark.parametrize("match", ["blobs", "images/0"])
def test_sigkill_mid_complete_turn_marks_interrupted(tmp_path: Path, match: str) -> None:
    code = """
    s = ProjectStore.open(root, "p")
    t = s.create_turn(None, "a cat", GenerationSettings(), [], user_content("a cat"))
    print(t.id, flush=True)
    mc = Content("model", [Part(mime_type="image/jpeg", data=jpeg("red"), thought_signature=b"s")])
    s.complete_turn(t.id, model_content=mc, status="done")
    print("finished", flush=True)
    """
    ready = tmp_path / "paused-mid-write"
    proc = run_child(code, str(tmp_path),
                     env={"BANANA_STUDIO_TEST_WRITE_DELAY": "600", "BANANA_STUDIO_TEST_WRITE_MATCH": match,
                          "BANANA_STUDIO_TEST_WRITE_READY": str(ready)})
    try:
        assert proc.stdout is not None
        tid = int(proc.stdout.readline())
        project = tmp_path / "p"
        # The store's write hook says when it is paused half-way through the matching file (a temp
        # file of another write seen earlier would let the kill land between writes).
        wait_for(ready.exists, timeout=120)
        assert match in ready.read_text()
        assert temp_files(project)  # half-written file exists now
        # While the writer is alive its pending turn is not touched by another opener.
        with ProjectStore.open(tmp_path, "p") as live:
            assert live.recovered == []
            assert live.get_turn(tid).status == "pending"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert temp_files(project)  # the kill really happened mid-write
    with ProjectStore.open(tmp_path, "p") as s:
        assert s.recovered == [tid]
        t = s.get_turn(tid)
        assert t.status == "interrupted" and t.error and t.images == []
        assert temp_files(project) == []  # no half-written file left visible
        assert list(project.glob("images/*.jpg")) == []
        assert [n.status for n in s.tree_index()] == ["interrupted"]
        # the project keeps working
        t2 = s.create_turn(tid, "again", GenerationSettings(), [], user_content("again"))
        s.complete_turn(t2.id, model_content=None, status="done")
    with ProjectStore.open(tmp_path, "p") as s:
        assert s.recovered == []


def test_live_owner_in_other_process_not_interrupted(tmp_path: Path) -> None:
    code = """
    s = ProjectStore.open(root, "p")
    t = s.create_turn(None, "slow", GenerationSettings(), [], user_content("slow"))
    s.set_status(t.id, "running")
    print(t.id, flush=True)
    time.sleep(60)
    """
    proc = run_child(code, str(tmp_path))
    try:
        assert proc.stdout is not None
        tid = int(proc.stdout.readline())
        with ProjectStore.open(tmp_path, "p") as s:
            assert s.recovered == []
            assert s.get_turn(tid).status == "running"
            with pytest.raises(ProjectError, match="still being generated"):
                s.delete_branch(tid)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with ProjectStore.open(tmp_path, "p") as s:
        assert s.recovered == [tid]
        assert s.get_turn(tid).status == "interrupted"


def test_two_processes_append_concurrently(tmp_path: Path) -> None:
    code = """
    tag = sys.argv[2]
    s = ProjectStore.open(root, "p")
    img = jpeg("blue" if tag == "a" else "green")
    parent = None
    for i in range(100):
        t = s.create_turn(parent, f"{tag} turn {i}", GenerationSettings(), [], user_content(f"{tag} {i}"))
        mc = Content("model", [Part(mime_type="image/jpeg", data=img, thought_signature=tag.encode() * 10)])
        s.complete_turn(t.id, model_content=mc, status="done", cost=0.01)
        parent = t.id
    s.close()
    print("ok", flush=True)
    """
    ProjectStore.open(tmp_path, "p").close()  # create once so both children open an existing project
    procs = [run_child(code, str(tmp_path), tag) for tag in ("a", "b")]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    with ProjectStore.open(tmp_path, "p") as s:
        nodes = s.tree_index()
        assert len(nodes) == 200 and len({n.id for n in nodes}) == 200
        assert all(n.status == "done" and n.n_final == 1 for n in nodes)
        for tag in ("a", "b"):
            chain = [n for n in nodes if n.prompt.startswith(tag)]
            assert len(chain) == 100
            last = max(chain, key=lambda n: n.id)
            path = s.path_to(last.id)
            assert [t.prompt for t in path] == [f"{tag} turn {i}" for i in range(100)]
            assert s.replay_contents(last.id)[-1].parts[0].thought_signature == tag.encode() * 10
        assert s.costs()["project"] == pytest.approx(2.0)
        assert sqlite3.connect(s.path / "project.db").execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def build_v1_project(project: Path) -> None:
    project.mkdir(parents=True)
    conn = sqlite3.connect(project / "project.db")
    create_v1(conn)
    conn.execute("INSERT INTO meta(key, value) VALUES ('uuid', 'old-uuid'), ('name', 'legacy')")
    settings = json.dumps({"model": "gemini-2.5-flash-image", "aspect_ratio": "16:9", "image_size": "1K"})
    uj = json.dumps({"role": "user", "parts": [{"text": "an old lighthouse"}]})
    mj = json.dumps({"role": "model", "parts": [{"text": "", "thought_signature": "AAEC"}]})
    conn.execute(
        "INSERT INTO turns (parent_id, prompt, status, settings_json, user_json, model_json, created_at, updated_at,"
        " cost) VALUES (NULL, 'an old lighthouse', 'done', ?, ?, ?, 1.0, 1.0, 0.039)", (settings, uj, mj))
    conn.execute(
        "INSERT INTO turns (parent_id, prompt, status, settings_json, user_json, created_at, updated_at)"
        " VALUES (1, 'at night', 'running', ?, ?, 2.0, 2.0)", (settings, uj))
    conn.execute("INSERT INTO images (turn_id, kind, idx, sha256, mime, path) VALUES (1, 'final', 0, 'ab', "
                 "'image/png', 'images/0001-an-old-lighthouse.png')")
    conn.commit()
    conn.close()


def test_migrates_from_version_1(tmp_path: Path) -> None:
    project = tmp_path / "legacy"
    build_v1_project(project)
    with ProjectStore.open(tmp_path, "legacy") as s:
        assert s.uuid == "old-uuid"
        assert s._query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
        assert [n.id for n in s.search("lighthouse")] == [1]  # FTS rebuilt from old rows
        node = s.tree_index()[0]
        assert node.model == "gemini-2.5-flash-image" and node.n_final == 1
        assert s.recovered == [2]  # a v1 'running' turn has no live owner
        t = s.get_turn(1)
        assert t.settings.aspect_ratio == "16:9" and t.model_content is not None
        assert t.model_content.parts[0].thought_signature == b"\x00\x01\x02"
        new = s.create_turn(1, "lighthouse in fog", GenerationSettings(), [], user_content("x"))
        assert new.id == 3
        assert {n.id for n in s.search("lighthouse")} == {1, 3}


def test_corrupt_database_refused_untouched(tmp_path: Path) -> None:
    project = tmp_path / "bad"
    project.mkdir()
    db = project / "project.db"
    db.write_bytes(b"this is not sqlite" * 100)
    before = db.read_bytes()
    with pytest.raises(ProjectError, match="not a SQLite database"):
        ProjectStore.open(tmp_path, "bad")
    assert db.read_bytes() == before
    assert sorted(p.name for p in project.iterdir()) == ["project.db"]
    # valid header, garbage body
    db.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    before = db.read_bytes()
    with pytest.raises(ProjectError):
        ProjectStore.open(tmp_path, "bad")
    assert db.read_bytes() == before


def test_newer_schema_refused_untouched(tmp_path: Path) -> None:
    project = tmp_path / "future"
    project.mkdir()
    conn = sqlite3.connect(project / "project.db")
    conn.execute("CREATE TABLE turns (id INTEGER PRIMARY KEY)")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    before = (project / "project.db").read_bytes()
    with pytest.raises(ProjectError, match="newer"):
        ProjectStore.open_path(project)
    assert (project / "project.db").read_bytes() == before
    assert not (project / "project.db-wal").exists()


def test_read_only_project_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with ProjectStore.open(tmp_path, "ro") as s:
        s.create_turn(None, "x", GenerationSettings(), [], user_content("x"))
    project = tmp_path / "ro"
    os.chmod(project, 0o555)
    try:
        if os.access(project, os.W_OK):
            # Running as root: permissions do not bind, so simulate a read-only file system.
            real_open = os.open

            def ro_open(path, flags, *a, **k):  # type: ignore[no-untyped-def]
                if ".write-probe" in str(path):
                    raise OSError(errno.EROFS, "Read-only file system")
                return real_open(path, flags, *a, **k)

            monkeypatch.setattr(os, "open", ro_open)
        with pytest.raises(ProjectError, match="not writable"):
            ProjectStore.open(tmp_path, "ro")
        with pytest.raises(ProjectError, match="not writable"):
            ProjectStore.open(tmp_path / "ro", "new-inside")
    finally:
        os.chmod(project, 0o755)
