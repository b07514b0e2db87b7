"""The batch lane: prompts files, submit → persist → resume → import, against the local fake server."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from banana_studio.cli.main import main
from banana_studio.config import load_config
from banana_studio.domain.catalogue import get_model
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine import build_request
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import Studio
from banana_studio.services import batch as batch_mod
from banana_studio.services.batch import (
    BatchError,
    BatchLane,
    BatchProgress,
    load_records,
    parse_prompts,
)
from banana_studio.services.batch_results import index_lines
from banana_studio.store import ProjectStore

KEY = "test-key-batch-0123456789"


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(batch_seconds=0, small=True) as s:
        yield s


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_ENTERPRISE", raising=False)
    (tmp_path / "config.toml").write_text(f'base_url = "{srv.base_url}"\n', encoding="utf-8")
    return tmp_path


def png(color: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def projects(env: Path) -> Path:
    return env / "data" / "projects"


# -- parsing ----------------------------------------------------------------------------------------

def test_parse_txt_skips_blank_and_comment_lines(tmp_path: Path) -> None:
    f = tmp_path / "p.txt"
    f.write_text("# my prompts\na fox\n\n  a lighthouse  \n#another\n", encoding="utf-8")
    out = parse_prompts(f, GenerationSettings(aspect_ratio="16:9"))
    assert [p.prompt for p in out] == ["a fox", "a lighthouse"]
    assert [p.key for p in out] == ["p0001", "p0002"]
    assert all(p.settings.aspect_ratio == "16:9" for p in out)


def test_parse_jsonl_per_line_settings_refs_and_keys(tmp_path: Path) -> None:
    (tmp_path / "ref.png").write_bytes(png("red"))
    f = tmp_path / "p.jsonl"
    lines = [{"prompt": "a fox", "aspect": "9:16", "size": "2K", "seed": 7, "key": "fox", "refs": ["ref.png"]},
             "a bare string prompt",
             {"prompt": "continue", "parent": 3}]
    f.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    out = parse_prompts(f, GenerationSettings())
    assert out[0].key == "fox" and out[0].settings.aspect_ratio == "9:16" and out[0].settings.image_size == "2K"
    assert out[0].settings.seed == 7 and out[0].references == [tmp_path / "ref.png"]
    assert out[1].prompt == "a bare string prompt" and out[1].settings.aspect_ratio == "1:1"
    assert out[2].parent_id == 3


@pytest.mark.parametrize(("name", "text", "message"), [
    ("p.jsonl", '{"prompt": "x"}\n{not json', "line 2: not valid JSON"),
    ("p.jsonl", '{"prompt": "x", "key": "a"}\n{"prompt": "y", "key": "a"}', "duplicate key 'a'"),
    ("p.jsonl", '{"prompt": "x", "model": "gemini-3.1-flash-image"}', "one model"),
    ("p.jsonl", '{"text_typo": "x"}', "\"prompt\" is missing"),
    ("p.txt", "# only a comment\n\n", "has no prompts"),
])
def test_parse_errors_are_clear(tmp_path: Path, name: str, text: str, message: str) -> None:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    with pytest.raises(BatchError, match=message.replace("(", r"\(")):
        parse_prompts(f, GenerationSettings())


def test_parse_json_array(tmp_path: Path) -> None:
    f = tmp_path / "p.json"
    f.write_text(json.dumps(["one", {"prompt": "two", "size": "4K"}], indent=2), encoding="utf-8")
    out = parse_prompts(f, GenerationSettings())
    assert [(p.prompt, p.settings.image_size) for p in out] == [("one", "1K"), ("two", "4K")]


def test_estimate_follows_each_line(tmp_path: Path, env: Path) -> None:
    """A batch of 4K lines costs more than the same count at the default size (and half of interactive)."""
    from banana_studio.engine import estimate_cost

    f = tmp_path / "p.jsonl"
    f.write_text('{"prompt": "a", "size": "4K"}\n{"prompt": "b"}\n', encoding="utf-8")
    prompts = parse_prompts(f, GenerationSettings())
    studio = Studio.open(load_config(), project="est")
    try:
        est = BatchLane(studio).estimate(prompts)
        full = estimate_cost(GenerationSettings(image_size="4K")) + estimate_cost(GenerationSettings())
        assert est == pytest.approx(full / 2)
        verdict = studio.check_budget(GenerationSettings(), 2, batch=True, estimate=est)
        assert verdict.estimate == pytest.approx(est)
    finally:
        studio.store.close()


def test_missing_prompts_file(tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="does not exist"):
        parse_prompts(tmp_path / "nope.txt", GenerationSettings())


def test_jsonl_request_matches_the_sdk_request() -> None:
    """The JSONL (file input) form carries the same fields the SDK sends for interactive requests
    (both derived from the engine's one field table, not a hand-kept copy)."""
    from banana_studio.engine.batch import jsonl_lines

    settings = GenerationSettings(aspect_ratio="21:9", image_size="2K", google_search=True, seed=5,
                                  temperature=0.5, system_instruction="be bold")
    history = [user_content("a fox"), Content("model", [Part(text="Drafting", thought=True),
                                                        Part(mime_type="image/png", data=png("red"),
                                                             thought_signature=b"\x01\x02sig")])]
    user = user_content("make it blue", [(png("blue"), "image/png")])
    (line,) = list(jsonl_lines([("k1", [*history, user], settings)]))
    obj = json.loads(line)
    assert obj["key"] == "k1" and line.endswith(b"\n")
    from banana_studio.fakeserver.protocol import camelize

    body = camelize(obj["request"])  # the SDK's wire mixes snake_case and camelCase; the API takes both
    contents, config = build_request(history, user, settings)
    sdk = {"contents": [c.model_dump(mode="json", exclude_none=True, by_alias=True) for c in contents]}
    assert len(body["contents"]) == len(sdk["contents"]) == 3
    model_part = body["contents"][1]["parts"][1]
    assert model_part["thoughtSignature"] == "AQJzaWc=" and model_part["inlineData"]["mimeType"] == "image/png"
    gen = body["generationConfig"]
    assert gen["imageConfig"] == {"aspectRatio": config.image_config.aspect_ratio,
                                  "imageSize": config.image_config.image_size}
    assert gen["responseModalities"] == config.response_modalities
    assert gen["thinkingConfig"] == {"includeThoughts": True}
    assert gen["seed"] == 5 and gen["temperature"] == 0.5
    assert body["tools"] == [{"googleSearch": {}}]
    assert body["systemInstruction"]["parts"] == [{"text": "be bold"}]


@pytest.mark.parametrize("settings", [
    GenerationSettings(),
    GenerationSettings(model="gemini-2.5-flash-image", image_only=True, include_thoughts=False),
    GenerationSettings(model="gemini-3.1-flash-image", google_search=True, image_search=True, thinking_level="minimal",
                       image_size="512", seed=0, temperature=0.0, system_instruction="x"),
    GenerationSettings(output_mime_type="image/jpeg", output_quality=80, person_generation="allow_adult"),
])
def test_rest_body_and_sdk_config_come_from_one_field_table(settings: GenerationSettings) -> None:
    """Every field the SDK config carries is in the REST body under its camelCase name, with the same
    value, and nothing else is (so the file-input form can never drift from the interactive one)."""
    from banana_studio.engine.request import build_config, rest_config

    def camel(v: object) -> object:
        if isinstance(v, dict):
            return {k.split("_")[0] + "".join(w.title() for w in k.split("_")[1:]): camel(x) for k, x in v.items()}
        return [camel(x) for x in v] if isinstance(v, list) else v

    sdk = camel(build_config(settings).model_dump(mode="json", exclude_none=True))
    assert isinstance(sdk, dict)
    rest = rest_config(settings)
    beside = {k: rest.pop(k) for k in ("tools", "systemInstruction") if k in rest}
    assert rest == {"generationConfig": {k: v for k, v in sdk.items() if k not in ("tools", "systemInstruction")}}
    assert beside.get("tools") == sdk.get("tools")
    if "systemInstruction" in sdk:
        assert beside["systemInstruction"] == {"parts": [{"text": sdk["systemInstruction"]}], "role": "user"}
    else:
        assert "systemInstruction" not in beside


def test_progress_line() -> None:
    rec = batch_mod.BatchRecord(name="batches/abc", model="m", display_name="", created_at=0, target="t",
                                input_mode="inline", estimate=0.1, items=[])
    p = BatchProgress(rec, "JOB_STATE_RUNNING", 75, 10, pending=4)
    assert p.finished_requests == 6 and "6/10 requests done" in p.line() and "1:15" in p.line()
    assert p.line().startswith("[############--------]")
    assert "imported 3/10" in BatchProgress(rec, "JOB_STATE_SUCCEEDED", 5, 10, imported=3, phase="importing").line()


# -- end to end through the CLI ----------------------------------------------------------------------

def test_cli_submit_no_wait_then_resume_imports_turns(env: Path, srv: FakeGemini,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (env / "ref.png").write_bytes(png("green"))
    prompts = env / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps(x) for x in [
        {"prompt": "a red fox in snow", "aspect": "16:9", "key": "fox"},
        {"prompt": "a lighthouse at dusk", "size": "2K", "refs": ["ref.png"], "key": "lighthouse"},
        {"prompt": "an owl [fault:image_safety]", "key": "owl"},
    ]), encoding="utf-8")
    assert main(["batch", str(prompts), "--no-wait", "-p", "shots", "--poll", "0"]) == 0
    out, err = capsys.readouterr()
    job_name = out.strip()
    assert job_name.startswith("batches/") and "Resume later with" in err and KEY not in err

    # the job id is persisted in the project before anything else happens; no turns yet
    records = load_records(projects(env) / "shots")
    assert [r.name for r in records] == [job_name] and records[0].state == "JOB_STATE_PENDING"
    assert [i.key for i in records[0].items] == ["fox", "lighthouse", "owl"]
    with ProjectStore.open(projects(env), "shots") as store:
        assert store.tree_index() == []
    wire = [r for r in srv.requests if r.path.endswith(":batchGenerateContent")]
    assert len(wire) == 1
    sent = wire[0].body["batch"]["inputConfig"]["requests"]["requests"]
    assert [r["metadata"]["key"] for r in sent] == ["fox", "lighthouse", "owl"]
    assert sum(1 for p in sent[1]["request"]["contents"][0]["parts"] if "inlineData" in p) == 1

    # a later process resumes polling and imports the results as turns
    assert main(["batch", "--resume", "-p", "shots", "--poll", "0"]) == 1  # one prompt was blocked
    out, err = capsys.readouterr()
    paths = [Path(line) for line in out.splitlines() if line.strip()]
    assert len(paths) == 2 and all(p.is_file() for p in paths)
    assert "imported 2 image turns, 1 failed" in err and "IMAGE_SAFETY" in err
    with ProjectStore.open(projects(env), "shots") as store:
        turns = [store.get_turn(n.id) for n in store.tree_index()]
        assert [t.kind for t in turns] == ["batch"] * 3
        by_prompt = {t.prompt.split(" [")[0]: t for t in turns}
        fox, lighthouse, owl = by_prompt["a red fox in snow"], by_prompt["a lighthouse at dusk"], by_prompt["an owl"]
        assert fox.status == "done" and lighthouse.status == "done" and owl.status == "failed"
        assert owl.error_kind == "safety" and owl.final_images == []
        with Image.open(store.abs_path(fox.final_images[0].path)) as im:
            assert im.size == (1376, 768)
        with Image.open(store.abs_path(lighthouse.final_images[0].path)) as im:
            assert im.size == (2048, 2048)
        assert len(lighthouse.references) == 1
        # the model content keeps its thought signature (so the turn can be continued interactively)
        assert any(p.thought_signature for p in fox.model_content.parts if p.is_image and not p.thought)
        # batch price: half of what the same usage costs interactively
        from banana_studio.domain.events import Usage
        from banana_studio.engine import actual_cost

        u = Usage(**{k: v for k, v in fox.usage.items() if k != "raw"})
        discount = get_model(fox.settings.model).prices.batch_discount
        assert fox.cost == pytest.approx(actual_cost(fox.settings, u) * discount)
        assert fox.cost > 0
    assert load_records(projects(env) / "shots")[0].imported
    # resuming again finds nothing to do and creates nothing
    assert main(["batch", "--resume", "-p", "shots"]) == 0
    assert "No unfinished batch jobs" in capsys.readouterr().err
    with ProjectStore.open(projects(env), "shots") as store:
        assert len(store.tree_index()) == 3
    assert main(["batch", "--list", "-p", "shots"]) == 0
    assert "imported 2 ok / 1 failed" in capsys.readouterr().out


