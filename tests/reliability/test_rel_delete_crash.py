"""SIGKILL during "delete branch": a 320-turn branch is deleted by a child process that is killed at exact
steps (fault-injection pauses) and at random moments.  After the next open (recovery) the files in
``images/`` are exactly the ones the index records, no blob is orphaned or missing, and the branch is
either wholly there or wholly gone."""

from __future__ import annotations

import io
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image
from rel_common import child_env

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore

BRANCH = 320

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from banana_studio.store import ProjectStore

    s = ProjectStore.open_path(Path(sys.argv[1]))
    print("ready", flush=True)
    n = s.delete_branch(int(sys.argv[2]))
    print("deleted", n, flush=True)
    s.close()
    """
)


def _jpeg(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project: a kept root turn #1, and under it a 320-turn chain (#2…) with finals and drafts."""
    root = tmp_path_factory.mktemp("delete-template")
    with ProjectStore.open(root, "p") as s:
        keep = s.create_turn(None, "kept", GenerationSettings(), [], user_content("kept"))
        s.complete_turn(keep.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=_jpeg(0))]),
                        status="done")
        parent = keep.id
        for i in range(1, BRANCH + 1):
            t = s.create_turn(parent, f"step {i}", GenerationSettings(), [], user_content(f"step {i}"))
            parts = [Part(mime_type="image/jpeg", data=_jpeg(i))]
            if i % 2:
                parts.insert(0, Part(mime_type="image/jpeg", data=_jpeg(i + 1000), thought=True))
            s.complete_turn(t.id, model_content=Content("model", parts), status="done")
            s.thumbnail(s.get_turn(t.id).final_images[0], 64)
            parent = t.id
    return root / "p"


def _invariant(project: Path) -> str:
    """Assert the project is whole after recovery; returns 'kept' or 'deleted' for the branch."""
    with ProjectStore.open_path(project) as store:  # recovery runs here
        assert store.get_turn(1).status == "done"
    conn = sqlite3.connect(f"file:{project / 'project.db'}?mode=ro", uri=True)
    try:
        n_turns = conn.execute("SELECT count(*) FROM turns").fetchone()[0]
        recorded = {r[0] for r in conn.execute("SELECT path FROM images")}
        shas = {r[0] for r in conn.execute("SELECT sha256 FROM turn_blobs")}
        journal = conn.execute("SELECT count(*) FROM pending_deletions").fetchone()[0] if conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'pending_deletions'").fetchone() else 0
    finally:
        conn.close()
    on_disk = {p.relative_to(project).as_posix() for p in (project / "images").rglob("*") if p.is_file()}
    assert on_disk == recorded, (sorted(on_disk - recorded)[:5], sorted(recorded - on_disk)[:5])
    blobs = {p.parent.name + p.name for p in (project / "blobs").rglob("*") if p.is_file()}
    assert blobs == shas, (len(blobs - shas), len(shas - blobs))
    assert journal == 0
    assert n_turns in (1, BRANCH + 1), n_turns
    return "deleted" if n_turns == 1 else "kept"


def _spawn(project: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CHILD, str(project), "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=child_env(project.parent, **env))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def _copy(template: Path, tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name / "p"
    shutil.copytree(template, dest)
    return dest


def _wait_flag(flag: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if flag.exists() and flag.read_text():
            return flag.read_text()
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"child finished without reaching the pause point: {out!r} {err[-800:]!r}")
        time.sleep(0.01)
    raise AssertionError("pause point not reached")


_RNG = random.Random(11)
_STEPS = ["delete.committed", "delete.unlink.0", *(f"delete.unlink.{_RNG.randrange(1, 900)}" for _ in range(3)),
          "delete.finalize"]


@pytest.mark.parametrize("step", _STEPS)
def test_sigkill_at_each_step_of_delete_branch(step: str, template: Path, tmp_path: Path) -> None:
    project = _copy(template, tmp_path, step)
    flag = tmp_path / "paused"
    proc = _spawn(project, BANANA_STUDIO_TEST_PAUSE_AT=step, BANANA_STUDIO_TEST_PAUSE_FILE=str(flag))
    try:
        assert _wait_flag(flag, proc) == step
    finally:
        _kill(proc)
    assert proc.returncode == -signal.SIGKILL
    assert _invariant(project) == "deleted"  # past the commit, recovery finishes the deletion


def test_sigkill_at_random_moments_of_delete_branch(template: Path, tmp_path: Path) -> None:
    rng = random.Random(2026)
    outcomes = []
    for run in range(5):
        project = _copy(template, tmp_path, f"run{run}")
        proc = _spawn(project)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == b"ready"
            time.sleep(rng.uniform(0.0, 0.25))  # a random kill point, not a synchronisation
        finally:
            _kill(proc)
        outcomes.append(_invariant(project))
    assert set(outcomes) <= {"kept", "deleted"}


def test_uninterrupted_delete_branch_leaves_exactly_the_record(template: Path, tmp_path: Path) -> None:
    project = _copy(template, tmp_path, "whole")
    proc = _spawn(project)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split()[-1] == str(BRANCH).encode()
    assert _invariant(project) == "deleted"
    assert sorted(p.name for p in (project / "images").rglob("*") if p.is_file()) == ["0001-kept.jpg"]


def test_recovery_keeps_a_journalled_file_that_is_on_record_again(tmp_path: Path) -> None:
    """A blob re-used by a newer turn after the killed deletion committed must survive recovery."""
    from banana_studio.store import deletion

    with ProjectStore.open(tmp_path, "p") as s:
        t = s.create_turn(None, "x", GenerationSettings(), [], user_content("x"))
        s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=_jpeg(5))]),
                        status="done")
        im = s.get_turn(t.id).final_images[0]
        with s._tx() as c:
            deletion.journal(c, [(f"blobs/{im.sha256[:2]}/{im.sha256[2:]}", "blob", im.sha256),
                                 (im.path, "image", im.sha256), ("images/0099-gone.jpg", "image", "")])
        (tmp_path / "p" / "images" / "0099-gone.jpg").write_bytes(_jpeg(6))
    with ProjectStore.open(tmp_path, "p") as s:
        assert s.abs_path(im.path).is_file() and s.blob_bytes(im.sha256)
    assert not (tmp_path / "p" / "images" / "0099-gone.jpg").exists()
    _invariant_files = {p.name for p in (tmp_path / "p" / "images").rglob("*") if p.is_file()}
    assert _invariant_files == {Path(im.path).name}
