"""The C allocator gives big answer buffers back (``malloc_tuning``): a process that passes real-sized
buffers through, with small long-lived allocations in between, ends near where it started."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CODE = r"""
import sys
from banana_studio.malloc_tuning import tune_malloc

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

tuned = tune_malloc()
first = b"x" * (16 << 20)  # one big answer freed: glibc would now serve the next ones from its heap
del first
base = rss_mb()
keep, bufs = [], []
for i in range(20):  # answer-sized buffers, each followed by a small block that outlives it
    bufs.append(b"y" * (8 << 20))
    keep.append(bytearray(2000))
bufs.clear()
print(tuned, round(rss_mb() - base))
"""


def _run(env_extra: dict[str, str]) -> tuple[bool, int]:
    env = {**os.environ, **env_extra}
    env.pop("GLIBC_TUNABLES", None)
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    tuned, grown = out.stdout.split()
    return tuned == "True", int(grown)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator (Linux)")
def test_freed_answer_buffers_go_back_to_the_system() -> None:
    untuned, kept = _run({"BANANA_STUDIO_MALLOC": "default"})
    assert not untuned
    if kept < 100:
        pytest.skip(f"this C library gives the buffers back by itself (kept {kept} MB)")
    tuned, grown = _run({"BANANA_STUDIO_MALLOC": ""})
    assert tuned
    assert grown < 40, f"160 MB of freed buffers, {grown} MB still held (untuned: {kept} MB)"


def test_the_entry_point_tunes_the_allocator_first() -> None:
    code = ("import sys; from banana_studio.cli import main as m; import banana_studio.malloc_tuning as t; "
            "sys.argv=['banana-studio', '--version']\ntry:\n    m.main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print(t._done)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "BANANA_STUDIO_MALLOC": ""})
    assert out.stdout.strip().splitlines()[-1] == ("True" if sys.platform.startswith("linux") else "False")
