"""Start-up to first painted screen, measured from outside: each app is launched in a fresh tmux window
(120x40) and the pane is polled with ``tmux capture-pane`` until the screen shows its markers.  The
baseline is a bare Textual app with a Header and a Footer (benchmarks/_bare_app.py); both run with the
same interpreter, alternating, after a warm-up run each.  Target: studio median <= 1.5 x bare median.

Also an import-hygiene check: one extra studio run under benchmarks/_import_probe.py logs when heavy
modules are first imported; google.genai must not be imported before the first paint.

    .venv/bin/python benchmarks/bench_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import PY, ROOT, Tmux, med, spread

BENCH = Path(__file__).resolve().parent
STUDIO_BIN = Path(PY).parent / "banana-studio"


COMPLETE = ("Aspect ratio", "Nano Banana Pro")
"""Text of the settings panel's controls (which may be mounted just after the first paint)."""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    # Both apps should load byte-code, not compile sources on every launch (PYTHONDONTWRITEBYTECODE
    # may be set, so .pyc files of changed sources would otherwise never be written).
    import compileall

    compileall.compile_dir(str(ROOT / "src"), quiet=1)
    compileall.compile_file(str(BENCH / "_bare_app.py"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp, Tmux() as tmux:
        env = [f"BANANA_STUDIO_DATA_DIR={tmp}/data", f"BANANA_STUDIO_CONFIG={tmp}/config.toml",
               f"BANANA_STUDIO_CACHE_DIR={tmp}/cache", f"BANANA_STUDIO_LOG_DIR={tmp}/log", "GOOGLE_API_KEY=",
               "GEMINI_API_KEY=", f"PYTHONPATH={ROOT / 'src'}"]
        bare = (["env", *env, PY, str(BENCH / "_bare_app.py")], ("Bare Textual", "Quit"))
        studio = (["env", *env, str(STUDIO_BIN), "--demo"], ("Banana Studio", "Branches", "Settings", "Session $"))
        for cmd, markers in (bare, studio):  # warm-up (pyc, page cache, the project's first creation)
            tmux.first_paint(cmd, markers)
        times: dict[str, list[float]] = {"bare": [], "studio": []}
        cpu: dict[str, list[float]] = {"bare": [], "studio": []}
        complete: list[float] = []  # studio: until the settings controls are on screen too
        for i in range(args.runs):
            order = [("bare", bare), ("studio", studio)]
            if i % 2:
                order.reverse()
            for name, (cmd, markers) in order:
                secs, _, _, cpu_s = tmux.first_paint(cmd, markers, COMPLETE if name == "studio" else ())
                times[name].append(secs * 1000)
                cpu[name].append(cpu_s * 1000)
                if name == "studio":
                    complete.append(tmux.last_complete * 1000)
        # Import hygiene: when were heavy modules imported, relative to the first paint?
        log = Path(tmp) / "imports.log"
        probe = ["env", *env, PY, str(BENCH / "_import_probe.py"), str(log), "--phases", "--demo"]
        launch = time.time()
        _, painted_at, _, _ = tmux.first_paint(probe, studio[1])
        imports = []
        if log.exists():
            for line in log.read_text().splitlines():
                ts, name = line.split(" ", 1)
                imports.append((name, (float(ts) - launch) * 1000))
    b, s = med(times["bare"]), med(times["studio"])
    ratio = s / b
    cpu_ratio = med(cpu["studio"]) / max(1.0, med(cpu["bare"]))
    print(f"Start-up to first painted screen (tmux 120x40, poll {Tmux.POLL_S * 1000:.0f} ms), "
          f"{args.runs} alternating runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(table(["app", "median ms", "min–max ms", "CPU ms used by first paint (median)"],
                [("bare Textual (Header+Footer)", b, spread(times["bare"]), med(cpu["bare"])),
                 ("Banana Studio --demo", s, spread(times["studio"]), med(cpu["studio"]))]))
    print(f"ratio studio / bare: {ratio:.2f} wall, {cpu_ratio:.2f} CPU  "
          f"(target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'})")
    print(f"studio fully populated (settings controls too: {', '.join(COMPLETE)}): median {med(complete):.0f} ms "
          f"({med(complete) / b:.2f}x bare)")
    paint_ms = (painted_at - launch) * 1000
    print(f"\nImport hygiene and phases (one probed studio run, stamps in ms after launch; the screen showed "
          f"its markers at {paint_ms:.0f} ms):")
    rows = [(name, ms, "" if name.startswith("[") else ("before paint" if ms <= paint_ms else "after paint"))
            for name, ms in sorted(imports, key=lambda r: r[1])]
    print(table(["module / phase", "ms", "imported"], rows or [("(none logged)", 0.0, "")]))
    genai_before = any(n == "google.genai" and ms <= paint_ms for n, ms in imports)
    print(f"google.genai imported before first paint: {'YES (bad)' if genai_before else 'no'}")
    return 0 if ratio <= 1.5 and not genai_before else 1


if __name__ == "__main__":
    raise SystemExit(main())
