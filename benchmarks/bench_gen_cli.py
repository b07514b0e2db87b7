"""``banana-studio gen`` vs a minimal raw google-genai script, whole process (issue 13, last row).

Both are launched as fresh processes against the same local server (its own process, real-sized
answers: a 1K 16:9 image with thoughts, two drafts and 0.5-2.5 MB signatures), same prompt, model and
settings, alternating A B B A.  The raw script streams the answer and writes the final image to a file;
``gen`` records the turn in a project, streams, saves drafts and the final image with its recipe, and
writes the requested output file.  Wall time per process and the children's CPU time; floors in the
same run: ``python -c pass`` and ``python -c "import google.genai"``; and ``gen`` with
``BANANA_STUDIO_TLS_AHEAD=off`` (the SDK builds its TLS contexts on the critical path), the order of
the three rotating each round.

Target: gen / raw <= 1.10 (median of the paired ratios).

    .venv/bin/python benchmarks/bench_gen_cli.py [--runs 7] [--size 1K]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table
from _perf import PY, ServerProcess, med, spread

KEY = "bench-key-not-secret"
PROMPT = "A ripe banana astronaut floating above a neon harbour, cinematic"
MODEL = "gemini-3-pro-image"
STUDIO_BIN = Path(PY).parent / "banana-studio"

RAW_SCRIPT = f'''
import sys
from google import genai
from google.genai import types

base_url, size, out = sys.argv[1:4]
client = genai.Client(api_key="{KEY}", http_options=types.HttpOptions(base_url=base_url, api_version="v1beta"))
config = types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"],
                                     image_config=types.ImageConfig(aspect_ratio="16:9", image_size=size),
                                     thinking_config=types.ThinkingConfig(include_thoughts=True))
final = None
for chunk in client.models.generate_content_stream(model="{MODEL}", contents="{PROMPT}", config=config):
    for cand in chunk.candidates or []:
        for part in (cand.content.parts if cand.content else None) or []:
            if part.inline_data is not None and not part.thought:
                final = part.inline_data.data
if final is None:
    sys.exit("no image")
with open(out, "wb") as f:
    f.write(final)
'''


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms of the child) of one process run to completion."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--size", default="1K", choices=("512", "1K", "2K", "4K"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gen-") as tmp_s, ServerProcess(latency=0.0) as srv:
        tmp = Path(tmp_s)
        raw_py = tmp / "raw.py"
        raw_py.write_text(RAW_SCRIPT)
        env = {**os.environ, "GOOGLE_API_KEY": KEY, "GOOGLE_GEMINI_BASE_URL": srv.base_url,
               "BANANA_STUDIO_CONFIG": str(tmp / "config.toml"), "BANANA_STUDIO_DATA_DIR": str(tmp / "data"),
               "BANANA_STUDIO_CACHE_DIR": str(tmp / "cache"), "BANANA_STUDIO_LOG_DIR": str(tmp / "log")}
        # PYTHONDONTWRITEBYTECODE (set on some boxes) would make every gen run compile the studio's ~75
        # modules again (~0.17 s here) while google-genai's bytecode was written when pip installed it:
        # an installed studio has its bytecode too, so the warm-up run below writes it.
        for name in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "BANANA_STUDIO_DEMO_SMALL",
                     "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        (tmp / "config.toml").write_text(f'base_url = "{srv.base_url}"\nproject_dir = "{tmp / "projects"}"\n')
        raw_cmd = [PY, str(raw_py), srv.base_url, args.size, str(tmp / "raw.jpg")]
        gen_cmd = [str(STUDIO_BIN), "gen", PROMPT, "--project", "bench", "--model", MODEL, "--aspect", "16:9",
                   "--size", args.size, "--quiet", "-o", str(tmp / "gen.jpg")]
        floors = {"python -c pass": [PY, "-c", "pass"], "import google.genai": [PY, "-c", "import google.genai"]}
        # gen with the TLS contexts left to the SDK (engine/tls_ahead.py): what building them ahead gains
        plain_env = {**env, "BANANA_STUDIO_TLS_AHEAD": "off"}
        run(raw_cmd, env)  # warm-up: the OS file cache, the server's first render
        run(gen_cmd, env)
        raw: list[tuple[float, float]] = []
        gen: list[tuple[float, float]] = []
        plain: list[tuple[float, float]] = []
        floor: dict[str, list[float]] = {k: [] for k in floors}
        for i in range(args.runs):
            order = [(raw, env), (gen, env), (plain, plain_env)]
            for runs, run_env in order[i % 3:] + order[:i % 3]:
                runs.append(run(raw_cmd if runs is raw else gen_cmd, run_env))
            for name, cmd in floors.items():
                floor[name].append(run(cmd, env)[0])
    ratios = [g[0] / r[0] for g, r in zip(gen, raw, strict=True)]
    cpu_ratios = [g[1] / r[1] for g, r in zip(gen, raw, strict=True)]
    plain_ratios = [p[0] / r[0] for p, r in zip(plain, raw, strict=True)]
    rows = [(label, med([r[0] for r in runs]), spread([r[0] for r in runs]), med([r[1] for r in runs]))
            for label, runs in (("raw google-genai script", raw), ("banana-studio gen", gen),
                                ("gen, BANANA_STUDIO_TLS_AHEAD=off", plain))]
    rows += [(f"floor: {name}", med(v), spread(v), "-") for name, v in floor.items()]
    print(f"Whole process, {args.size} 16:9 real-sized answer, {args.runs} alternating runs each, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(table(["process", "wall ms (median)", "min–max", "CPU ms (median)"], rows))
    ratio = med(ratios)
    print(f"gen / raw: wall {ratio:.2f} (paired median; spread {min(ratios):.2f}–{max(ratios):.2f}), "
          f"CPU {med(cpu_ratios):.2f}; target <= 1.10: {'met' if ratio <= 1.10 else 'MISSED'}")
    print(f"gen with TLS_AHEAD=off / raw: wall {med(plain_ratios):.2f} "
          f"(spread {min(plain_ratios):.2f}–{max(plain_ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
