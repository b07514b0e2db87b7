"""One exit-code table and one wording across the commands (README: Command line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from banana_studio.cli.main import main
from banana_studio.fakeserver import FakeGemini

KEY = "AIza" + "Q" * 35


@pytest.fixture(scope="module")
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", srv.base_url)
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "config.toml").write_text("[network]\nretry_attempts = 1\n")
    return tmp_path


def run(env: Path, *args: str) -> int:
    return main([*args, "--project-dir", str(env / "projects"), "--project", "cli"])


def test_unknown_turn_is_invalid_input_everywhere(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(env, "gen", "a fox", "-q") == 0
    capsys.readouterr()
    assert run(env, "gen", "edit it", "--parent", "99", "-q") == 2
    gen_err = capsys.readouterr().err
    assert run(env, "export", "99", "-o", str(env / "out")) == 2
    export_err = capsys.readouterr().err
    for err in (gen_err, export_err):
        assert err.startswith("error: ") and "Error:" not in err, err
    assert run(env, "export", "x", "-o", str(env / "out")) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_unknown_model_warns_and_is_sent(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(env, "gen", "a fox", "--model", "gemini-9-ultra-image", "-q")
    err = capsys.readouterr().err
    assert "warning:" in err and "gemini-9-ultra-image" in err and "Unknown model" in err, err
    assert code in (0, 1, 2)  # what the server says about the id; the warning came first


def test_lowercase_size_in_config_is_read_as_meant_and_names_the_file(env: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    cfg = env / "config.toml"
    cfg.write_text('[network]\nretry_attempts = 1\n[generation]\nimage_size = "2k"\naspect_ratio = "16:9"\n')
    code = run(env, "gen", "a fox", "-q")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert str(cfg) in err and "'2K'" in err, err
    from PIL import Image

    with Image.open(out.strip()) as im:
        assert im.size == (2752, 1536), "2K meant, 2K made"
    # `config` reports it too (and exits 1: problems found).
    assert main(["config"]) == 1
    shown = capsys.readouterr().out
    assert "image_size" in shown and "Defaults:" in shown and "· 2K" in shown, shown
    assert "defaults were used" not in shown, "2k was read as 2K, not replaced by the default"


def test_size_hint_only_when_the_case_is_the_problem() -> None:
    from banana_studio.domain.settings import GenerationSettings, validate_settings

    lite = "gemini-3.1-flash-lite-image"
    msgs = [p.message for p in validate_settings(GenerationSettings(model=lite, image_size="4K"))]
    assert msgs and not any("uppercase" in m for m in msgs), msgs
    msgs = [p.message for p in validate_settings(GenerationSettings(image_size="2k"))]
    assert any("uppercase K" in m for m in msgs), msgs


def test_empty_reference_same_words_in_cli_and_studio(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from banana_studio.tui.widgets.ref_tray import probe_image

    empty = env / "empty.png"
    empty.write_bytes(b"")
    assert run(env, "gen", "a fox", "--ref", str(empty), "-q") == 2
    cli = capsys.readouterr().err
    with pytest.raises(ValueError) as studio:
        probe_image(empty)
    assert "empty.png is empty (0 bytes), not an image." in cli, cli
    assert str(studio.value) == "empty.png is empty (0 bytes), not an image."


def test_too_many_references_wording_does_not_mention_the_tray() -> None:
    from banana_studio.domain.words import too_many_references

    text = too_many_references(15, "Nano Banana Pro", 14)
    assert "tray" not in text and text.endswith("Remove 1.")


def test_branch_json_money_is_rounded(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(env, "gen", "one", "-q") == 0
    for _ in range(2):
        assert run(env, "gen", "again", "--parent", "1", "-q") == 0
    assert run(env, "export", "3", "-o", str(env / "out")) == 0
    doc = json.loads((env / "out" / "branch.json").read_text())
    values = [*doc["costs"].values(), *(t["cost"] for t in doc["turns"])]
    assert all(round(v, 6) == v for v in values), values
    assert all(len(repr(v).split(".")[-1]) <= 6 for v in values), values


def test_history_pluralises(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(env, "gen", "one", "-q") == 0
    capsys.readouterr()
    assert run(env, "history") == 0
    out = capsys.readouterr().out
    assert "1 turn shown" in out and "turn(s)" not in out, out


def test_lowercase_size_flag_is_read_as_meant(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(env, "gen", "a fox", "--size", "2k", "--aspect", "1:1", "-q")
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "read as 2K" in err
    from PIL import Image

    with Image.open(out.strip()) as im:
        assert im.size == (2048, 2048)


def test_batch_errors_start_with_error_and_budget_refusals_too(env: Path, srv: FakeGemini,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run(env, "batch") == 2  # no prompts file
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "prompts file" in err, err
    (env / "config.toml").write_text('[network]\nretry_attempts = 1\n[budget]\ndaily = 0.01\n')
    prompts = env / "p.txt"
    prompts.write_text("one\n", encoding="utf-8")
    assert run(env, "batch", str(prompts), "--no-wait") == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "budget" in err, err
    assert run(env, "gen", "a fox", "-q") == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "budget" in err, err


def test_no_key_is_one_error_line_in_gen_and_batch(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY")
    prompts = env / "p.txt"
    prompts.write_text("one\n", encoding="utf-8")
    assert run(env, "gen", "a fox", "-q") == 2
    gen_err = capsys.readouterr().err
    assert run(env, "batch", str(prompts), "--no-wait") == 2
    batch_err = capsys.readouterr().err
    assert gen_err.startswith("error: No Gemini API key found.") and gen_err == batch_err, (gen_err, batch_err)


def test_config_problems_are_warnings_in_every_command(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "config.toml").write_text('[network]\nretry_attempts = 1\n[generation]\nimage_size = "2k"\n')
    (env / "p.txt").write_text("one\n", encoding="utf-8")
    assert run(env, "batch", "--list") == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: Config file") and "'2K'" in err, err


def test_counts_are_pluralised_in_the_batch_lane(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from banana_studio.services.batch import choose_mode

    assert choose_mode(1000, 1000, 1)[1].startswith("inline: 1 request,")
    prompts = env / "p.txt"
    prompts.write_text("one\n", encoding="utf-8")
    assert run(env, "batch", str(prompts), "--no-wait") == 0
    err = capsys.readouterr().err
    assert "Submitted " in err and ": 1 prompt, ~$" in err and "(s)" not in err, err


def test_readme_config_example_shows_the_defaults() -> None:
    """The README's config block shows the defaults for the sections a newcomer copies (not 16:9 / 2K)."""
    import re
    import tomllib

    from banana_studio.config import Config

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Configuration", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    doc = tomllib.loads(re.sub(r"^\s+#.*$", "", block, flags=re.M))
    c = Config()
    gen = doc["generation"]
    assert (gen["model"], gen["aspect_ratio"], gen["image_size"]) == (c.defaults.model, c.defaults.aspect_ratio,
                                                                      c.defaults.image_size)
    assert gen["include_thoughts"] is c.defaults.include_thoughts and gen["replay_drafts"] is c.defaults.replay_drafts
    assert gen["image_search"] is c.defaults.image_search
    assert doc["default_project"] == c.default_project
    assert (doc["ui"]["send_key"], doc["ui"]["theme"], doc["ui"]["image_protocol"]) == (c.send_key, c.theme,
                                                                                        c.image_protocol)
    assert (doc["network"]["retry_attempts"], doc["network"]["timeout_seconds"]) == (c.retry_attempts,
                                                                                     c.timeout_seconds)
    assert (doc["region"]["protect"], doc["region"]["feather"]) == (c.region_protect, c.region_feather)
    assert "none by default" in block.split("[budget]", 1)[1].splitlines()[0], "budget values are examples"


