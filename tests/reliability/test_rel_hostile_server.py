"""A server that echoes the key, lies about its images or sends invalid text (issue 11).

Every case runs the real ``banana-studio gen`` (in process) against the local server with a hostile
fault, then history, export (with storyboard) and recipe, and scans every file written.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from rel_common import png_bytes

from banana_studio.cli.main import main
from banana_studio.engine import verify
from banana_studio.engine.verify import check_received_image
from banana_studio.fakeserver import FakeGemini
from banana_studio.fakeserver.hostile import KEY_FIELDS, huge_png, lying_image

PLAIN_KEY = "bs-echo-SECRET-key-0a1b2c3d4e5f6789"
"""Not Google's key shape, so only the secret list (not the AIza regex) can catch it."""


def _scan(dirs: list[Path], needle: bytes, *, allow: set[Path]) -> list[str]:
    hits = []
    for d in dirs:
        for p in d.rglob("*") if d.exists() else []:
            if p.is_file() and p not in allow and needle in p.read_bytes():
                hits.append(str(p))
    return hits


def _env(iso_env: dict[str, str], fake: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> Path:
    cfg = Path(iso_env["BANANA_STUDIO_CONFIG"])
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[network]\nretry_attempts = 1\ntimeout_seconds = 20\n")
    monkeypatch.setenv("GEMINI_API_KEY", PLAIN_KEY)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.base_url)
    return Path(iso_env["BANANA_STUDIO_DATA_DIR"]) / "projects" / "default"


