"""``banana-studio gen`` and ``banana-studio config`` end to end, against the in-process FakeGemini."""

from __future__ import annotations

import os
import shlex
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.cli.gen import output_paths
from banana_studio.cli.main import main
from banana_studio.domain.catalogue import STANDARD_RATIOS, pixel_size
from banana_studio.fakeserver import FakeGemini
from banana_studio.store import ProjectStore

KEY = "AIza" + "Q" * 35


@pytest.fixture(scope="module")
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    """Key + base URL from the environment (the SDK honours GOOGLE_GEMINI_BASE_URL); private dirs."""
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", srv.base_url)
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "config.toml").write_text("[network]\nretry_attempts = 1\n")
    return tmp_path


def gen(env: Path, *args: str) -> int:
    return main(["gen", *args, "--project-dir", str(env / "projects"), "--project", "cli"])


CASES = [(r, s) for r in STANDARD_RATIOS for s in ("1K", "2K")] + [("16:9", "4K"), ("9:16", "4K")]


@pytest.mark.parametrize(("aspect", "size"), CASES)
def test_gen_exact_pixel_sizes(aspect: str, size: str, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = gen(env, f"a fox, {aspect} {size}", "--aspect", aspect, "--size", size, "-q")
    out, err = capsys.readouterr()
    assert code == 0, err
    (line,) = out.splitlines()
    path = Path(line)
    assert path.is_file() and path.suffix == ".jpg" and path.parent.name == "images"
    with Image.open(path) as im:
        assert im.size == pixel_size(aspect, size)
        assert im.format == "JPEG"
    assert err == ""  # -q: nothing streamed


def test_gen_streams_thoughts_and_copies_output(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = env / "out" / "poster.png"
    code = gen(env, "a poster of a banana", "-o", str(out_file))
    out, err = capsys.readouterr()
    assert code == 0
    written = Path(out.strip())
    assert written == env / "out" / "poster.jpg"  # extension follows the returned mime (JPEG)
    assert "poster.jpg instead of poster.png" in err
    assert "**" in err and "[draft 1 received" in err and "Turn #1" in err
    with Image.open(written) as im:
        assert im.size == (1024, 1024)
    store = ProjectStore.open(env / "projects", "cli", create=False)
    try:
        (node,) = store.tree_index()
        turn = store.get_turn(node.id)
        assert turn.status == "done" and turn.prompt == "a poster of a banana"
        assert store.abs_path(turn.final_images[0].path).read_bytes() != b""
    finally:
        store.close()


def test_gen_output_dir_ref_parent_and_stdin(env: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> None:
    ref = env / "ref.png"
    Image.new("RGB", (64, 48), "green").save(ref)
    outdir = env / "outdir"
    outdir.mkdir()
    assert gen(env, "a green robot", "--ref", str(ref), "-o", str(outdir), "-q") == 0
    first = Path(capsys.readouterr().out.strip())
    assert first.parent == outdir and first.name.startswith("0001-a-green-robot")
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("make the robot red\n"))
    assert gen(env, "-", "--parent", "1", "-q") == 0
    second = Path(capsys.readouterr().out.strip())
    assert second.name.startswith("0002-make-the-robot-red")
    body = srv.requests[-1].body
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert any("thoughtSignature" in p for p in body["contents"][1]["parts"])
    assert body["contents"][2]["parts"] == [{"text": "make the robot red"}]


def test_gen_no_key_explains(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY")
    assert gen(env, "anything") == 2
    err = capsys.readouterr().err
    assert "GOOGLE_API_KEY" in err and "--set-key" in err and "--demo" in err
    assert not (env / "projects" / "cli").exists()


def test_gen_demo_without_key(env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY")
    monkeypatch.setenv("BANANA_STUDIO_DEMO_LATENCY", "0")
    assert gen(env, "a demo banana", "--demo", "--search") == 0
    out, err = capsys.readouterr()
    assert Path(out.strip()).is_file() and "Demo (local server)" in err
    assert "Sources (Google Search): " in err


@pytest.mark.parametrize(("args", "code", "phrase"), [
    (["[fault:image_safety] a cat"], 1, "safety filter"),
    (["[fault:bad_key] a cat"], 1, "config --set-key"),
    (["a cat", "--size", "3K"], 2, "does not support size 3K"),
    (["a cat", "--aspect", "5:1"], 2, "aspect ratio 5:1"),
    (["a cat", "--ref", "/nonexistent/ref.png"], 2, "does not exist"),
    (["a cat", "--parent", "abc"], 2, "--parent expects a turn id"),
    (["   "], 2, "prompt is empty"),
])
def test_gen_failures_exit_codes(args: list[str], code: int, phrase: str, env: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert gen(env, *args, "-q") == code
    out, err = capsys.readouterr()
    assert out == ""
    assert phrase in err
    assert KEY not in err


def test_gen_ctrl_c_marks_turn_cancelled(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY", "GEMINI_API_KEY")}
    env.update(BANANA_STUDIO_CONFIG=str(tmp_path / "c.toml"), BANANA_STUDIO_DATA_DIR=str(tmp_path / "d"),
               PYTHONUNBUFFERED="1",
               # slow steps: the answer cannot finish before the SIGINT lands after the first thought
               BANANA_STUDIO_DEMO_LATENCY="3")
    proc = subprocess.Popen(
        [sys.executable, "-m", "banana_studio", "gen", "a slow demo", "--demo", "--project-dir",
         str(tmp_path / "projects"), "--project", "p"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120  # a deadline for a loaded box; the first thought decides
        seen = ""
        while "**" not in seen and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        assert "**" in seen, seen
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, rest
    assert "Cancelled" in rest
    store = ProjectStore.open(tmp_path / "projects", "p", create=False)
    try:
        (node,) = store.tree_index()
        assert store.get_turn(node.id).status == "cancelled"
    finally:
        store.close()


def test_output_paths_rules(tmp_path: Path) -> None:
    assert output_paths(tmp_path, ["image/png"], ["0001-x.png"]) == [tmp_path / "0001-x.png"]
    assert output_paths(tmp_path / "a.jpeg", ["image/jpeg"], ["n.jpg"]) == [tmp_path / "a.jpg"]
    assert output_paths(tmp_path / "a", ["image/png", "image/png"], ["n.png", "m.png"]) == [
        tmp_path / "a.png", tmp_path / "a-2.png"]
    assert output_paths("new/", ["image/jpeg"], ["n.jpg"]) == [Path("new") / "n.jpg"]


# -- config ---------------------------------------------------------------------------------------

def test_config_shows_paths_and_key_source_never_key(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert str(env / "config.toml") in out and str(env / "data") in out
    assert "environment variable GOOGLE_API_KEY" in out
    assert KEY not in out


def test_config_reports_problems(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "config.toml").write_text("[ui]\nsend_key = 'shift+space'\n")
    assert main(["config"]) == 1
    assert "send_key" in capsys.readouterr().out


def test_config_set_key_from_stdin(env: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    import io

    new_key = "AIza" + "Z" * 35
    monkeypatch.delenv("GOOGLE_API_KEY")
    monkeypatch.setattr(sys, "stdin", io.StringIO(new_key + "\n"))
    assert main(["config", "--set-key"]) == 0
    out, err = capsys.readouterr()
    assert new_key not in out + err
    cfg = env / "config.toml"
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    text = cfg.read_text()
    assert new_key in text and "retry_attempts = 1" in text  # other lines kept
    assert main(["config"]) == 0
    assert "from the config file" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert main(["config", "--set-key"]) == 2


@pytest.mark.parametrize("fault", ["stream_error", "bad_base64"])
def test_gen_mid_stream_failure_exits_cleanly(fault: str, env: Path) -> None:
    """No asyncio "aclose(): asynchronous generator is already running" noise after a mid-stream error."""
    proc = subprocess.run(
        [sys.executable, "-m", "banana_studio", "gen", f"[fault:{fault}] a cat", "-q", "--project-dir",
         str(env / "projects")], capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "asynchronous generator" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr


# -- issue 18: demo and real never mix ---------------------------------------------------------------

def test_gen_parent_across_targets_is_refused_and_from_image_works(
        env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    monkeypatch.setenv("BANANA_STUDIO_DEMO_LATENCY", "0")
    real_root = env / "data" / "projects"
    assert main(["gen", "a red kite", "-q", "--project", "cli"]) == 0  # Gemini API (the test server)
    capsys.readouterr()
    # Demo mode keeps to its own folder, next to the real one.
    assert main(["gen", "a demo kite", "-q", "--demo", "--project", "cli"]) == 0
    out, _ = capsys.readouterr()
    assert "/projects-demo/cli/images/" in out
    assert main(["history", "--demo", "--json", "--project", "cli"]) == 0
    assert [t["target"] for t in json.loads(capsys.readouterr().out)["turns"]] == ["local"]
    # Demo mode into the real project asks first (a CLI cannot ask: it refuses without --mix-demo).
    code = main(["gen", "more", "--demo", "--project", "cli", "--project-dir", str(real_root)])
    _, err = capsys.readouterr()
    assert code == 2 and "is a real project" in err and "--mix-demo" in err
    # Continuing the real branch on the demo server: refused before anything is sent, with the way out.
    code = main(["gen", "now at night", "--demo", "--mix-demo", "--parent", "1", "--project", "cli",
                 "--project-dir", str(real_root)])
    _, err = capsys.readouterr()
    assert code == 2
    assert "made with Gemini API" in err and "Nothing was sent" in err
    # The offered command keeps to the same project and mode, so it works as printed.
    (hint,) = [line.removeprefix("Try: ") for line in err.splitlines() if line.startswith("Try: ")]
    assert hint == (f"banana-studio gen --from-image 1 --demo --mix-demo --project cli --project-dir "
                    f"{shlex.quote(str(real_root))} 'now at night'")
    with ProjectStore.open(real_root, "cli") as store:
        assert [n.id for n in store.tree_index()] == [1]
    code = main([*shlex.split(hint)[1:], "-q"])
    out, err = capsys.readouterr()
    assert code == 0, err
    with ProjectStore.open(real_root, "cli") as store:
        new = store.get_turn(2)
        assert new.parent_id is None and new.kind == "from_image" and new.target == "local"
        assert len(new.references) == 1 and new.references[0].name.startswith("#1 ")
    assert main(["history", "--json", "--project", "cli", "--project-dir", str(real_root)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [(t["id"], t["target"]) for t in doc["turns"]] == [(1, "gemini-api"), (2, "local")]
    assert doc["turns"][0]["model_version"]
    assert main(["history", "--project", "cli", "--project-dir", str(real_root)]) == 0
    text = capsys.readouterr().out
    assert "DEMO" in text.splitlines()[1] and "simulated" in text.splitlines()[-1]


def test_gen_parent_refused_by_the_server_offers_the_image_alone(
        env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Same target, but the history's signatures were made elsewhere (another key's project, another
    server): not knowable before sending, so the server's real 400 comes back, with the way that works."""
    with FakeGemini(port=0, small=True, secret=b"another signing secret") as other:
        monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", other.base_url)
        assert gen(env, "a red kite", "-q") == 0
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", srv.base_url)
    capsys.readouterr()
    assert gen(env, "now at night", "-q", "--parent", "1") == 1
    err = capsys.readouterr().err
    assert "Corrupted thought signature." in err and "Continue from the image alone" in err
    (hint,) = [line.removeprefix("Try: ") for line in err.splitlines() if line.startswith("Try: ")]
    assert hint.startswith("banana-studio gen --from-image 1 --project cli --project-dir ")
    assert main([*shlex.split(hint)[1:], "-q"]) == 0
    with ProjectStore.open(env / "projects", "cli") as store:
        new = store.get_turn(max(n.id for n in store.tree_index()))
    assert new.parent_id is None and new.kind == "from_image" and new.status == "done"


def test_gen_from_image_rejects_parent_too(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen(env, "x", "--from-image", "1", "--parent", "1") == 2
    assert "cannot be combined with --parent" in capsys.readouterr().err