def test_cli_submit_and_wait_with_progress(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    srv.batch_seconds = 0.6
    prompts = env / "p.txt"
    prompts.write_text("a cat\na dog\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "wait", "--poll", "0.1", "--aspect", "4:3"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 2
    assert "pending" in err and "succeeded" in err and "imported 2/2" in err
    with ProjectStore.open(projects(env), "wait") as store:
        assert [n.status for n in store.tree_index()] == ["done", "done"]


def test_import_is_idempotent_after_a_crash_mid_import(env: Path, srv: FakeGemini) -> None:
    """A turn created but not completed before a crash is completed on resume, never duplicated."""
    prompts = env / "p.txt"
    prompts.write_text("one\ntwo\n", encoding="utf-8")

    async def scenario() -> None:
        studio = Studio.open(load_config(), project="crash")
        lane = BatchLane(studio)
        record = await lane.submit(parse_prompts(prompts, GenerationSettings()))
        # simulate: turn for item 1 was created, then the process died before completing it
        item = record.items[0]
        t = await asyncio.to_thread(studio.store.create_turn, None, item.prompt, GenerationSettings(), [],
                                    user_content(item.prompt), "batch")
        item.turn_id = t.id
        lane.save(record)
        await studio.aclose()

        studio = Studio.open(load_config(), project="crash")
        lane = BatchLane(studio)
        (record,) = lane.unfinished()
        record = await lane.wait(record, interval=0)
        assert record.imported
        nodes = studio.store.tree_index()
        assert sorted(n.prompt for n in nodes) == ["one", "two"]
        assert studio.store.get_turn(t.id).status == "done"
        await studio.aclose()

    asyncio.run(scenario())


def test_large_batches_go_through_an_uploaded_file(env: Path, srv: FakeGemini,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_mod, "INLINE_LIMIT", 0)
    prompts = env / "p.txt"
    prompts.write_text("first poster\nsecond poster\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "files", "--poll", "0", "--aspect", "3:2"]) == 0
    uploads = [r for r in srv.requests if r.path.startswith("/upload/")]
    assert uploads, "the JSONL was uploaded through the Files API"
    create = [r for r in srv.requests if r.path.endswith(":batchGenerateContent")][-1]
    assert create.body["batch"]["inputConfig"]["fileName"].startswith("files/")
    assert any(r.path.endswith(":download") for r in srv.requests)
    (record,) = load_records(projects(env) / "files")
    assert record.input_mode == "file" and record.imported
    with ProjectStore.open(projects(env), "files") as store:
        turns = [store.get_turn(n.id) for n in store.tree_index()]
        assert [t.status for t in turns] == ["done", "done"]
        with Image.open(store.abs_path(turns[0].final_images[0].path)) as im:
            assert im.size == (1264, 848)


def test_job_unknown_to_the_server_is_reported_lost(env: Path, srv: FakeGemini,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    prompts = env / "p.txt"
    prompts.write_text("x\n", encoding="utf-8")
    assert main(["batch", str(prompts), "--no-wait", "-p", "lost"]) == 0
    capsys.readouterr()
    with FakeGemini(batch_seconds=0, small=True) as other:  # e.g. the local server was restarted: it forgot the job
        (env / "config.toml").write_text(f'base_url = "{other.base_url}"\n', encoding="utf-8")
        assert main(["batch", "--resume", "-p", "lost", "--poll", "0"]) == 1
    err = capsys.readouterr().err
    assert "no longer knows" in err
    (record,) = load_records(projects(env) / "lost")
    assert record.state == "LOST" and record.finished


def test_invalid_prompt_submits_nothing(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "notimage.png").write_bytes(b"this is not an image")
    prompts = env / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "x", "refs": ["notimage.png"]}) + "\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "bad"]) == 2
    assert "Nothing was submitted" in capsys.readouterr().err
    assert not [r for r in srv.requests if r.path.endswith(":batchGenerateContent")]


def test_parent_made_by_another_target_submits_nothing(env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A prompts-file "parent" whose branch the demo server made is refused before the job is created
    (Google would answer 400 "Corrupted thought signature." per request, after the upload)."""
    monkeypatch.setenv("BANANA_STUDIO_DEMO_LATENCY", "0")
    monkeypatch.setenv("BANANA_STUDIO_DEMO_SMALL", "1")
    root = str(projects(env))
    assert main(["gen", "a demo kite", "-q", "--demo", "--mix-demo", "-p", "mixed", "--project-dir", root]) == 0
    capsys.readouterr()
    prompts = env / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "now at night", "parent": 1, "key": "night"}) + "\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "mixed", "--no-wait"]) == 2
    err = capsys.readouterr().err
    assert "Nothing was submitted" in err and "night: The branch of turn #1 was made with demo" in err
    assert '"refs": ["' in err and "/projects/mixed/images/0001-" in err
    assert not [r for r in srv.requests if r.path.endswith(":batchGenerateContent")]
    with ProjectStore.open(projects(env), "mixed") as store:
        assert [n.id for n in store.tree_index()] == [1]


def test_budget_refuses_without_yes(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    (env / "config.toml").write_text(f'base_url = "{srv.base_url}"\n[budget]\ndaily = 0.10\n', encoding="utf-8")
    prompts = env / "p.txt"
    prompts.write_text("one\ntwo\nthree\n", encoding="utf-8")  # 3 × ~$0.069 > $0.10
    assert main(["batch", str(prompts), "-p", "money", "--no-wait"]) == 3
    err = capsys.readouterr().err
    assert "over your daily budget of $0.10" in err and "--yes" in err
    assert not [r for r in srv.requests if r.path.endswith(":batchGenerateContent")]
    assert main(["batch", str(prompts), "-p", "money", "--no-wait", "--yes"]) == 0
    assert len([r for r in srv.requests if r.path.endswith(":batchGenerateContent")]) == 1


def test_cancel(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    srv.batch_seconds = 60
    prompts = env / "p.txt"
    prompts.write_text("slow one\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "cancel", "--no-wait"]) == 0
    name = capsys.readouterr().out.strip()
    assert main(["batch", "--cancel", name, "-p", "cancel"]) == 0
    assert "cancelled" in capsys.readouterr().out
    (record,) = load_records(projects(env) / "cancel")
    assert record.state == "JOB_STATE_CANCELLED" and record.finished


def test_demo_batch_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """`--demo` needs no key: the in-process local server runs the job."""
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)

    class QuickFake(FakeGemini):
        def __init__(self, **kw: object) -> None:
            super().__init__(**{**kw, "latency": 0.0, "batch_seconds": 0.2})

    monkeypatch.setattr("banana_studio.fakeserver.FakeGemini", QuickFake)
    prompts = tmp_path / "p.txt"
    prompts.write_text("demo prompt\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "d"]) == 2  # no key, no --demo: clear message
    assert "--demo" in capsys.readouterr().err
    assert main(["batch", str(prompts), "-p", "d", "--demo", "--poll", "0.05"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert Path(line).is_file()


def test_demo_batch_into_a_real_project_needs_mix_demo(env: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    class QuickFake(FakeGemini):
        def __init__(self, **kw: object) -> None:
            super().__init__(**{**kw, "latency": 0.0, "batch_seconds": 0.0, "small": True})

    monkeypatch.setattr("banana_studio.fakeserver.FakeGemini", QuickFake)
    prompts = env / "p.txt"
    prompts.write_text("a real fox\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "real", "--poll", "0"]) == 0  # Gemini API (the test server)
    capsys.readouterr()
    prompts.write_text("a demo fox\n", encoding="utf-8")
    root = str(projects(env))
    assert main(["batch", str(prompts), "-p", "real", "--demo", "--project-dir", root, "--poll", "0"]) == 2
    err = capsys.readouterr().err
    assert "is a real project" in err and "--mix-demo" in err
    with ProjectStore.open(projects(env), "real") as store:
        assert len(store.tree_index()) == 1  # nothing added
    assert main(["batch", str(prompts), "-p", "real", "--demo", "--mix-demo", "--project-dir", root,
                 "--poll", "0"]) == 0
    err = capsys.readouterr().err
    assert "imported 1 image turn, 0 failed, demo: $" in err and "simulated" in err
    with ProjectStore.open(projects(env), "real") as store:
        assert [n.target for n in store.tree_index()] == ["gemini-api", "local"]


def test_progress_printer_on_a_terminal_redraws_one_line() -> None:
    from banana_studio.cli.batch import ProgressPrinter

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    printer = ProgressPrinter(out)
    rec = batch_mod.BatchRecord(name="batches/abc", model="m", display_name="", created_at=0, target="t",
                                input_mode="inline", estimate=0.1, items=[])
    printer(BatchProgress(rec, "JOB_STATE_RUNNING", 5, 4, pending=4))
    printer._latest_at -= 60  # a minute passes between polls
    printer.tick()
    printer(BatchProgress(rec, "JOB_STATE_SUCCEEDED", 70, 4, imported=4, phase="done"))
    text = out.getvalue()
    assert "\n" not in text.rstrip("\n") and text.count("\r") == 3
    assert "0:05" in text and "1:05" in text and "imported 4/4" in text


def test_progress_printer_without_a_terminal_prints_changes_only() -> None:
    """A log (no terminal) gets a line when the state, the counts or the passing problem change, not one
    per status check: a day-long job polled every 10 s must not write thousands of identical lines."""
    from banana_studio.cli.batch import ProgressPrinter

    out = io.StringIO()
    printer = ProgressPrinter(out)
    rec = batch_mod.BatchRecord(name="batches/abc", model="m", display_name="", created_at=0, target="t",
                                input_mode="inline", estimate=0.1, items=[])
    for elapsed in (5, 15, 25):  # the same state and counts, only the clock moves
        printer(BatchProgress(rec, "JOB_STATE_RUNNING", elapsed, 4, succeeded=1, failed=0))
    printer(BatchProgress(rec, "JOB_STATE_RUNNING", 35, 4, succeeded=2, failed=0))
    wait = "still waiting; Google answered {} to a status check, checking again in {} s"
    for elapsed, note in ((45, wait.format("503 at 14:02", 20)), (65, wait.format("503 at 14:02", 40)),
                          (105, wait.format("500 at 14:03", 80))):
        printer(BatchProgress(rec, "JOB_STATE_RUNNING", elapsed, 4, note=note))
    printer(BatchProgress(rec, "JOB_STATE_RUNNING", 200, 4, succeeded=2, failed=0))
    lines = out.getvalue().splitlines()
    assert len(lines) == 5, lines
    assert "1/4 requests done" in lines[0] and "2/4 requests done" in lines[1]
    assert "answered 503 at 14:02" in lines[2] and "answered 500 at 14:03" in lines[3]
    assert "2/4 requests done" in lines[4] and "answered" not in lines[4]


def test_ctrl_c_while_waiting_keeps_the_job(env: Path, srv: FakeGemini) -> None:
    """Interrupting the wait leaves the job on the server and its id in the project; --resume finishes it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    srv.batch_seconds = 60
    prompts = env / "p.txt"
    prompts.write_text("patient prompt\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "banana_studio.cli.main", "batch", str(prompts), "-p", "ctrlc",
                             "--poll", "0.2"], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    deadline = time.monotonic() + 30
    while not load_records(projects(env) / "ctrlc") and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "keeps running on the server" in err and "--resume" in err
    (record,) = load_records(projects(env) / "ctrlc")
    assert not record.finished
    srv.batch_seconds = 0
    assert main(["batch", "--resume", "-p", "ctrlc", "--poll", "0"]) == 0
    assert load_records(projects(env) / "ctrlc")[0].imported


def test_vertex_is_refused_clearly(env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    prompts = env / "p.txt"
    prompts.write_text("x\n", encoding="utf-8")
    assert main(["batch", str(prompts), "-p", "vx"]) == 2
    assert "Vertex AI" in capsys.readouterr().err
    assert not [r for r in srv.requests if r.path.endswith(":batchGenerateContent")]


def test_duplicate_result_lines_are_imported_once(env: Path) -> None:
    """Batch result files have been seen to repeat a key (billing bug reports): only the first counts."""
    line = {"candidates": [{"content": {"role": "model", "parts": [{"text": "first"}]}, "finishReason": "STOP"}]}
    dup = {"candidates": [{"content": {"role": "model", "parts": [{"text": "second"}]}, "finishReason": "STOP"}]}
    data = "\n".join(json.dumps(x) for x in [{"key": "a", "response": line}, {"key": "a", "response": dup},
                                               {"key": "b", "error": {"code": 500, "message": "boom"}}]) + "\n"
    path = env / "results.jsonl"
    path.write_text(data, encoding="utf-8")
    out = index_lines(path)
    a, b = out.get("a"), out.get("b")
    assert a is not None and b is not None
    assert a[0]["candidates"][0]["content"]["parts"][0]["text"] == "first"
    assert b[0] is None and b[1]["code"] == 500
