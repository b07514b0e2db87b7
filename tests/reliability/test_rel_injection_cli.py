"""Terminal injection through the CLI (issue 11): ONE hostile string reaches every command — as a stored
prompt and label, as the model's thoughts/answer/grounding/finish message (local server fault
``hostile_text``), as a project folder name, as a recipe embedded in an image, in a batch prompts file
and in the config — and the RAW bytes each real ``banana-studio`` process writes hold none of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rel_common import child_env

from banana_studio.domain.safetext import UNSAFE, display_text, dumps_json
from banana_studio.fakeserver.hostile import HOSTILE, HOSTILE_MARKERS

ARGV_HOSTILE = HOSTILE.replace("\ud800", "\udcff")
"""What can travel in argv / a file name: an invalid UTF-8 byte (0xFF) instead of the lone surrogate."""


def raw_leaks(data: bytes) -> list[bytes]:
    """The hostile payload's distinctive raw sequences found in ``data`` (and any raw ESC/BEL/C1 at all:
    the CLI writes no escape sequences of its own)."""
    found = [m for m in HOSTILE_MARKERS if m in data]
    found += [bytes([b]) for b in (0x1B, 0x07) if bytes([b]) in data]
    text = data.decode("utf-8", "surrogateescape")
    if UNSAFE.search(text.replace("\n", "").replace("\t", "")) is not None:
        found.append(b"<unsafe character>")
    return found


def run(tmp_path: Path, *argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = child_env(tmp_path, BANANA_STUDIO_DEMO_LATENCY="0", COLUMNS="100")
    return subprocess.run([sys.executable, "-m", "banana_studio", *argv], input=stdin, capture_output=True,
                          env=env, timeout=120)


def test_safetext_units() -> None:
    shown = display_text(HOSTILE)
    assert UNSAFE.search(shown) is None and "\\x1b]52;c;" in shown and "\\x9b" in shown and "\\u202e" in shown
    assert "\\ud800" in shown
    assert display_text("a\tb\nc") == "a\tb\nc" and display_text("a\tb\nc", one_line=True) == "a b c"
    encoded = dumps_json({"p": HOSTILE, "ok": "émoji 🍌"})
    assert "\\u001b" in encoded and "\\u009b" in encoded and "\\u202e" in encoded and "\\ud800" in encoded
    assert "émoji 🍌" in encoded and UNSAFE.search(encoded) is None
    assert json.loads(encoded)["p"] == HOSTILE


def test_every_cli_command_shows_hostile_text_escaped(tmp_path: Path) -> None:
    root = tmp_path / "data" / "projects-demo"  # --demo keeps to the demo root
    prompt = f"a lighthouse {ARGV_HOSTILE} [fault:hostile_text]"
    out_dir = tmp_path / "out"
    results: dict[str, subprocess.CompletedProcess[bytes]] = {}
    results["gen"] = run(tmp_path, "gen", "--demo", "-p", "evil", prompt, "-o", str(out_dir) + "/", "--search")
    assert results["gen"].returncode == 0, results["gen"].stderr.decode(errors="replace")
    image = next(out_dir.glob("*"))
    # a project folder renamed by hand to a name no project would be given (invalid UTF-8 byte included)
    shutil.copytree(root / "evil", root / ("folder" + ARGV_HOSTILE.replace("/", "|")))
    prompts = tmp_path / "prompts.txt"
    prompts.write_bytes(f"batch {ARGV_HOSTILE}\n".encode("utf-8", "surrogateescape"))
    cfg = tmp_path / "config" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('default_project = "evil"\n[defaults]\n'
                   'system_instruction = "\\u001b]0;EVIL-TITLE\\u0007 \\u009b31m \\u202e"\n', encoding="utf-8")
    commands = {
        "history": ["history", "--demo", "-p", "evil"],
        "history_json": ["history", "--demo", "-p", "evil", "--json"],
        "history_search": ["history", "--demo", "-p", "evil", "--search", "lighthouse"],
        "projects": ["projects", "--demo"],
        "projects_recent": ["projects", "--demo", "--recent", "5"],
        "recipe": ["recipe", str(image)],
        "recipe_json": ["recipe", str(image), "--json"],
        "export": ["export", "1", "--demo", "-p", "evil", "-o", str(tmp_path / "exp"), "--storyboard"],
        "gen_child": ["gen", "--demo", "-p", "evil", "--parent", "1", f"again {ARGV_HOSTILE} [fault:hostile_text]"],
        "gen_refused": ["gen", "--demo", "-p", "evil", "--ref", str(tmp_path / f"missing{ARGV_HOSTILE}.png"), "x"],
        "batch": ["batch", str(prompts), "--demo", "-p", "evil", "--poll", "0.05"],
        "batch_list": ["batch", "--list", "--demo", "-p", "evil"],
        "config": ["config"],
        "bad_project": ["history", "--demo", "-p", f"nope{ARGV_HOSTILE}"],
        "argparse": ["projects", "--bogus", ARGV_HOSTILE],
    }
    for name, argv in commands.items():
        results[name] = run(tmp_path, *argv)
    for name, res in results.items():
        for stream, data in (("stdout", res.stdout), ("stderr", res.stderr)):
            assert raw_leaks(data) == [], (name, stream, data[-2000:])
        assert b"Traceback" not in res.stderr, (name, res.stderr[-2000:])
    # the payload did arrive, shown escaped
    assert b"\\x1b]52;c;" in results["gen"].stderr  # model thoughts
    assert b"\\x1b]0;EVIL" in results["history"].stdout  # the stored prompt
    assert b"\\u001b]52;c;" in results["history_json"].stdout and b"\\u009b" in results["history_json"].stdout
    assert b"\\x1b]52;c;" in results["recipe"].stdout and b"\\u009b" in results["recipe_json"].stdout
    assert b"folder\\x1b" in results["projects"].stdout
    assert b"unrecognized arguments" in results["argparse"].stderr and b"\\x1b]0;EVIL" in results["argparse"].stderr
    json.loads(results["history_json"].stdout)
    json.loads(results["recipe_json"].stdout)


def test_an_uncaught_traceback_is_escaped_too(capsys: pytest.CaptureFixture[str]) -> None:
    from banana_studio.cli.output import _safe_excepthook

    try:
        raise RuntimeError(f"boom {HOSTILE}")
    except RuntimeError as exc:
        _safe_excepthook(RuntimeError, exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "RuntimeError: boom \\x1b]52;c;" in err and UNSAFE.search(err.replace("\n", "")) is None


def test_the_tui_guard_makes_every_strip_safe() -> None:
    from rich.segment import Segment
    from rich.style import Style
    from textual.strip import Strip

    from banana_studio.tui.terminal_guard import guard_strip

    plain = Strip([Segment("fine text", Style(bold=True))])
    assert guard_strip(plain) is plain  # the fast path: untouched
    hostile = Strip([Segment("a"), Segment(HOSTILE, Style(color="red")),
                     Segment("link", Style(link=f"https://x/{HOSTILE}"))])
    safe = guard_strip(hostile)
    assert UNSAFE.search(safe.text) is None and "␛]52;c;" in safe.text
    assert safe.cell_length == hostile.cell_length
    assert all(not (seg.style and seg.style.link and UNSAFE.search(seg.style.link)) for seg in safe)


def test_widget_classes_defined_after_the_guard_are_guarded_too() -> None:
    from rich.segment import Segment
    from textual.geometry import Region
    from textual.strip import Strip
    from textual.widget import Widget

    from banana_studio.tui.terminal_guard import install

    install()

    class Base(Widget):
        def __init_subclass__(cls, *args: object, **kwargs: object) -> None:  # positional pass-through
            super().__init_subclass__(*args, **kwargs)  # type: ignore[arg-type]

    class Late(Base):
        def render_lines(self, crop: Region) -> list[Strip]:
            return [Strip([Segment(HOSTILE)])]

    (strip,) = Late.render_lines(Late.__new__(Late), Region(0, 0, 10, 1))
    assert UNSAFE.search(strip.text) is None
