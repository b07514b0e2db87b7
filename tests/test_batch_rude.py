"""The batch lane against the local server's rude side: 5xx on status checks and downloads, FAILED with
a reason, EXPIRED, slow cancel, per-line failures, cut downloads (resumed), and the inline/file choice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from banana_studio.cli.main import main
from banana_studio.config import load_config
from banana_studio.domain.settings import GenerationSettings
from banana_studio.fakeserver import FakeGemini
from banana_studio.services import Studio
from banana_studio.services import batch as batch_mod
from banana_studio.services.batch import BatchError, BatchLane, BatchPrompt, load_records
from banana_studio.store import ProjectStore

KEY = "test-key-batch-rude-0123456789"


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(batch_seconds=0) as s:
        yield s


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, srv: FakeGemini) -> Path:
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    for name in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_GENAI_USE_ENTERPRISE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(batch_mod, "DOWNLOAD_RETRY_BASE", 0.0)
    (tmp_path / "config.toml").write_text(f'base_url = "{srv.base_url}"\n', encoding="utf-8")
    return tmp_path


def projects(env: Path) -> Path:
    return env / "data" / "projects"


def prompts_file(env: Path, *lines: str) -> Path:
    p = env / "p.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def status_checks(srv: FakeGemini) -> list[str]:
    return [r.path for r in srv.requests if r.method == "GET" and "/batches/" in r.path]


def test_503_on_status_checks_keeps_waiting(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    srv.batches.status_errors = [503, 503, 500]
    assert main(["batch", str(prompts_file(env, "a", "b")), "-p", "w", "--poll", "0"]) == 0
    err = capsys.readouterr().err
    assert "still waiting; Google answered 503 at" in err and "to a status check" in err
    assert "overloaded" not in err.lower()
    (record,) = load_records(projects(env) / "w")
    assert record.imported and all(i.status == "done" for i in record.items)


def test_a_status_check_that_times_out_or_comes_back_garbled_keeps_waiting(
        env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A status check with no answer in time (httpx timeout) or a cut / non-JSON answer passes like a 503."""
    import httpx2 as httpx

    from banana_studio.engine import batch as engine_batch

    real = engine_batch.get_job
    script: list[BaseException] = [httpx.ReadTimeout("timed out"), json.JSONDecodeError("Expecting value", "<", 0),
                                   httpx.RemoteProtocolError("peer closed connection")]

    async def flaky(client: object, name: str) -> object:
        if script:
            raise script.pop(0)
        return await real(client, name)

    monkeypatch.setattr(engine_batch, "get_job", flaky)
    assert main(["batch", str(prompts_file(env, "a")), "-p", "slow", "--poll", "0"]) == 0
    err = capsys.readouterr().err
    assert "still waiting; Google did not answer in time at" in err
    assert "Could not check the status" not in err and "4K images" not in err
    (record,) = load_records(projects(env) / "slow")
    assert record.imported and not script


