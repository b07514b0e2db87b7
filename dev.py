#!/usr/bin/env python3
"""One-command bootstrap for Banana Studio (needs only Python 3.11+).

    python3 dev.py studio [ARGS...]   install into ./.venv (first run) and start the studio
    python3 dev.py test [PYTEST ARGS] install into ./.venv (first run), run ruff and the test suite
    python3 dev.py bench [NAME]       install, then run the benchmarks in benchmarks/

The virtual environment is re-synced whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("BANANA_STUDIO_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def ensure_env() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may run on an old interpreter
        sys.exit(f"Banana Studio needs Python 3.11 or newer (this is {sys.version.split()[0]}).")
    if not PY.exists():
        print(f"Creating virtual environment in {VENV} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".banana-studio-installed"
    if not stamp.exists() or stamp.read_text().strip() != digest:
        print("Installing Banana Studio and its dependencies ...", file=sys.stderr)
        subprocess.run([str(PY), "-m", "pip", "install", "-q", "--upgrade", "pip"], check=True)
        subprocess.run([str(PY), "-m", "pip", "install", "-q", "-e", f"{ROOT}[test]"], check=True)
        stamp.write_text(digest)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    ensure_env()
    if cmd == "studio":
        return subprocess.call([str(BIN / "banana-studio"), *rest])
    if cmd == "test":
        lint = subprocess.call([str(PY), "-m", "ruff", "check", "src", "tests", "benchmarks", "scripts", "dev.py"],
                               cwd=ROOT)
        if lint != 0:
            print("ruff found problems (see above).", file=sys.stderr)
            return lint
        rc = subprocess.call([str(PY), "-m", "pytest", "-n", "2", *rest], cwd=ROOT)
        if rc == 5:
            print("pytest collected no tests: treating that as a failure.", file=sys.stderr)
            return 1
        return rc
    if cmd == "bench":
        scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
        if rest:
            scripts = [s for s in scripts if any(r in s.name for r in rest)]
        rc = 0
        for s in scripts:
            print(f"== {s.name}", flush=True)
            rc |= subprocess.call([str(PY), str(s)], cwd=ROOT)
        return rc
    print(f"unknown command {cmd!r}\n{__doc__}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
