"""Crash safety: SIGKILL a real ``banana-studio gen`` process while it streams and while it writes the
final image, then open the project: consistent, the turn marked interrupted, no half-written image
visible, and retrying the turn works."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rel_common import KEY, check_project, child_env, png_bytes, temp_files

from banana_studio.config import Config
from banana_studio.domain.events import TurnSaved
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import Studio
from banana_studio.store import ProjectStore


def wait_for(pred: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        if proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"child exited early ({proc.returncode}): {err.decode()[-2000:]}")
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def db_rows(project: Path, sql: str) -> list[tuple]:
    db = project / "project.db"
    if not db.exists():
        return []
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []


def spawn_gen(tmp_path: Path, prompt: str, *, demo: bool, env_extra: dict[str, str],
              extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "banana_studio", "gen", prompt, "--project-dir", str(tmp_path / "projects"),
           "--project", "crash", *extra]
    if demo:
        cmd.append("--demo")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(tmp_path, **env_extra))


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL


async def retry_in_process(fake: FakeGemini, project: Path, turn_id: int,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    studio = Studio.open(Config(base_url=fake.base_url, retry_attempts=1), project=project.name,
                         project_dir=project.parent)
    try:
        assert studio.store.recovered == []  # already recovered by the first open
        events = [ev async for ev in studio.generate(studio.retry(turn_id))]
        saved = events[-1]
        assert isinstance(saved, TurnSaved) and saved.turn.status == "done", saved
        old = studio.store.get_turn(turn_id)
        assert saved.turn.prompt == old.prompt and saved.turn.parent_id == old.parent_id
        assert len(saved.turn.final_images) == 1
        assert [r.sha256 for r in saved.turn.references] == [r.sha256 for r in old.references]
        sent = [r for r in fake.requests if "enerateContent" in r.path][-1].body["contents"][-1]["parts"]
        assert sum(1 for p in sent if "inlineData" in p or "inline_data" in p) == len(old.references)
        assert studio.store.abs_path(saved.turn.final_images[0].path).is_file()
    finally:
        await studio.aclose()
    check_project(project, turns=2)


async def test_sigkill_gen_demo_while_streaming(tmp_path: Path, fake: FakeGemini, iso_env: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "projects" / "crash"
    ref = tmp_path / "boat.png"
    ref.write_bytes(png_bytes((80, 60), "navy"))
    proc = spawn_gen(tmp_path, "a lighthouse in a storm", demo=True, env_extra={}, extra=("--ref", str(ref)))
    try:
        # Kill once the answer is streaming: the turn is running and a draft is already on disk.
        wait_for(lambda: db_rows(project, "SELECT status FROM turns") == [("running",)]
                 and bool(db_rows(project, "SELECT 1 FROM images WHERE kind = 'draft'")), proc)
        assert db_rows(project, "SELECT count(*) FROM images WHERE kind = 'final'") == [(0,)]
    finally:
        kill(proc)
    with ProjectStore.open_path(project) as store:
        assert store.recovered == [1]
        turn = store.get_turn(1)
        assert turn.status == "interrupted" and turn.error_kind == "interrupted" and turn.error
        assert turn.final_images == [] and turn.draft_images  # drafts that were saved stay viewable
        assert len(turn.references) == 1 and store.reference_bytes(turn.references[0]) == ref.read_bytes()
    check_project(project, turns=1)
    assert [p.name for p in (project / "images").glob("*.*")] == []  # no final image file
    await retry_in_process(fake, project, 1, monkeypatch)


async def test_sigkill_gen_while_writing_final_image(tmp_path: Path, fake: FakeGemini, iso_env: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "projects" / "crash"
    proc = spawn_gen(tmp_path, "a red bicycle", demo=False, env_extra={
        "GOOGLE_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": fake.base_url,
        # store hook: sleep half-way through writing the final image file (images/0001-...)
        "BANANA_STUDIO_TEST_WRITE_DELAY": "600", "BANANA_STUDIO_TEST_WRITE_MATCH": "images/0001-",
        "BANANA_STUDIO_TEST_WRITE_READY": str(tmp_path / "paused-mid-write")})
    try:
        wait_for((tmp_path / "paused-mid-write").exists, proc, timeout=120)  # the hook paused half-way
        half = [p for p in temp_files(project) if "0001-" in p.name]
        assert half and half[0].stat().st_size > 0  # really mid-write
    finally:
        kill(proc)
    assert temp_files(project)  # the half-written file was left behind by the killed process...
    with ProjectStore.open_path(project) as store:
        assert store.recovered == [1]
        turn = store.get_turn(1)
        assert turn.status == "interrupted" and turn.final_images == []
    check_project(project, turns=1)  # ...and is gone after open; no partial image visible anywhere
    assert list((project / "images").glob("0001-*")) == []
    await retry_in_process(fake, project, 1, monkeypatch)


async def test_sigkill_gen_while_request_hangs(tmp_path: Path, fake: FakeGemini, iso_env: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed before any answer arrived (turn still pending): interrupted too, nothing else written."""
    project = tmp_path / "projects" / "crash"
    fake.inject("hang", seconds=30)
    proc = spawn_gen(tmp_path, "a quiet pond", demo=False,
                     env_extra={"GOOGLE_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": fake.base_url})
    try:
        wait_for(lambda: any(":streamGenerateContent" in r.path for r in fake.requests), proc)
        assert db_rows(project, "SELECT status FROM turns") == [("pending",)]
    finally:
        kill(proc)
    with ProjectStore.open_path(project) as store:
        assert store.recovered == [1] and store.get_turn(1).status == "interrupted"
    check_project(project, turns=1)
    fake.clear_faults()
    await retry_in_process(fake, project, 1, monkeypatch)


