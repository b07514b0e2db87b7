"""``banana-studio config`` — where things live, where the key comes from, what is wrong.

Never prints the key itself.  ``--set-key`` reads a key from stdin (without echo on a terminal)
and stores it in the config file with mode 0600.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys

from banana_studio import paths
from banana_studio.config import ConfigWriteError, load_config, resolve_api_key, save_api_key, vertex_switch

_KEY_SOURCES = {
    "GOOGLE_API_KEY": "environment variable GOOGLE_API_KEY",
    "GEMINI_API_KEY": "environment variable GEMINI_API_KEY",
    "config": "config file",
}


def _looks_like_key(key: str) -> bool:
    return re.fullmatch(r"AIza[0-9A-Za-z_\-]{35}", key) is not None


def _describe_key(source: str, key: str) -> str:
    if not source:
        return "not set — run `banana-studio config --set-key`, export GOOGLE_API_KEY, or use --demo"
    shape = "" if _looks_like_key(key) else " (does not look like a Google API key)"
    return f"set, from the {_KEY_SOURCES.get(source, source)}{shape}"


def show() -> int:
    cfg = load_config()
    cfg_path = cfg.path or paths.config_file()
    key, source = resolve_api_key(cfg)
    rows = [
        ("Config file", f"{cfg_path}" + ("" if cfg_path.exists() else " (not created yet)")),
        ("Data dir", str(paths.data_dir())),
        ("Projects", str(cfg.projects_root())),
        ("Default project", cfg.default_project),
        ("Cache dir", str(paths.cache_dir())),
        ("Log dir", str(paths.log_dir())),
    ]
    vertex, switch = vertex_switch()
    problem = ""
    if vertex:
        from banana_studio.engine.vertex import check_setup

        setup = check_setup(api_key=key, key_source=source, project=cfg.vertex_project,
                            location=cfg.vertex_location)
        rows.append(("Target", f"Vertex AI ({switch}=true)"))
        rows.extend(setup.describe())
        base = cfg.vertex_base_url or os.environ.get("GOOGLE_VERTEX_BASE_URL", "")
        if base:
            rows.append(("Vertex base URL", base + ("" if cfg.vertex_base_url else " (from GOOGLE_VERTEX_BASE_URL)")))
        problem = setup.error.message if setup.error is not None else ""
    else:
        rows.append(("Target", "Gemini API" + (f" ({switch} is not true)" if switch else "")))
        rows.append(("API key", _describe_key(source, key)))
        base = cfg.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL", "")
        if base:
            rows.append(("API base URL", base + ("" if cfg.base_url else " (from GOOGLE_GEMINI_BASE_URL)")))
    d = cfg.defaults
    rows.append(("Defaults", f"{d.model} · {d.aspect_ratio} · {d.image_size}"
                 + (" · search" if d.google_search else "") + ("" if d.include_thoughts else " · no thoughts")))
    rows.append(("Network", f"{cfg.retry_attempts} attempts · timeout {cfg.timeout_seconds:g} s"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k + ':':<{width + 2}}{v}")
    if problem:
        print(f"\nVertex AI is not ready: {problem}")
    if cfg.problems:
        print("\nProblems found in the config (each says what was used instead):")
        for p in cfg.problems:
            print(f"  • {p}")
        return 1
    return 1 if problem else 0


def set_key() -> int:
    raw = getpass.getpass("Gemini API key (input hidden): ") if sys.stdin.isatty() else sys.stdin.readline()
    key = raw.strip()
    if not key:
        print("error: no key given; nothing was changed.", file=sys.stderr)
        return 2
    if any(ch.isspace() for ch in key) or not key.isprintable():
        print("error: that does not look like an API key (it contains spaces or control characters); "
              "nothing was changed.", file=sys.stderr)
        return 2
    try:
        path = save_api_key(key, paths.config_file())
    except ConfigWriteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot write {exc.filename or paths.config_file()}: {exc.strerror}. Nothing was changed.",
              file=sys.stderr)
        return 1
    print(f"Saved the API key to {path} (readable only by you).")
    if not _looks_like_key(key):
        print("note: the key does not look like a Google AI Studio key (AIza…); it was stored anyway.",
              file=sys.stderr)
    env = [n for n in ("GOOGLE_API_KEY", "GEMINI_API_KEY") if os.environ.get(n, "").strip()]
    if env:
        print(f"note: {env[0]} is set in the environment and takes precedence over the stored key.",
              file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "set_key", False):
        return set_key()
    return show()
