"""Templates (issue 16): the file format, slots, matrix expansion and the X/Y layout; the libraries on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from banana_studio.domain.matrix import MAX_CELLS, expand, layout, split_values
from banana_studio.domain.template import (
    TemplateError,
    escape_braces,
    fill,
    parse_template,
    render_template,
    slot_names,
    valid_name,
)
from banana_studio.store import templates as files

PORTRAIT = '''description = "portraits"
prompt = "A {style} portrait of a {subject}, {{not a slot}} {also not}"

[slots]
subject = ["red fox", "snowy owl"]
style = "ink"

[settings]
aspect = "16:9"
size = "2K"
seed = 7
system = "be brief"

[[references]]
path = "refs/fox.png"
'''


def test_parse_reads_slots_settings_and_references() -> None:
    t = parse_template(PORTRAIT, "portrait", source="/lib/portrait.toml")
    assert t.slot_names == ["style", "subject"]
    assert t.slots == {"subject": ["red fox", "snowy owl"], "style": ["ink"]}
    assert t.settings == {"aspect_ratio": "16:9", "image_size": "2K", "seed": 7, "system_instruction": "be brief"}
    assert [r.path for r in t.references] == ["refs/fox.png"]
    assert t.description == "portraits" and not t.warnings


def test_fill_keeps_literal_braces_and_names_a_missing_slot() -> None:
    assert slot_names("{a} {b} {a} {{c}} {not one}") == ["a", "b"]
    assert fill("{a}-{{b}}-{ c }", {"a": "x"}) == "x-{b}-{ c }"
    with pytest.raises(TemplateError, match=r"Slot \{b\} has no value"):
        fill("{a}{b}", {"a": "x"})
    assert fill(escape_braces("json {x}"), {}) == "json {x}"


@pytest.mark.parametrize(("text", "where"), [
    ('prompt = "a\n', "line 1"),
    ('prompt = "a"\n\n[settings]\nseed = "seven"\n', "line 4: seed must be an integer"),
    ('prompt = "a"\n[settings]\ngoogle_search = 1\n', "line 3: google_search must be true or false"),
    ('description = "x"\n', "needs a non-empty prompt"),  # no prompt: no line to name
    ('prompt = "{a}"\n[slots]\na = []\n', "line 3: slot 'a' must be"),
    ('prompt = "a"\n[[references]]\nsha256 = "nothex"\n', "line 3"),
])
def test_errors_name_the_file_and_line(text: str, where: str) -> None:
    with pytest.raises(TemplateError) as err:
        parse_template(text, "bad", source="/lib/bad.toml")
    assert str(err.value).startswith("/lib/bad.toml")
    assert where in str(err.value)


def test_unknown_keys_and_unused_slots_are_warnings() -> None:
    t = parse_template('prompt = "a {x}"\ncolour = 1\n[slots]\nx = "1"\ny = "2"\n[settings]\nfoo = 1\n', "w")
    assert len(t.warnings) == 3
    assert any("unknown setting 'foo'" in w for w in t.warnings)


def test_names_are_plain() -> None:
    assert valid_name("cats-2.v1") == "cats-2.v1"
    for bad in ("", "../x", "a/b", ".hidden", "x.toml", "a\x1bb", "a" * 65, "ünï"):
        with pytest.raises(TemplateError):
            valid_name(bad)


def test_render_round_trips() -> None:
    text = render_template("two\nlines {s}", description="d", slots={"s": ["a", "b"]},
                           settings={"model": "m", "seed": 3, "system_instruction": ""})
    t = parse_template(text, "r")
    assert t.prompt == "two\nlines {s}" and t.slots == {"s": ["a", "b"]}
    assert t.settings == {"model": "m", "seed": 3}


def test_matrix_is_the_product_in_axis_order_with_an_xy_layout() -> None:
    t = parse_template(PORTRAIT, "portrait")
    m = expand(t, {"subject": ["fox", "owl"]}, aspects=["1:1", "16:9"], seeds=[1, 2])
    assert len(m.cells) == 8 and m.describe() == "2 subject × 2 aspect × 2 seed = 8 requests"
    c = m.cells[5]
    assert c.slots == {"style": "ink", "subject": "owl"}
    assert c.settings == {"aspect_ratio": "1:1", "seed": 2}
    assert c.prompt.startswith("A ink portrait of a owl, {not a slot}")
    lay = layout(m.axes, len(m.cells))
    assert lay.x is not None and lay.x.name == "subject" and lay.columns == ["fox", "owl"]
    assert [a.name for a in lay.y] == ["aspect", "seed"]
    assert lay.rows == ["1:1 · 1", "1:1 · 2", "16:9 · 1", "16:9 · 2"]
    for r, row in enumerate(lay.grid):  # every heading matches its cell
        for col, idx in enumerate(row):
            cell = m.cells[idx]
            assert cell.slots["subject"] == lay.columns[col]
            assert f"{cell.settings['aspect_ratio']} · {cell.settings['seed']}" == lay.rows[r]


def test_matrix_refuses_unknown_or_empty_slots_and_huge_grids() -> None:
    t = parse_template('prompt = "{a} {b}"\n[slots]\na = "x"\n', "t")
    with pytest.raises(TemplateError, match=r"\{b\}.*--set b="):
        expand(t)
    with pytest.raises(TemplateError, match="no slot 'c'"):
        expand(t, {"b": ["1"], "c": ["2"]})
    with pytest.raises(TemplateError, match="more than"):
        expand(t, {"b": [str(i) for i in range(MAX_CELLS + 1)]})
    one = expand(t, {"b": ["y"]})
    assert len(one.cells) == 1 and layout(one.axes, 1).grid == [[0]]


def test_a_slot_named_like_a_setting_axis_keeps_both() -> None:
    t = parse_template('prompt = "a {model} car"\n[slots]\nmodel = ["vw", "fiat"]\n', "t")
    m = expand(t, models=["gemini-3-pro-image", "gemini-3.1-flash-image"])
    assert [a.name for a in m.varying] == ["model", "setting:model"]
    assert m.cells[1].settings == {"model": "gemini-3.1-flash-image"} and m.cells[1].slots == {"model": "vw"}


def test_split_values() -> None:
    assert split_values("fox, owl ,,a\\,b") == ["fox", "owl", "a,b"]


def test_library_project_wins_and_broken_files_are_listed(tmp_path: Path) -> None:
    user, project = tmp_path / "user", tmp_path / "proj"
    files.write(user / "portrait.toml", PORTRAIT)
    files.write(user / "broken.toml", 'prompt = "x\n')
    (user / "we\x1bird.toml").write_text(PORTRAIT)
    files.write(project / "templates" / "portrait.toml", PORTRAIT.replace("portraits", "project one"))
    found = files.find("portrait", project, user)
    assert found.origin == "project" and found.description == "project one"
    assert files.find("portrait", None, user).origin == "user"
    entries = {(e.name, e.origin): e for e in files.list_entries(project, user)}
    assert entries[("portrait", "user")].shadowed and not entries[("portrait", "project")].shadowed
    assert "line 1" in entries[("broken", "user")].error
    assert "not a usable template name" in entries[("we\x1bird", "user")].error
    with pytest.raises(TemplateError, match="already exists"):
        files.write(user / "portrait.toml", PORTRAIT)
    with pytest.raises(TemplateError, match="No template 'nope'"):
        files.find("nope", project, user)
    with pytest.raises(TemplateError):
        files.find("../portrait", project, user)


def test_value_files(tmp_path: Path) -> None:
    (tmp_path / "v.txt").write_text("# animals\nfox\n\n  owl  \n")
    assert files.read_values(Path("v.txt"), tmp_path) == ["fox", "owl"]
    (tmp_path / "latin1.txt").write_bytes(b"ok\ncaf\xe9\n")
    with pytest.raises(TemplateError, match="line 2: not valid UTF-8"):
        files.read_values(tmp_path / "latin1.txt")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(TemplateError, match="no values"):
        files.read_values(tmp_path / "empty.txt")