def test_sigkill_the_studio_tui_while_streaming(tmp_path: Path) -> None:
    """The real studio in a pseudo-terminal: type a prompt, send it, SIGKILL the process while the answer
    streams, then open the project: the turn is interrupted and nothing half-written is visible."""
    import os
    import pty
    import threading

    project = tmp_path / "projects" / "tui"
    master, slave = pty.openpty()
    env = child_env(tmp_path, BANANA_STUDIO_IMAGE_PROTOCOL="halfcell", TERM="xterm-256color", COLUMNS="120",
                    LINES="40")
    proc = subprocess.Popen([sys.executable, "-m", "banana_studio", "--demo", "--project-dir",
                             str(tmp_path / "projects"), "--project", "tui"],
                            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    screen = bytearray()
    stop = threading.Event()

    def drain() -> None:  # keep the pty flowing (and keep what was drawn, for diagnostics)
        while not stop.is_set():
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            screen.extend(data[-4096:])

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        wait_for(lambda: (project / "project.db").exists() and b"Send" in screen, proc, timeout=30)
        time.sleep(0.5)
        os.write(master, b"a lighthouse in a storm")
        time.sleep(0.3)
        os.write(master, b"\n")  # ctrl+j = send
        wait_for(lambda: db_rows(project, "SELECT status FROM turns") == [("running",)], proc, timeout=30)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        os.close(master)
    assert proc.returncode == -signal.SIGKILL
    with ProjectStore.open_path(project) as store:
        assert store.recovered == [1]
        turn = store.get_turn(1)
        assert turn.status == "interrupted" and turn.prompt == "a lighthouse in a storm" and turn.final_images == []
    check_project(project, turns=1)


def test_sigkill_between_image_rename_and_commit_leaves_no_orphan(tmp_path: Path) -> None:
    """Killed after the first of two final images was renamed into images/ but before the turn's row
    was committed: on open the turn is interrupted and that complete-but-unrecorded file is gone."""
    code = textwrap.dedent(
        """
        import io, sys
        from pathlib import Path
        from PIL import Image
        from banana_studio.store import ProjectStore
        from banana_studio.domain.content import Content, Part, user_content
        from banana_studio.domain.settings import GenerationSettings

        def jpeg(c):
            b = io.BytesIO(); Image.new("RGB", (32, 32), c).save(b, format="JPEG"); return b.getvalue()

        s = ProjectStore.open(Path(sys.argv[1]), "p")
        t = s.create_turn(None, "a cat", GenerationSettings(), [], user_content("a cat"))
        s.save_draft(t.id, jpeg("gray"), "image/jpeg", 0)
        print(t.id, flush=True)
        mc = Content("model", [Part(mime_type="image/jpeg", data=jpeg("gray"), thought=True),
                               Part(mime_type="image/jpeg", data=jpeg("red"), thought_signature=b"s"),
                               Part(mime_type="image/jpeg", data=jpeg("blue"))])
        s.complete_turn(t.id, model_content=mc, status="done")
        """
    )
    ready = tmp_path / "paused-mid-write"
    env = child_env(tmp_path, BANANA_STUDIO_TEST_WRITE_DELAY="600",
                    BANANA_STUDIO_TEST_WRITE_MATCH="images/0001-a-cat-2",
                    BANANA_STUDIO_TEST_WRITE_READY=str(ready))
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    project = tmp_path / "p"
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"1"
        wait_for(ready.exists, proc, timeout=120)  # the store hook paused half-way through that file
        assert "0001-a-cat-2" in ready.read_text()
        assert (project / "images" / "0001-a-cat.jpg").is_file()  # the first final is complete and visible
    finally:
        kill(proc)
    with ProjectStore.open_path(project) as store:
        assert store.recovered == [1]
        turn = store.get_turn(1)
        assert turn.status == "interrupted" and turn.final_images == [] and len(turn.draft_images) == 1
    check_project(project, turns=1)
    assert not (project / "images" / "0001-a-cat.jpg").exists()
    assert (project / "images" / "drafts" / "0001-d1.jpg").is_file()  # the recorded draft is kept
