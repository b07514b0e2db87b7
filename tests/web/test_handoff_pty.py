"""The hand-off as a terminal receives it: the real studio in a pseudo-terminal, every byte it writes
kept.  ``H`` must put the gallery link on the clipboard (an OSC 52 sequence carrying exactly the
link), draw it as an OSC 8 hyperlink and show the ssh line from ``SSH_CONNECTION``; the link must
then serve the turn; ``y`` must send the scp command through OSC 52."""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

_CSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>78]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")
_OSC52 = re.compile(rb"\x1b\]52;c;([A-Za-z0-9+/=]*)\x07")


class Pty:
    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import pty

        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
        os.close(slave)
        self.raw = bytearray()
        self._lock = threading.Lock()
        threading.Thread(target=self._drain, daemon=True).start()

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

    def bytes(self) -> bytes:
        with self._lock:
            return bytes(self.raw)

    def text(self) -> str:
        return _CSI.sub(b"", self.bytes()).decode("utf-8", "replace")

    def clipboard(self) -> list[str]:
        return [base64.b64decode(m).decode() for m in _OSC52.findall(self.bytes())]

    def wait(self, pred: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the studio exited ({self.proc.returncode}) waiting for {what}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}: {self.text()[-1500:]!r}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        os.close(self.master)


def test_H_and_y_in_a_real_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GEMINI_"))}
    env.update({"BANANA_STUDIO_DATA_DIR": str(tmp_path / "data"), "BANANA_STUDIO_CONFIG": str(tmp_path / "c.toml"),
                "BANANA_STUDIO_CACHE_DIR": str(tmp_path / "cache"), "BANANA_STUDIO_LOG_DIR": str(tmp_path / "log"),
                "BANANA_STUDIO_IMAGE_PROTOCOL": "halfcell", "TERM": "xterm-256color", "COLUMNS": "150",
                "LINES": "50", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "BANANA_STUDIO_DEMO_LATENCY": "0",
                "SSH_CONNECTION": "203.0.113.9 50022 198.51.100.7 22", "LOGNAME": "ana"})
    subprocess.run([sys.executable, "-m", "banana_studio", "gen", "--demo", "--quiet", "--yes", "-p", "demo",
                    "a red fox"], env=env, check=True, capture_output=True, timeout=300)
    image = next((tmp_path / "data" / "projects-demo" / "demo" / "images").glob("0001-*"))
    term = Pty([sys.executable, "-m", "banana_studio", "--demo", "-p", "demo"], env)
    try:
        term.wait(lambda: "Send" in term.text() and "a red fox" in term.text(), "the studio with its turn")
        # Esc leaves the prompt (focus goes to the tree, the footer shows its keys); only then H, so the two
        # bytes are never read together as Alt+H
        start = len(term.bytes())
        os.write(term.master, b"\x1b")
        term.wait(lambda: "Prev sibling" in _CSI.sub(b"", term.bytes()[start:]).decode("utf-8", "replace"),
                  "the tree's keys in the footer")
        os.write(term.master, b"H")
        term.wait(lambda: "Hand-off" in term.text() and term.clipboard(), "the hand-off screen")
        url = term.clipboard()[-1]
        m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/([A-Za-z0-9_-]{32})/p/demo/t/1", url)
        assert m is not None, url
        port = m.group(1)
        raw = term.bytes()
        assert re.search(rb"\x1b\]8;id=[^;]*;" + re.escape(url.encode()) + rb"\x1b\\", raw), "no OSC 8 link"
        assert f"ssh -L {port}:127.0.0.1:{port} ana@198.51.100.7" in term.text()
        page = urllib.request.urlopen(url, timeout=30).read().decode()
        assert "a red fox" in page and image.name in page

        os.write(term.master, b"y")
        term.wait(lambda: term.clipboard()[-1].startswith("scp "), "the scp command on the clipboard")
        assert term.clipboard()[-1] == f"scp -p ana@198.51.100.7:{image} ."
    finally:
        term.close()


