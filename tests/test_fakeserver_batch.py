"""Batch API and Files API of the fake Gemini server, through the real google-genai SDK."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from banana_studio.fakeserver import FakeGemini

PRO = "gemini-3-pro-image"


@pytest.fixture()
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(batch_seconds=0, small=True) as s:
        yield s


def client(srv: FakeGemini, **kw: object) -> genai.Client:
    return genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url, **kw))


def inline_request(prompt: str, key: str, aspect: str = "1:1") -> dict[str, object]:
    return {"contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "config": {"response_modalities": ["IMAGE"], "image_config": {"aspect_ratio": aspect, "image_size": "1K"}},
            "metadata": {"key": key}}


def test_inline_batch_round_trip(srv: FakeGemini) -> None:
    c = client(srv)
    job = c.batches.create(model=PRO, src=[inline_request("a cat", "cat", "16:9"),
                                           inline_request("a dog [fault:quota]", "dog"),
                                           inline_request("a cow", "cow", "9:16")],
                           config={"display_name": "animals"})
    assert job.name.startswith("batches/") and job.state == types.JobState.JOB_STATE_PENDING
    assert job.display_name == "animals" and job.model == f"models/{PRO}"
    wire = srv.requests[-1]
    assert wire.path == f"/v1/models/{PRO}:batchGenerateContent"
    assert wire.body["batch"]["inputConfig"]["requests"]["requests"][0]["metadata"] == {"key": "cat"}

    # a different client instance (e.g. after the app restarted) polls the same id
    other = client(srv)  # keep a reference: a temporary Client closes its HTTP client in __del__
    done = other.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED and done.end_time is not None
    got = {r.metadata["key"]: r for r in done.dest.inlined_responses}
    assert list(got) == ["cat", "dog", "cow"]
    assert got["dog"].error.code == 429 and got["dog"].response is None
    for key, size in (("cat", (1376, 768)), ("cow", (768, 1376))):
        parts = got[key].response.candidates[0].content.parts
        (img,) = [p for p in parts if p.inline_data]
        assert img.thought_signature and Image.open(io.BytesIO(img.inline_data.data)).size == size
    # results are computed once: polling again gives the same bytes
    again = other.batches.get(name=job.name)
    assert again.dest.inlined_responses[0].response.response_id == got["cat"].response.response_id


def test_file_batch_round_trip(srv: FakeGemini) -> None:
    c = client(srv)
    lines = [{"key": f"req-{i}", "request": {"contents": [{"parts": [{"text": f"poster {i}"}]}],
                                             "generation_config": {"responseModalities": ["TEXT", "IMAGE"]}}}
             for i in range(3)]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    uploaded = c.files.upload(file=io.BytesIO(data), config={"mime_type": "jsonl", "display_name": "prompts"})
    assert uploaded.name.startswith("files/") and uploaded.size_bytes == len(data)
    assert uploaded.state == types.FileState.ACTIVE
    assert c.files.get(name=uploaded.name).display_name == "prompts"
    assert uploaded.name in [f.name for f in c.files.list()]
    with pytest.raises(ValueError):  # uploaded files are not downloadable, as with the real API
        c.files.download(file=uploaded)

    job = c.batches.create(model=PRO, src=uploaded.name)
    assert srv.requests[-1].body["batch"]["inputConfig"] == {"fileName": uploaded.name}
    done = c.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    out = c.files.download(file=done.dest.file_name)
    results = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["key"] for r in results] == ["req-0", "req-1", "req-2"]
    parts = results[1]["response"]["candidates"][0]["content"]["parts"]
    assert any("inlineData" in p for p in parts)
    assert [p["text"] for p in parts if p.get("text")] == ["Here is your image: poster 1."]
    # the raw download route documented for REST
    import urllib.request

    fid = done.dest.file_name.removeprefix("files/")
    req = urllib.request.Request(f"{srv.base_url}/download/v1beta/files/{fid}:download?alt=media",
                                 headers={"x-goog-api-key": "k"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.read() == out
    result_file = c.files.get(name=done.dest.file_name)
    assert result_file.source == types.FileSource.GENERATED and result_file.download_uri
    c.files.delete(name=uploaded.name)
    with pytest.raises(errors.ClientError) as exc:
        c.files.get(name=uploaded.name)
    assert exc.value.code == 403


def test_states_progress_over_time() -> None:
    with FakeGemini(batch_seconds=0.6, small=True) as srv:
        c = client(srv)
        job = c.batches.create(model=PRO, src=[inline_request("slow batch", "x")])
        seen = []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            state = c.batches.get(name=job.name).state
            if not seen or seen[-1] != state:
                seen.append(state)
            if state == types.JobState.JOB_STATE_SUCCEEDED:
                break
            time.sleep(0.05)
        assert seen == [types.JobState.JOB_STATE_PENDING, types.JobState.JOB_STATE_RUNNING,
                        types.JobState.JOB_STATE_SUCCEEDED]


def test_cancel_delete_list() -> None:
    with FakeGemini(batch_seconds=30, small=True) as srv:
        c = client(srv)
        a = c.batches.create(model=PRO, src=[inline_request("a", "a")])
        b = c.batches.create(model=PRO, src=[inline_request("b", "b")])
        assert {j.name for j in c.batches.list()} == {a.name, b.name}
        c.batches.cancel(name=a.name)
        cancelled = c.batches.get(name=a.name)
        assert cancelled.state == types.JobState.JOB_STATE_CANCELLED and cancelled.dest is None
        c.batches.delete(name=b.name)
        assert [j.name for j in c.batches.list()] == [a.name]
        with pytest.raises(errors.ClientError) as exc:
            c.batches.get(name=b.name)
        assert exc.value.code == 404


def test_list_pages(srv: FakeGemini) -> None:
    c = client(srv)
    names = {c.batches.create(model=PRO, src=[inline_request(str(i), str(i))]).name for i in range(5)}
    pager = c.batches.list(config={"page_size": 2})
    assert {j.name for j in pager} == names


def test_batch_create_errors(srv: FakeGemini) -> None:
    c = client(srv)
    srv.inject("quota", retry_delay=3)
    with pytest.raises(errors.ClientError) as exc:
        c.batches.create(model=PRO, src=[inline_request("x", "x")])
    assert exc.value.code == 429
    srv.inject("no_image")  # not an HTTP error: left for the next generate call
    assert c.batches.create(model=PRO, src=[inline_request("x", "x")]).name
    assert srv.pending_faults == [("no_image", 1)]
    with pytest.raises(errors.ClientError) as exc:
        c.batches.create(model="gemini-3-pro-image-preview", src=[inline_request("x", "x")])
    assert exc.value.code == 404 and "batchGenerateContent" in exc.value.message
    with pytest.raises(errors.ClientError) as exc:
        c.batches.create(model=PRO, src="files/doesnotexist")
    assert exc.value.code == 404


async def test_async_sdk_upload_and_batch(srv: FakeGemini) -> None:
    c = client(srv)
    data = json.dumps({"key": "only", "request": {"contents": [{"parts": [{"text": "async"}]}]}}).encode()
    uploaded = await c.aio.files.upload(file=io.BytesIO(data), config={"mime_type": "jsonl"})
    job = await c.aio.batches.create(model=PRO, src=uploaded.name)
    done = await c.aio.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    out = await c.aio.files.download(file=done.dest.file_name)
    assert json.loads(out)["key"] == "only"


def test_the_rude_batch_side_is_scripted_over_http() -> None:
    """``serve-fake`` users script FAILED / EXPIRED, 5xx on status checks and downloads, cut downloads and
    slow cancels with POST /_fake/batch (the same fields tests set directly)."""
    import httpx2 as httpx

    with FakeGemini(small=True) as srv:
        tok = {"X-Fake-Token": srv.control_token}
        url = srv.base_url + "/_fake/batch"
        r = httpx.post(url, json={"outcome": "failed", "message": "input broken", "code": 3,
                                  "status_errors": [503, 500], "download_cut": 100, "cancel_polls": 2},
                       headers=tok, timeout=5)
        assert r.status_code == 200, r.text
        b = srv.batches
        assert (b.outcome, b.outcome_error) == ("FAILED", {"code": 3, "message": "input broken"})
        assert (b.status_errors, b.download_cut, b.cancel_polls) == ([503, 500], 100, 2)
        r = httpx.post(url, json={"outcome": "expired", "download_cut": None}, headers=tok, timeout=5)
        assert r.json()["outcome"] == "expired" and b.download_cut is None
        bad = httpx.post(url, json={"status_errors": ["x"]}, headers=tok, timeout=5)
        assert bad.status_code == 400 and "status_errors" in bad.text and b.status_errors == [503, 500]
        assert httpx.post(url, json={"outcome": "failed"}, timeout=5).status_code in (401, 403)  # no token