@pytest.mark.parametrize("field", (*KEY_FIELDS, "all"))
def test_a_key_echoing_server_never_gets_the_key_stored_shown_or_exported(
        field: str, tmp_path: Path, iso_env: dict[str, str], fake: FakeGemini, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = _env(iso_env, fake, monkeypatch)
    fake.inject("key_echo", field=field)
    out_dir, exp_dir = tmp_path / "out", tmp_path / "export"
    code = main(["gen", "a lighthouse", "-o", str(out_dir) + "/"])
    assert code == (1 if field == "block_message" else 0)
    db = sqlite3.connect(project / "project.db")
    echoed = " ".join(str(v) for row in db.execute("SELECT * FROM turns") for v in row)
    db.close()
    assert "[REDACTED]" in echoed or field == "block_message"  # the field arrived, redacted
    assert main(["history", "--json"]) == 0
    assert main(["history"]) == 0
    assert main(["export", "1", "-o", str(exp_dir), "--storyboard"]) in (0, 1)
    for image in out_dir.glob("*"):
        assert main(["recipe", str(image)]) == 0
        assert main(["recipe", str(image), "--json"]) == 0
    out = capsys.readouterr()
    assert PLAIN_KEY not in out.out + out.err
    dirs = [Path(iso_env[k]) for k in ("BANANA_STUDIO_DATA_DIR", "BANANA_STUDIO_CACHE_DIR", "BANANA_STUDIO_LOG_DIR")]
    dirs += [Path(iso_env["BANANA_STUDIO_CONFIG"]).parent, out_dir, exp_dir]
    assert _scan(dirs, PLAIN_KEY.encode(), allow=set()) == []
    if field != "block_message":
        assert (exp_dir / "branch.json").exists() or list(exp_dir.rglob("branch.json"))


@pytest.mark.parametrize("kind", ["svg", "html", "text_png", "truncated_jpeg", "random", "huge"])
def test_a_lying_server_never_gets_a_non_image_saved_as_a_final_image(
        kind: str, tmp_path: Path, iso_env: dict[str, str], fake: FakeGemini, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    project = _env(iso_env, fake, monkeypatch)
    params: dict[str, object] = {"kind": kind}
    if kind == "random":
        params["mb"] = 2  # the byte limit is tested on its own below; here: noise that is not an image
    fake.inject("lying_image", **params)
    assert main(["gen", "a lighthouse", "--no-thoughts"]) == 1
    err = capsys.readouterr().err
    assert "not a valid image" in err and ".rejected/0001-final-1.bin" in err, err
    assert "Traceback" not in err
    assert not list((project / "images").glob("*.*")) if (project / "images").exists() else True
    db = sqlite3.connect(project / "project.db")
    status, error_kind = db.execute("SELECT status, error_kind FROM turns").fetchone()
    db.close()
    assert (status, error_kind) == ("failed", "bad_image")
    kept = project / ".rejected" / "0001-final-1.bin"
    _mime, sent = lying_image(kind, 2)
    assert kept.is_file() and (kind == "random" or kept.read_bytes() == sent)
    assert "refused because" in kept.with_suffix(".txt").read_text()
    # the next request works
    assert main(["gen", "a calm sea", "--no-thoughts"]) == 0


def test_received_image_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_received_image(png_bytes()).ok
    assert check_received_image(png_bytes(), "image/jpeg").mime_type == "image/png"  # the content decides
    bomb = check_received_image(huge_png())
    assert not bomb.ok and "over the 50.0 MP limit" in bomb.reason, bomb.reason  # the limit that holds, stated
    monkeypatch.setattr(verify, "MAX_RECEIVED_IMAGE_BYTES", 1024)
    big = check_received_image(png_bytes((400, 400)) + b"\0" * 2048)
    assert not big.ok and "limit" in big.reason
    monkeypatch.setattr(verify, "MAX_RECEIVED_IMAGE_BYTES", 64 << 20)
    monkeypatch.setattr(verify, "MAX_RECEIVED_IMAGE_PIXELS", 100)
    assert "limit" in check_received_image(png_bytes()).reason


def test_a_lone_surrogate_in_finish_message_is_reported_not_an_internal_error(
        iso_env: dict[str, str], fake: FakeGemini, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _env(iso_env, fake, monkeypatch)
    fake.inject("bad_unicode")
    assert main(["gen", "a lighthouse"]) == 1
    err = capsys.readouterr().err
    assert "Internal error" not in err and "UnicodeEncodeError" not in err
    assert "safety" in err.lower()
    assert main(["history", "--json"]) == 0
    out = capsys.readouterr().out
    json.loads(out)  # valid JSON
    out.encode("utf-8")  # and valid UTF-8 text


def test_export_storyboard_of_a_saved_decompression_bomb_is_graceful(
        tmp_path: Path, iso_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    """A final image over Pillow's bomb limit saved by an older version (gen refuses it now)."""
    from banana_studio.domain.content import Content, Part, user_content
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.store import ProjectStore

    root = Path(iso_env["BANANA_STUDIO_DATA_DIR"]) / "projects"
    with ProjectStore.open(root, "default") as store:
        t = store.create_turn(None, "a huge plain", GenerationSettings(), [], user_content("a huge plain"))
        store.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/png", data=huge_png())]),
                            status="done", finish_reason="STOP")
    out = tmp_path / "exp"
    assert main(["export", "1", "-o", str(out), "--storyboard"]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "DecompressionBomb" not in captured.err
    assert (out / "storyboard.png").stat().st_size > 0 or list(out.rglob("storyboard.png"))


def test_batch_results_are_verified_and_redacted_too(tmp_path: Path, iso_env: dict[str, str],
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    class QuickFake(FakeGemini):
        def __init__(self, **kw: object) -> None:
            super().__init__(**{**kw, "latency": 0.0, "batch_seconds": 0.2})

    monkeypatch.setattr("banana_studio.fakeserver.FakeGemini", QuickFake)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a fine image\nsvg [fault:lying_image;kind=svg]\n", encoding="utf-8")
    main(["batch", str(prompts), "-p", "b", "--demo", "--poll", "0.05"])
    project = Path(iso_env["BANANA_STUDIO_DATA_DIR"]) / "projects-demo" / "b"  # --demo keeps to the demo root
    db = sqlite3.connect(project / "project.db")
    rows = dict(db.execute("SELECT prompt, status || ' ' || error_kind FROM turns").fetchall())
    db.close()
    assert rows == {"a fine image": "done ", "svg [fault:lying_image;kind=svg]": "failed bad_image"}
    assert (project / ".rejected" / "0002-final-1.bin").read_bytes().startswith(b"<svg")
    assert "not a valid image" in capsys.readouterr().err


def test_an_oversized_answer_event_is_cut_off_while_it_arrives(
        iso_env: dict[str, str], fake: FakeGemini, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from banana_studio.engine import stream_cap

    project = _env(iso_env, fake, monkeypatch)
    monkeypatch.setattr(stream_cap, "MAX_STREAM_EVENT_BYTES", 2 * 1024 * 1024)
    fake.inject("lying_image", kind="random", mb=3)
    assert main(["gen", "noise", "--no-thoughts"]) == 1
    err = capsys.readouterr().err
    assert "answer event over 2 MB" in err and "Traceback" not in err, err
    db = sqlite3.connect(project / "project.db")
    assert db.execute("SELECT status, error_kind FROM turns").fetchone() == ("failed", "bad_image")
    db.close()
    assert main(["gen", "a calm sea", "--no-thoughts"]) == 0  # normal answers pass the cap


@pytest.mark.parametrize("field", ["usage", "all"])
def test_a_key_echoed_in_an_unknown_enum_value_never_reaches_stderr(field: str, tmp_path: Path,
                                                                    fake: FakeGemini) -> None:
    """google-genai warns "<value> is not a valid TrafficType" with the server's string in it; a real
    process printed that warning, key and all, to stderr (in process, pytest swallows warnings)."""
    import subprocess
    import sys

    from rel_common import child_env

    env = child_env(tmp_path, GEMINI_API_KEY=PLAIN_KEY, GOOGLE_GEMINI_BASE_URL=fake.base_url)
    proc = subprocess.run([sys.executable, "-m", "banana_studio", "gen", f"a lighthouse [fault:key_echo;field={field}]",
                           "--no-thoughts"], capture_output=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert PLAIN_KEY.encode() not in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert b"Warning" not in proc.stderr, proc.stderr[-2000:]
