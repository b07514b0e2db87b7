"""Helpers shared by the performance benchmarks (Task F): an out-of-process fake Gemini server,
peak-RSS readers from /proc, alternating A/B timing and small statistics.

Only stdlib here (plus ``banana_studio`` inside the child server process).
"""

from __future__ import annotations

import os
import resource
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

_SERVER_CODE = """
import sys
from banana_studio.fakeserver import FakeGemini
from banana_studio.fakeserver import handler as _handler
if sys.argv[2] == "1":
    # Each SSE event is a separate small write; without TCP_NODELAY, Nagle + the client's delayed ACK
    # add ~40 ms stalls at random (a loopback artefact the real API does not show).
    _handler.Handler.disable_nagle_algorithm = True
srv = FakeGemini(port=0, latency=float(sys.argv[1]), small=sys.argv[3] == "1").start()
print(srv.base_url, flush=True)
sys.stdin.read()   # serve until the parent closes our stdin
srv.stop()
"""


class ServerProcess:
    """``FakeGemini`` in its own process, so its image rendering/encoding never shares the GIL with
    the client being measured (as with the real API).  ``with ServerProcess() as srv: srv.base_url``.

    Answers are real-sized (0.5-2.5 MB signatures, ~1 MB 1K / ~8 MB 4K JPEGs, full drafts) unless
    ``small`` or the environment variable ``BENCH_SMALL=1`` asks for the old small ones."""

    def __init__(self, latency: float = 0.0, nodelay: bool = True, small: bool | None = None) -> None:
        self.small = os.environ.get("BENCH_SMALL", "") == "1" if small is None else small
        self.latency = latency
        self.nodelay = nodelay
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> ServerProcess:
        args = [PY, "-c", _SERVER_CODE, str(self.latency), "1" if self.nodelay else "0", "1" if self.small else "0"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"fake server did not start: {self.base_url!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb(pid: int | None = None) -> float:
    """Current resident set size (VmRSS) of ``pid`` (default: this process), in MB."""
    status = Path(f"/proc/{pid or os.getpid()}/status")
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def hwm_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of another process, in MB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def alternate(a: Callable[[], float], b: Callable[[], float], runs: int) -> tuple[list[float], list[float]]:
    """Run ``a`` and ``b`` alternately (ABBA order so neither always goes first); each returns its
    own measured duration.  Returns the two lists of durations."""
    ra: list[float] = []
    rb: list[float] = []
    for i in range(runs):
        if i % 2 == 0:
            ra.append(a())
            rb.append(b())
        else:
            rb.append(b())
            ra.append(a())
    return ra, rb


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    """min–max of a sample, for the tables."""
    if not values:
        return "-"
    return f"{min(values):.1f}–{max(values):.1f}"


def now_ms() -> float:
    return time.perf_counter() * 1000.0


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def env_with(**extra: Any) -> dict[str, str]:
    env = dict(os.environ)
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Tmux:
    """A private tmux server (own socket) whose windows run the apps being measured."""

    POLL_S = 0.008
    TIMEOUT_S = 30.0

    def __init__(self, width: int = 120, height: int = 40) -> None:
        self.socket = f"bench-{os.getpid()}"
        self.width, self.height = width, height

    def cmd(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null", *args], check=True,
                              capture_output=True, text=True).stdout

    def __enter__(self) -> Tmux:
        self.cmd("new-session", "-d", "-s", "bench", "-x", str(self.width), "-y", str(self.height), "sleep 100000")
        self.cmd("set-option", "-g", "remain-on-exit", "off")
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)

    def launch(self, command: list[str]) -> tuple[str, int]:
        """Start ``command`` in a new window; returns (pane id, pid of the pane's process)."""
        out = self.cmd("new-window", "-d", "-P", "-F", "#{pane_id} #{pane_pid}", "-t", "bench:", shlex.join(command))
        pane, pid = out.split()
        return pane, int(pid)

    def screen(self, pane: str) -> str:
        return self.cmd("capture-pane", "-p", "-t", pane)

    def wait_for(self, pane: str, markers: tuple[str, ...], t0: float, timeout: float | None = None) -> str:
        """Poll until every marker is on screen; returns the screen text."""
        limit = self.TIMEOUT_S if timeout is None else timeout
        while True:
            screen = self.screen(pane)
            if all(m in screen for m in markers):
                return screen
            if time.perf_counter() - t0 > limit:
                raise RuntimeError(f"markers {markers} not on screen after {limit:.0f} s; screen:\n{screen}")
            time.sleep(self.POLL_S)

    def kill(self, pane: str) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-pane", "-t", pane], capture_output=True)
        time.sleep(0.3)  # let the killed app exit before the next launch

    def first_paint(self, command: list[str], markers: tuple[str, ...],
                    complete: tuple[str, ...] = ()) -> tuple[float, float, str, float]:
        """Launch ``command`` in a new window; return (seconds until all markers are on screen, wall
        clock time of that moment, the screen text, CPU seconds the app had used by then).  With
        ``complete``, :attr:`last_complete` is then set to the seconds until those are on screen too."""
        t0 = time.perf_counter()
        pane, pid = self.launch(command)
        try:
            screen = self.wait_for(pane, markers, t0)
            result = time.perf_counter() - t0, time.time(), screen, cpu_seconds(pid)
            if complete:
                self.wait_for(pane, markers + complete, t0)
                self.last_complete = time.perf_counter() - t0
            return result
        finally:
            self.kill(pane)

    last_complete: float = 0.0


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (clock-tick resolution), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