class ClipboardTerminal(Pty):
    """A terminal that knows kitty's clipboard protocol: it answers the mode query (DECRQM 5522, then
    DA1) and acknowledges every clipboard write, as kitty does."""

    def _drain(self) -> None:
        seen = 0
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                raw = bytes(self.raw) + data
            # answer first, then let the test see the bytes: whatever it types next comes after the answer
            if b"\x1b[?5522$p" in raw[max(0, seen - 16):]:
                os.write(self.master, b"\x1b[?5522;2$y\x1b[?62;22c")
            if raw.count(b"\x1b]5522;type=wdata\x1b\\") > raw[:seen].count(b"\x1b]5522;type=wdata\x1b\\"):
                os.write(self.master, b"\x1b]5522;type=write:status=DONE\x1b\\")
            with self._lock:
                self.raw.extend(data)
            seen = len(raw)

    def clipboard_images(self) -> list[dict[str, bytes]]:
        out = []
        for entry in re.findall(rb"\x1b\]5522;type=write\x1b\\(.*?)\x1b\]5522;type=wdata\x1b\\", self.bytes(), re.S):
            data: dict[str, bytes] = {}
            for mime, chunk in re.findall(rb"\x1b\]5522;type=wdata:mime=([A-Za-z0-9+/=]+);([A-Za-z0-9+/=]*)\x1b\\",
                                          entry):
                key = base64.b64decode(mime).decode()
                data[key] = data.get(key, b"") + base64.b64decode(chunk)
            out.append(data)
        return out


def test_y_copies_the_image_itself_on_a_terminal_that_says_it_can(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_", "GEMINI_", "TMUX"))}
    env.update({"BANANA_STUDIO_DATA_DIR": str(tmp_path / "data"), "BANANA_STUDIO_CONFIG": str(tmp_path / "c.toml"),
                "BANANA_STUDIO_CACHE_DIR": str(tmp_path / "cache"), "BANANA_STUDIO_LOG_DIR": str(tmp_path / "log"),
                "BANANA_STUDIO_IMAGE_PROTOCOL": "halfcell", "TERM": "xterm-256color", "COLUMNS": "150",
                "LINES": "50", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "BANANA_STUDIO_DEMO_LATENCY": "0",
                "SSH_CONNECTION": "203.0.113.9 50022 198.51.100.7 22", "LOGNAME": "ana"})
    subprocess.run([sys.executable, "-m", "banana_studio", "gen", "--demo", "--quiet", "--yes", "-p", "demo",
                    "a red fox"], env=env, check=True, capture_output=True, timeout=300)
    image = next((tmp_path / "data" / "projects-demo" / "demo" / "images").glob("0001-*"))
    term = ClipboardTerminal([sys.executable, "-m", "banana_studio", "--demo", "-p", "demo"], env)
    try:
        term.wait(lambda: "Send" in term.text() and "a red fox" in term.text(), "the studio with its turn")
        start = len(term.bytes())
        os.write(term.master, b"\x1b")
        term.wait(lambda: "Prev sibling" in _CSI.sub(b"", term.bytes()[start:]).decode("utf-8", "replace"),
                  "the tree's keys in the footer")
        os.write(term.master, b"y")
        term.wait(lambda: bool(term.clipboard_images()), "the image on the clipboard")
        entry = term.clipboard_images()[0]
        assert entry == {"image/jpeg": image.read_bytes(),
                         "text/plain": f"scp -p ana@198.51.100.7:{image} .".encode()}
        assert not term.clipboard()  # not the OSC 52 text copy as well
        # The terminal's "status=DONE" answer is not read as keys ("y" among them would copy again):
        # H, pressed after it, is the next thing the studio acts on.
        os.write(term.master, b"H")
        term.wait(lambda: "Hand-off" in term.text() and term.clipboard(), "the hand-off screen")
        assert len(term.clipboard_images()) == 1 and "status=DONE" not in term.text()
    finally:
        term.close()
