"""Bytes that are not UTF-8 in what a user types or keeps on disk: a project name or tag from argv
(Python hands them over as lone surrogates), a project folder renamed by hand, a search query.  Each is
refused with a sentence or skipped with a note, never a UnicodeEncodeError traceback from SQLite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rel_common import jpeg_bytes

from banana_studio.cli.main import main
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.store import ProjectStore

NOT_UTF8 = "x\udcff"
"""What ``sys.argv`` holds for the bytes ``x\\xff``."""


@pytest.fixture
def root(tmp_path: Path, iso_env: dict[str, str]) -> Path:
    with ProjectStore.open(tmp_path / "projects", "p") as s:
        for prompt, star in (("a red fox", True), ("a blue owl", False)):
            t = s.create_turn(None, prompt, GenerationSettings(), [], user_content(prompt))
            s.complete_turn(t.id, model_content=Content("model", [Part(mime_type="image/jpeg", data=jpeg_bytes())]),
                            status="done")
            s.star(t.id, star)
    return tmp_path / "projects"


def _run(args: list[str], root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main([*args, "--project-dir", str(root)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "UnicodeEncodeError" not in out.err, out.err
    return code, out.out, out.err


def test_a_project_name_that_is_not_utf8_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["gen", "--demo", "--mix-demo", "-q", "a cat", "--project", NOT_UTF8], root, capsys)
    assert code == 2 and "is not valid UTF-8 text" in err
    assert not (root / NOT_UTF8).exists()


def test_a_tag_that_is_not_utf8_is_refused(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["tag", "1", "--add", NOT_UTF8, "--project", "p"], root, capsys)
    assert code == 2 and "tag" in err.lower()


def test_a_project_folder_renamed_to_bytes_that_are_not_utf8_is_skipped_with_a_note(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(root / "p", root / f"q{NOT_UTF8}")
    code, out, _ = _run(["history", "--all", "fox"], root, capsys)
    assert code == 0 and "not valid UTF-8" in out and "a red fox" in out
    code, out, _ = _run(["history", "--all", "--json", NOT_UTF8], root, capsys)
    assert code == 0 and any("not valid UTF-8" in n for n in json.loads(out)["notes"])
    code, out, _ = _run(["history", "--project", f"q{NOT_UTF8}"], root, capsys)  # it still opens
    assert code == 0 and "a red fox" in out


def test_history_all_honours_search_and_starred(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(["history", "--all", "--search", "owl"], root, capsys)
    assert "a blue owl" in out and "a red fox" not in out
    _, out, _ = _run(["history", "--all", "--starred"], root, capsys)
    assert "a red fox" in out and "a blue owl" not in out