def test_permanent_status_error_still_ends_the_wait(env: Path, srv: FakeGemini,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    srv.batches.status_errors = [403]
    assert main(["batch", str(prompts_file(env, "a")), "-p", "deny", "--poll", "0"]) == 1
    assert "Could not check the status of batches/" in capsys.readouterr().err


def test_one_get_per_poll(env: Path, srv: FakeGemini) -> None:
    assert main(["batch", str(prompts_file(env, "a")), "-p", "one", "--poll", "0"]) == 0
    (record,) = load_records(projects(env) / "one")
    # batch_seconds=0: the first status check sees the job finished; one GET gives state, stats and results.
    assert status_checks(srv) == [f"/v1beta/{record.name}"]


def test_failed_job_shows_googles_reason(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    srv.batches.fail_next("Input file has 3 invalid lines; first at line 2.", code=3)
    assert main(["batch", str(prompts_file(env, "a")), "-p", "f", "--poll", "0"]) == 1
    err = capsys.readouterr().err
    assert "ended failed" in err and "Input file has 3 invalid lines; first at line 2." in err and "code 3" in err
    (record,) = load_records(projects(env) / "f")
    assert record.finished and "invalid lines" in record.error
    assert main(["batch", "--list", "-p", "f"]) == 0
    assert "invalid lines" in capsys.readouterr().out


def test_expired_job_is_explained(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    srv.batches.expire_next()
    assert main(["batch", str(prompts_file(env, "a")), "-p", "x", "--poll", "0"]) == 1
    assert "expired" in capsys.readouterr().err.lower()
    (record,) = load_records(projects(env) / "x")
    assert record.state == "JOB_STATE_EXPIRED" and record.finished


def test_per_line_failures_keep_safety_messages_inline_and_file(env: Path, srv: FakeGemini,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ("a calm lake", "a crowd [fault:image_safety]", "a cat [fault:server]")
    for project, limit in (("inl", batch_mod.RESULT_INLINE_LIMIT), ("fil", 0)):
        monkeypatch.setattr(batch_mod, "RESULT_INLINE_LIMIT", limit)
        assert main(["batch", str(prompts_file(env, *lines)), "-p", project, "--poll", "0"]) == 1
        (record,) = load_records(projects(env) / project)
        assert record.input_mode == ("inline" if project == "inl" else "file")
        with ProjectStore.open(projects(env), project) as store:
            turns = {t.prompt: t for t in (store.get_turn(n.id) for n in store.tree_index())}
        assert turns["a calm lake"].status == "done"
        safety = turns["a crowd [fault:image_safety]"]
        assert safety.status == "failed" and safety.error_kind == "safety"
        assert safety.finish_message, f"{project}: the safety message must survive the batch converter"
        assert safety.finish_message in safety.error
        assert turns["a cat [fault:server]"].status == "failed"


def test_result_file_is_named_after_the_job(env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batch_mod, "RESULT_INLINE_LIMIT", 0)
    assert main(["batch", str(prompts_file(env, "a")), "-p", "rf", "--poll", "0"]) == 0
    (record,) = load_records(projects(env) / "rf")
    downloads = [r.path for r in srv.requests if r.path.endswith(":download")]
    assert len(downloads) == 1 and downloads[0].endswith(f"/v1beta/files/batch-{record.job_id}:download")


def test_download_5xx_is_retried_and_404_is_explained(env: Path, srv: FakeGemini,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(batch_mod, "RESULT_INLINE_LIMIT", 0)
    srv.batches.download_errors = [503, 500]
    assert main(["batch", str(prompts_file(env, "a", "b")), "-p", "dl", "--poll", "0"]) == 0
    assert len([r for r in srv.requests if r.path.endswith(":download")]) == 3
    srv.batches.download_errors = [404]
    assert main(["batch", str(prompts_file(env, "c")), "-p", "gone", "--poll", "0"]) == 1
    err = capsys.readouterr().err
    assert "is gone" in err and "Traceback" not in err and "ClientError" not in err


def test_cut_download_imports_what_arrived_and_resumes(env: Path, srv: FakeGemini,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(batch_mod, "RESULT_INLINE_LIMIT", 0)
    cfg = load_config()
    studio = Studio.open(cfg, project="cut")
    lane = BatchLane(studio)
    prompts = [BatchPrompt(prompt=f"poster {i}", settings=GenerationSettings(), key=f"k{i}") for i in range(3)]

    async def first() -> None:
        record = await lane.submit(prompts)
        view = (await lane.poll(record))[1]
        assert view is not None and view.result_file
        data = srv.batches._files[view.result_file.removeprefix("files/")].data
        srv.batches.download_cut = data.index(b"\n") + 1 + 70_000  # inside the second line, on every attempt
        with pytest.raises(BatchError, match="still to fetch"):
            await lane.wait(record, interval=0)

    async def second() -> None:
        srv.batches.download_cut = None
        (record,) = lane.unfinished()
        assert sum(1 for i in record.items if i.status == "done") >= 1
        assert lane.results_path(record).with_name(lane.results_path(record).name + ".part").exists()
        await lane.wait(record, interval=0)

    try:
        asyncio.run(first())
        asyncio.run(second())
        (record,) = load_records(projects(env) / "cut")
        assert record.imported and [i.status for i in record.items] == ["done", "done", "done"]
        assert len({i.turn_id for i in record.items}) == 3
        assert len(studio.store.tree_index()) == 3, "no turn was created twice"
        assert lane.results_path(record).exists()
    finally:
        asyncio.run(studio.aclose())


def test_a_shorter_retry_of_a_cut_download_keeps_what_the_longer_one_brought(
        env: Path, srv: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each retry of a cut download starts over; the part kept for import is the longest that arrived, not
    the last (a retry cut earlier must not throw away results that had already arrived)."""
    import httpx2 as httpx

    from banana_studio.engine import batch as engine_batch

    monkeypatch.setattr(batch_mod, "RESULT_INLINE_LIMIT", 0)
    studio = Studio.open(load_config(), project="longest")
    lane = BatchLane(studio)
    prompts = [BatchPrompt(prompt=f"poster {i}", settings=GenerationSettings(), key=f"k{i}") for i in range(3)]
    cuts: list[int] = []

    async def cut_download(client: object, file_name: str, dest: Path) -> None:
        data = srv.batches._files[file_name.removeprefix("files/")].data
        lines = data.splitlines(keepends=True)
        keep = len(lines[0]) + len(lines[1]) + 10 if not cuts else 10  # first: two whole lines; then less
        cuts.append(keep)
        dest.write_bytes(data[:keep])
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    monkeypatch.setattr(engine_batch, "download_results", cut_download)

    async def go() -> None:
        record = await lane.submit(prompts)
        with pytest.raises(BatchError, match="1 result"):
            await lane.wait(record, interval=0)

    try:
        asyncio.run(go())
        (record,) = load_records(projects(env) / "longest")
        assert len(cuts) == 5 and [i.status for i in record.items] == ["done", "done", "submitted"]
    finally:
        asyncio.run(studio.aclose())


def test_a_download_that_never_brings_a_byte_is_still_explained(env: Path, srv: FakeGemini,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import httpx2 as httpx

    from banana_studio.engine import batch as engine_batch

    async def no_bytes(client: object, file_name: str, dest: Path) -> None:
        raise httpx.ConnectError("connection refused")

    monkeypatch.setattr(batch_mod, "RESULT_INLINE_LIMIT", 0)
    monkeypatch.setattr(engine_batch, "download_results", no_bytes)
    assert main(["batch", str(prompts_file(env, "a", "b")), "-p", "nob", "--poll", "0"]) == 1
    err = capsys.readouterr().err
    assert "2 results still to fetch" in err and "Traceback" not in err and "FileNotFoundError" not in err


def test_slow_cancel_reports_the_truth(env: Path, srv: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    srv.batch_seconds = 3600
    srv.batches.cancel_polls = 1
    assert main(["batch", str(prompts_file(env, "a")), "-p", "c", "--no-wait"]) == 0
    name = capsys.readouterr().out.strip()
    assert main(["batch", "--cancel", name, "-p", "c"]) == 0
    out = capsys.readouterr().out
    assert "cancel requested; Google is still stopping it (running)" in out
    assert "a job that ends cancelled brings back no results, so nothing is imported" in out
    assert main(["batch", "--resume", "-p", "c", "--poll", "0"]) == 1
    assert "ended cancelled" in capsys.readouterr().err
    with ProjectStore.open(projects(env), "c") as store:
        assert not store.tree_index()  # as promised: nothing imported from a cancelled job


def test_mode_is_chosen_by_expected_result_size(env: Path, srv: FakeGemini,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(prompts_file(env, "a", "b")), "-p", "small", "--no-wait"]) == 0
    assert "inline: 2 requests" in capsys.readouterr().err
    many = [f"poster {i}" for i in range(12)]
    assert main(["batch", str(prompts_file(env, *many)), "-p", "big", "--no-wait", "--size", "2K"]) == 0
    err = capsys.readouterr().err
    assert "file mode: about" in err and "recommends an input file for large image batches" in err
    (record,) = load_records(projects(env) / "big")
    assert record.input_mode == "file"
    create = [r for r in srv.requests if r.path.endswith(":batchGenerateContent")][-1]
    assert "fileName" in json.dumps(create.body)


def test_submit_says_search_grounding_is_charged_in_full(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(prompts_file(env, "a", "b")), "-p", "s", "--no-wait", "--search"]) == 0
    assert "Google Search grounding is charged at the full price" in capsys.readouterr().err
    assert main(["batch", str(prompts_file(env, "a")), "-p", "s", "--no-wait"]) == 0
    assert "Google Search" not in capsys.readouterr().err


def test_search_grounding_is_charged_in_full_in_batch() -> None:
    from banana_studio.domain.catalogue import get_model
    from banana_studio.domain.events import Usage
    from banana_studio.engine import actual_cost
    from banana_studio.services.budget import request_estimate

    settings = GenerationSettings(google_search=True)
    prices = get_model(settings.model).prices
    usage = Usage(prompt_tokens=100, candidates_tokens=1200, image_tokens=1120, thoughts_tokens=200, total_tokens=1500)
    search = 3 * prices.search_per_1000 / 1000
    full = actual_cost(settings, usage, 3)
    got = batch_mod.batch_cost(settings, usage, 3, prices.batch_discount)
    assert got == pytest.approx((full - search) * prices.batch_discount + search, abs=1e-6)
    assert got > full * prices.batch_discount
    plain = request_estimate(GenerationSettings(), batch=True)
    assert request_estimate(settings, batch=True) == pytest.approx(plain + prices.search_per_1000 / 1000, abs=1e-6)
