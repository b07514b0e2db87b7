"""Terminal injection through the real studio (issue 11).

The studio runs in a pseudo-terminal and EVERY byte it writes is kept.  One hostile string sits in a
stored prompt, label, error, thoughts, answer, finish message and grounding of an old turn, in the
recipe embedded in its image, in a project folder name, and comes from the local server as new
thoughts/answer/finish message/grounding (fault ``hostile_text``).  The studio is driven through the
tree, turn detail, thinking log, gallery, project picker, command palette and help; then the raw
output must hold none of the payload's distinctive sequences (the studio's own escape sequences —
cursor moves, colours — are of course there).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rel_common import child_env, jpeg_bytes

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.safetext import valid_text
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver.hostile import HOSTILE
from banana_studio.store import ProjectStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

STORED = valid_text(HOSTILE)  # what a store can hold (the lone surrogate made valid on the way in)
RAW_MARKERS = (b"\x1b]52;c;SGFja2Vk", b"\x1b]0;EVIL", b"\x07\x1b[2J", b"\x1b]8;;http://evil", b"\xc2\x9b",
               b"\x9b31m", "\u202e".encode(), "\u202c".encode())
"""Sequences only the hostile payload can produce raw (its OSCs, its 'BEL ESC[2J', C1 CSI, bidi)."""
_CSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def _prepare(root: Path) -> None:
    with ProjectStore.open(root, "evil") as store:
        s = GenerationSettings()
        t1 = store.create_turn(None, f"a lighthouse {STORED}", s, [], user_content(f"a lighthouse {STORED}"))
        store.save_draft(t1.id, jpeg_bytes(color="gray"), "image/jpeg", 0)
        model = Content("model", [Part(text=f"**Plan** {STORED}", thought=True),
                                  Part(mime_type="image/jpeg", data=jpeg_bytes(), thought_signature=b"sig"),
                                  Part(text=f"Answer {STORED}")])
        grounding = {"queries": [f"q {STORED}"], "sources": [{"title": f"t {STORED}", "uri": f"https://x/{STORED}"}],
                     "rendered_content": ""}
        store.complete_turn(t1.id, model_content=model, status="done", finish_reason="STOP",
                            finish_message=f"finish {STORED}", grounding=grounding, model_version=f"m{STORED}")
        store.set_label(t1.id, f"label {STORED}")
        t2 = store.create_turn(t1.id, f"night {STORED}", s, [], user_content(f"night {STORED}"))
        store.set_status(t2.id, "failed", error=f"error {STORED}", error_kind="server")
    shutil.copytree(root / "evil", root / ("folder" + STORED.replace("/", "|")))


class Terminal:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.raw.extend(data)

    def text(self, since: int = 0) -> str:
        with self._lock:
            data = bytes(self.raw[since:])
        return _CSI.sub(b"", data).decode("utf-8", "replace")

    def mark(self) -> int:
        with self._lock:
            return len(self.raw)

    def wait(self, pred: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the studio exited ({self.proc.returncode}) waiting for {what}: "
                                     f"{self.text()[-1500:]}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {self.text()[-1500:]!r}")

    def show(self, keys: bytes, marker: str, what: str) -> None:
        """Press ``keys`` and wait until ``marker`` is drawn after them."""
        start = self.mark()
        os.write(self.master, keys)
        if keys == b"\x1b":
            # A lone ESC is told apart from the start of an escape sequence only by the terminal parser's
            # pause (a property of the terminal protocol, not of the app): let it pass before the next key.
            time.sleep(0.3)
        self.wait(lambda: marker in self.text(start), what)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        os.close(self.master)


def _statuses(project: Path) -> list[str]:
    if not (project / "project.db").exists():
        return []
    conn = sqlite3.connect(project / "project.db")
    try:
        return [r[0] for r in conn.execute("SELECT status FROM turns ORDER BY id")]
    finally:
        conn.close()


def test_the_studio_never_writes_hostile_text_raw_to_the_terminal(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    _prepare(root)
    env = child_env(tmp_path, BANANA_STUDIO_IMAGE_PROTOCOL="halfcell", TERM="xterm-256color", COLUMNS="150",
                    LINES="50", LANG="C.UTF-8", LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8",
                    BANANA_STUDIO_DEMO_LATENCY="0")
    term = Terminal([sys.executable, "-m", "banana_studio", "--demo", "--project-dir", str(root), "--project",
                     "evil"], env)
    try:
        # demo mode on a project with real-looking turns asks first; add the demo turns here
        term.wait(lambda: "Add demo turns here" in term.text(), "the demo-into-a-real-project question")
        os.write(term.master, b"y")
        term.wait(lambda: "Send" in term.text() and "night" in term.text(), "the studio with its tree")
        # a new generation whose thoughts, answer, finish message and grounding are hostile (the prompt
        # has the focus at start)
        term.show(b"\x0e", "new", "a new thread")  # ctrl+n (the stored turns carry made-up signatures)
        os.write(term.master, b"a ship [fault:hostile_text]")
        term.wait(lambda: "a ship" in term.text(), "the typed prompt")
        os.write(term.master, b"\n")  # ctrl+j = send
        term.wait(lambda: _statuses(root / "evil") == ["done", "failed", "done"], "the hostile generation")
        term.wait(lambda: "Thinking" in term.text(), "the thinking log with the hostile thought")
        # the prompt history: ↑ recalls an earlier (hostile) prompt into the editor
        os.write(term.master, b"\x1bOQ")  # F2: the prompt has the focus for the recall
        start = term.mark()
        for _ in range(8):  # ↑ walks back through the session's and the project's prompts
            os.write(term.master, b"\x1b[A")
            try:
                term.wait(lambda: "night" in term.text(start), "a recalled prompt", timeout=5.0)
                break
            except AssertionError:
                continue
        assert "night" in term.text(start), "the stored hostile prompt was never recalled"
        term.show(b"\x1b", "", "leave the prompt")
        # the tree → turn detail of the old turns (prompt, label, error, thoughts, finish, grounding)
        term.show(b"\x1bOR", "", "focus the tree")  # F3
        term.show(b"\x1b[A\x1b[A", "label", "the old done turn")
        term.show(b"L", "", "log / detail")
        term.show(b"L", "", "detail / log")
        term.show(b"\x07", "tag:hero", "the gallery")  # ctrl+g (the search box shows an example query)
        term.show(b"\x1b", "Send", "back from the gallery")
        term.show(b"\x0f", "Filter projects", "the project picker")  # ctrl+o
        term.wait(lambda: "folder" in term.text(), "the hostile folder name in the picker")
        term.show(b"\x1b", "Send", "back from the picker")
        term.show(b"\x10", "Search", "the command palette")  # ctrl+p
        term.show(b"\x1b", "Send", "back from the palette")
    finally:
        term.close()
    raw = bytes(term.raw)
    leaks = [m for m in RAW_MARKERS if m in raw]
    assert leaks == [], [(m, raw[max(0, raw.find(m) - 80): raw.find(m) + 80]) for m in leaks]
    shown = term.text()
    assert "␛]52;c;SGFja2Vk" in shown or "␛]0;EVIL" in shown  # the payload was drawn, made visible
    assert "Traceback" not in shown


def test_notifications_never_parse_markup_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """``[@click=app.quit]`` in a server message must stay text, whoever calls notify (widgets pass
    Textual's ``markup=True`` default through)."""
    from textual.app import App

    from banana_studio.tui.app import StudioApp

    seen: list[bool] = []
    monkeypatch.setattr(App, "notify", lambda self, message, **kw: seen.append(kw["markup"]))
    app = StudioApp.__new__(StudioApp)
    app.notify("[@click=app.quit]Click me[/]", title="Generation failed", markup=True)
    assert seen == [False]