def test_a_missing_file_or_a_folder_reads_the_same_in_every_command_and_the_studio(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from banana_studio.tui.widgets.ref_tray import probe_image

    missing = env / "nothere.png"
    said = []
    assert run(env, "gen", "x", "--ref", str(missing), "-q") == 2
    said.append(capsys.readouterr().err)
    for command in ("recipe", "open"):
        assert main([command, str(missing)]) == 2
        said.append(capsys.readouterr().err)
    with pytest.raises(ValueError) as studio:
        probe_image(missing)
    assert all(err == f"error: {missing} does not exist.\n" for err in said), said
    assert str(studio.value) == f"{missing} does not exist."
    folder = env / "pics"
    folder.mkdir()
    assert run(env, "gen", "x", "--ref", str(folder), "-q") == 2
    gen_err = capsys.readouterr().err
    assert main(["open", str(folder)]) == 2
    open_err = capsys.readouterr().err
    with pytest.raises(ValueError) as studio:
        probe_image(folder)
    assert gen_err == open_err == f"error: {folder} is a folder, not an image file.\n", (gen_err, open_err)
    assert str(studio.value) == f"{folder} is a folder, not an image file."


def test_branch_json_today_is_the_budget_s_today_across_projects(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from banana_studio.services.budget import spending

    assert run(env, "gen", "one", "-q") == 0
    assert main(["gen", "elsewhere", "-q", "--project-dir", str(env / "projects"), "--project", "other"]) == 0
    assert run(env, "export", "1", "-o", str(env / "out")) == 0
    costs = json.loads((env / "out" / "branch.json").read_text())["costs"]
    assert costs["today"] > costs["project"] > 0, costs
    assert costs["today"] == spending(env / "projects", env / "projects" / "cli").today, costs
