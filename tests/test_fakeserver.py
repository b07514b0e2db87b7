"""The local fake Gemini server, exercised through the real google-genai SDK (127.0.0.1 only)."""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

try:  # google-genai 3.6 ships its HTTP client as ``httpx2``; older releases use ``httpx``
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx  # type: ignore[no-redef]

from banana_studio.domain.catalogue import STANDARD_RATIOS, pixel_size
from banana_studio.fakeserver import FAULTS, FakeGemini

PRO = "gemini-3-pro-image"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeGemini]:
    with FakeGemini(small=True) as srv:
        yield srv


@pytest.fixture()
def srv(server: FakeGemini) -> FakeGemini:
    server.reset()
    return server


@pytest.fixture()
def client(srv: FakeGemini) -> genai.Client:
    return genai.Client(api_key="test-key-123", http_options=types.HttpOptions(base_url=srv.base_url))


def cfg(aspect: str = "1:1", size: str = "1K", *, thoughts: bool = False, image_only: bool = True,
        **kw: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"] if image_only else ["TEXT", "IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=aspect, image_size=size),
        thinking_config=types.ThinkingConfig(include_thoughts=True) if thoughts else None,
        **kw,
    )


def final_image(resp: types.GenerateContentResponse) -> types.Part:
    parts = [p for p in resp.candidates[0].content.parts if p.inline_data and not p.thought]
    assert len(parts) == 1
    return parts[0]


def decode(part: types.Part) -> Image.Image:
    return Image.open(io.BytesIO(part.inline_data.data))


def post(srv: FakeGemini, path: str, body: Any, key: str | None = "k", **headers: str) -> httpx.Response:
    hdrs = {"Content-Type": "application/json", **headers}
    if key is not None:
        hdrs["x-goog-api-key"] = key
    return httpx.post(srv.base_url + path, content=json.dumps(body), headers=hdrs, timeout=10)


def png_bytes(size: tuple[int, int] = (40, 30), colour: tuple[int, int, int] = (250, 10, 10)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


# --- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["1K", "2K"])
def test_every_ratio_exact_pixel_size(client: genai.Client, size: str) -> None:
    for aspect in STANDARD_RATIOS:
        resp = client.models.generate_content(model=PRO, contents=f"size test {aspect}", config=cfg(aspect, size))
        part = final_image(resp)
        assert part.inline_data.mime_type == "image/jpeg"
        assert decode(part).size == pixel_size(aspect, size), (aspect, size)


@pytest.mark.parametrize("aspect", ["16:9", "1:1"])
def test_4k_exact(client: genai.Client, aspect: str) -> None:
    # (How fast the local server answers at 4K is a benchmark, not a test threshold.)
    resp = client.models.generate_content(model=PRO, contents=f"4k {aspect}", config=cfg(aspect, "4K"))
    img = decode(final_image(resp))
    assert img.size == pixel_size(aspect, "4K")
    if aspect == "16:9":
        assert img.size == (5504, 3072)
    assert resp.usage_metadata.candidates_tokens_details[0].token_count == 2000


def test_png_format() -> None:
    with FakeGemini(image_format="png", small=True) as srv:
        c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
        part = final_image(c.models.generate_content(model=PRO, contents="png please", config=cfg("3:2")))
        assert part.inline_data.mime_type == "image/png"
        assert decode(part).format == "PNG"
        assert decode(part).size == (1264, 848)


# --- streaming shape -------------------------------------------------------------------------


def test_stream_event_order(client: genai.Client) -> None:
    chunks = list(client.models.generate_content_stream(
        model=PRO, contents="A lighthouse made of cheese", config=cfg("16:9", "1K", thoughts=True, image_only=False)))
    kinds: list[str] = []
    for ch in chunks:
        assert ch.response_id and ch.model_version == PRO
        parts = ch.candidates[0].content.parts
        assert len(parts) == 1  # one part per event; the image is never split
        p = parts[0]
        if p.thought and p.text:
            assert p.text.startswith("**") and "\n" in p.text
            kinds.append("thought")
        elif p.thought and p.inline_data:
            kinds.append("draft")
        elif p.inline_data:
            assert p.thought_signature and 200 < len(p.thought_signature) < 8192
            kinds.append("final")
        elif p.text:
            assert p.thought_signature  # the first part after the thoughts is signed
            kinds.append("answer")
        else:
            assert p.text == ""
            kinds.append("close")
    first_draft = kinds.index("draft")
    assert kinds[:first_draft] == ["thought"] * first_draft and first_draft >= 2
    assert kinds[first_draft:] == ["draft", "draft", "answer", "final", "close"]
    assert "cheese" in chunks[0].candidates[0].content.parts[0].text
    assert [ch.candidates[0].finish_reason for ch in chunks][:-1] == [None] * (len(chunks) - 1)
    last = chunks[-1]
    assert last.candidates[0].finish_reason == types.FinishReason.STOP
    u = last.usage_metadata
    assert u.total_token_count == u.prompt_token_count + u.candidates_token_count + u.thoughts_token_count
    assert {d.modality.value: d.token_count for d in u.candidates_tokens_details}["IMAGE"] == 1120
    # drafts are smaller than the final image
    draft = Image.open(io.BytesIO(chunks[first_draft].candidates[0].content.parts[0].inline_data.data))
    final = Image.open(io.BytesIO(chunks[first_draft + 3].candidates[0].content.parts[0].inline_data.data))
    assert draft.width < final.width and final.size == (1376, 768)


def test_no_thoughts_and_image_only(client: genai.Client) -> None:
    resp = client.models.generate_content(model=PRO, contents="plain", config=cfg())
    parts = resp.candidates[0].content.parts
    assert len(parts) == 1 and parts[0].inline_data and not parts[0].thought and parts[0].thought_signature
    assert resp.usage_metadata.thoughts_token_count  # Pro thinks (and bills) even without summaries
    resp = client.models.generate_content(model=PRO, contents="with text", config=cfg(image_only=False))
    texts = [p.text for p in resp.candidates[0].content.parts if p.text]
    assert texts == ["Here is your image: with text."]


def test_non_stream_merges_parts_in_order(client: genai.Client) -> None:
    resp = client.models.generate_content(model=PRO, contents="merge", config=cfg(thoughts=True, image_only=False))
    parts = resp.candidates[0].content.parts
    flags = [("t" if p.thought else "-") + ("i" if p.inline_data else "x") for p in parts]
    assert flags == ["tx", "tx", "tx", "ti", "ti", "-x", "-i"]
    assert resp.candidates[0].finish_reason == types.FinishReason.STOP


def test_grounding_metadata(client: genai.Client) -> None:
    config = cfg(image_only=False, tools=[types.Tool(google_search=types.GoogleSearch())])
    chunks = list(client.models.generate_content_stream(model=PRO, contents="weather in Lisbon", config=config))
    gm = chunks[-1].candidates[0].grounding_metadata
    assert gm.web_search_queries and "Lisbon" in gm.web_search_queries[0]
    assert gm.search_entry_point.rendered_content.startswith("<style>")
    assert len(gm.grounding_chunks) == 3 and all(c.web.uri.startswith("https://") for c in gm.grounding_chunks)
    assert gm.grounding_supports
    assert chunks[-1].usage_metadata.tool_use_prompt_token_count > 0


def test_deterministic_images(client: genai.Client) -> None:
    a = final_image(client.models.generate_content(model=PRO, contents="same", config=cfg(seed=7)))
    b = final_image(client.models.generate_content(model=PRO, contents="same", config=cfg(seed=7)))
    c = final_image(client.models.generate_content(model=PRO, contents="same", config=cfg(seed=8)))
    assert a.inline_data.data == b.inline_data.data
    assert a.inline_data.data != c.inline_data.data
    assert a.thought_signature != b.thought_signature  # new responseId each time


def test_reference_images_are_composited(client: genai.Client) -> None:
    ref = png_bytes((64, 64), (255, 0, 0))
    plain = final_image(client.models.generate_content(model=PRO, contents="refs", config=cfg()))
    with_ref = final_image(client.models.generate_content(
        model=PRO, contents=["refs", types.Part.from_bytes(data=ref, mime_type="image/png")], config=cfg()))
    assert plain.inline_data.data != with_ref.inline_data.data
    img = decode(with_ref).convert("RGB")
    w, h = img.size
    # the red thumbnail sits in the bottom-left corner
    r, g, b = img.getpixel((int(w * 0.08), int(h * 0.9)))
    assert r > 200 and g < 60 and b < 60


def test_default_aspect_follows_reference(client: genai.Client) -> None:
    ref = png_bytes((160, 90))
    resp = client.models.generate_content(
        model=PRO, contents=["wide", types.Part.from_bytes(data=ref, mime_type="image/png")],
        config=types.GenerateContentConfig(response_modalities=["IMAGE"]))
    assert decode(final_image(resp)).size == (1376, 768)


# --- multi-turn / thought signatures ----------------------------------------------------------


def test_two_turn_edit_signatures(client: genai.Client, srv: FakeGemini) -> None:
    config = cfg(thoughts=True, image_only=False)
    first = client.models.generate_content(model=PRO, contents="a blue cat", config=config)
    model_turn = first.candidates[0].content
    history = [types.Content(role="user", parts=[types.Part(text="a blue cat")]), model_turn,
               types.Content(role="user", parts=[types.Part(text="make it wear a hat")])]
    second = client.models.generate_content(model=PRO, contents=history, config=config)
    new = final_image(second)
    assert new.inline_data.data != final_image(first).inline_data.data
    assert any("previous image" in (p.text or "") for p in second.candidates[0].content.parts if p.thought)

    # the edit is based on the previous image: below the prompt band it stays close to it
    def lower(img: Image.Image) -> Image.Image:
        w, h = img.size
        return img.convert("RGB").crop((0, int(h * 0.6), w, h)).resize((32, 16))

    old_img, new_img = lower(decode(final_image(first))), lower(decode(new))
    other = lower(decode(final_image(client.models.generate_content(model=PRO, contents="make it wear a hat",
                                                                    config=config))))

    def dist(a: Image.Image, b: Image.Image) -> int:
        return sum(abs(x - y) for pa, pb in zip(a.get_flattened_data(), b.get_flattened_data(), strict=True)
                   for x, y in zip(pa, pb, strict=True))

    assert dist(old_img, new_img) * 2 < dist(old_img, other)

    # a restarted server (same secret) still accepts the signatures: they are derived, not stored
    with FakeGemini(small=True) as again:
        c2 = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=again.base_url))
        assert c2.models.generate_content(model=PRO, contents=history, config=cfg()).candidates

    stripped = model_turn.model_copy(deep=True)
    for p in stripped.parts:
        p.thought_signature = None
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=PRO, contents=[history[0], stripped, history[2]], config=config)
    assert exc.value.code == 400 and exc.value.status == "INVALID_ARGUMENT"
    text_pos = next(i for i, p in enumerate(stripped.parts) if p.text and not p.thought) + 1
    assert f"Text part is missing a thought_signature in content position 2, part position {text_pos}" \
        in exc.value.message
    stripped = model_turn.model_copy(deep=True)
    for p in stripped.parts:
        if p.inline_data and not p.thought:
            p.thought_signature = None
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=PRO, contents=[history[0], stripped, history[2]], config=config)
    img_pos = next(i for i, p in enumerate(stripped.parts) if p.inline_data and not p.thought) + 1
    assert f"Image part is missing a thought_signature in content position 2, part position {img_pos}" \
        in exc.value.message

    forged = model_turn.model_copy(deep=True)
    for p in forged.parts:
        if p.thought_signature:
            p.thought_signature = b"\x00" * 64
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=PRO, contents=[history[0], forged, history[2]], config=config)
    assert exc.value.message == "Corrupted thought signature."

    with FakeGemini(secret=b"another server", small=True) as other_srv:
        c3 = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=other_srv.base_url))
        with pytest.raises(errors.ClientError, match="Corrupted thought signature"):
            c3.models.generate_content(model=PRO, contents=history, config=cfg())


def test_snake_camel_and_urlsafe_base64(srv: FakeGemini) -> None:
    # bytes chosen so that the base64 text differs between the two alphabets
    ref = png_bytes((33, 17), (251, 239, 190))
    std, url = base64.b64encode(ref).decode(), base64.urlsafe_b64encode(ref).decode()
    assert std != url
    snake = {"contents": [{"role": "user", "parts": [{"text": "snake"},
                                                     {"inline_data": {"mime_type": "image/png", "data": url}}]}],
             "generation_config": {"response_modalities": ["image"],
                                   "image_config": {"aspect_ratio": "4:3", "image_size": "1K"},
                                   "thinking_config": {"include_thoughts": True}}}
    camel = {"contents": [{"role": "user", "parts": [{"text": "snake"},
                                                     {"inlineData": {"mimeType": "image/png", "data": std}}]}],
             "generationConfig": {"responseModalities": ["Image"],
                                  "imageConfig": {"aspectRatio": "4:3", "imageSize": "1K"},
                                  "thinkingConfig": {"includeThoughts": True}}}
    answers = []
    for body in (snake, camel):
        r = post(srv, f"/v1beta/models/{PRO}:generateContent", body)
        assert r.status_code == 200, r.text
        data = r.json()
        parts = data["candidates"][0]["content"]["parts"]
        assert parts[0]["thought"] is True and "thoughtSignature" in parts[-1]
        assert not any("text" in p and not p.get("thought") for p in parts)  # IMAGE only
        final = parts[-1]["inlineData"]
        assert final["mimeType"] == "image/jpeg"
        raw = base64.b64decode(final["data"], validate=True)  # standard alphabet out
        assert Image.open(io.BytesIO(raw)).size == (1200, 896)
        assert data["usageMetadata"]["promptTokensDetails"][1] == {"modality": "IMAGE", "tokenCount": 560}
        answers.append(raw)
    assert answers[0] == answers[1]


def test_path_prefix_versions_and_model_listing(srv: FakeGemini) -> None:
    body = {"contents": [{"parts": [{"text": "prefix"}]}]}
    for path in (f"/v1/models/{PRO}:generateContent", f"/v1alpha/models/{PRO}:generateContent",
                 f"/some/prefix/v1beta/models/{PRO}:generateContent"):
        assert post(srv, path, body).status_code == 200, path
    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url + "/pfx/"))
    names = [m.name for m in c.models.list()]
    assert f"models/{PRO}" in names and "models/gemini-2.5-flash-image" not in names
    assert c.models.get(model=PRO).display_name == "Nano Banana Pro"
    assert c.models.get(model="my-future-model").name == "models/my-future-model"


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "message"), [
    (cfg(size="2k"), "Unsupported image size: 2k"),
    (cfg(aspect="1:4"), "Unsupported aspect ratio: 1:4"),
    (cfg(candidate_count=2), f"Multiple candidates is not enabled for models/{PRO}"),
    (types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_level="HIGH", thinking_budget=100)),
     "You can only set only one of thinking budget and thinking level."),
])
def test_validation_errors(client: genai.Client, config: types.GenerateContentConfig, message: str) -> None:
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=PRO, contents="bad", config=config)
    assert exc.value.code == 400 and exc.value.status == "INVALID_ARGUMENT"
    assert message in exc.value.message


@pytest.mark.parametrize("model", ["gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview",
                                   "gemini-2.5-flash-image"])
def test_retired_models_404(client: genai.Client, model: str) -> None:
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=model, contents="x")
    assert exc.value.code == 404 and exc.value.status == "NOT_FOUND"
    assert exc.value.message.startswith(f"models/{model} is not found for API version v1, or is not supported "
                                        "for generateContent")


def test_other_models_accepted(client: genai.Client) -> None:
    resp = client.models.generate_content(model="gemini-nano-banana-2.1", contents="wide", config=cfg("8:1", "2K"))
    assert decode(final_image(resp)).size == pixel_size("8:1", "2K")
    resp = client.models.generate_content(model="models/totally-new-model", contents="x", config=cfg())
    assert resp.model_version == "totally-new-model"


def test_auth(srv: FakeGemini) -> None:
    body = {"contents": [{"parts": [{"text": "auth"}]}]}
    r = post(srv, f"/v1beta/models/{PRO}:generateContent", body, key=None)
    assert r.status_code == 403
    assert r.json()["error"]["status"] == "PERMISSION_DENIED"
    assert r.json()["error"]["message"].startswith("Method doesn't allow unregistered callers")
    with FakeGemini(valid_keys={"good"}, small=True) as strict:
        ok = genai.Client(api_key="good", http_options=types.HttpOptions(base_url=strict.base_url))
        assert ok.models.generate_content(model=PRO, contents="x", config=cfg()).candidates
        bad = genai.Client(api_key="wrong", http_options=types.HttpOptions(base_url=strict.base_url))
        with pytest.raises(errors.ClientError) as exc:
            bad.models.generate_content(model=PRO, contents="x")
        assert exc.value.code == 400 and exc.value.status == "INVALID_ARGUMENT"
        assert exc.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        # ?key= works too, and is redacted in the record
        r = httpx.post(strict.base_url + f"/v1beta/models/{PRO}:generateContent?key=good", json=body, timeout=10)
        assert r.status_code == 200
        assert strict.requests[-1].query["key"] == "<redacted>"
        assert all(rq.headers.get("x-goog-api-key") in (None, "<redacted>") for rq in strict.requests)
        assert "good" not in json.dumps([rq.to_json() for rq in strict.requests])


def test_binds_loopback_only(srv: FakeGemini) -> None:
    assert srv.address[0] == "127.0.0.1"
    assert srv.base_url == f"http://127.0.0.1:{srv.address[1]}"


def test_recorded_requests(client: genai.Client, srv: FakeGemini) -> None:
    client.models.generate_content(model=PRO, contents="record me", config=cfg())
    (rec,) = srv.requests
    assert rec.method == "POST" and rec.path == f"/v1/models/{PRO}:generateContent"
    assert rec.headers["x-goog-api-key"] == "<redacted>"
    assert rec.body["contents"][0]["parts"][0]["text"] == "record me"
    assert rec.received_at <= time.time()
    listed = httpx.get(srv.base_url + "/_fake/requests", headers={"X-Fake-Token": srv.control_token},
                       timeout=5).json()["requests"]
    assert listed[0]["headers"]["x-goog-api-key"] == "<redacted>"
    assert "test-key-123" not in json.dumps(listed)


# --- faults ---------------------------------------------------------------------------------------

ERROR_FAULTS = [("bad_key", 400, "INVALID_ARGUMENT"), ("permission", 403, "PERMISSION_DENIED"),
                ("not_found", 404, "NOT_FOUND"), ("quota", 429, "RESOURCE_EXHAUSTED"), ("server", 500, "INTERNAL"),
                ("overloaded", 503, "UNAVAILABLE")]


@pytest.mark.parametrize(("name", "code", "status"), ERROR_FAULTS)
def test_error_faults_then_recovery(client: genai.Client, srv: FakeGemini, name: str, code: int,
                                    status: str) -> None:
    srv.inject(name, count=2)
    for _ in range(2):
        with pytest.raises(errors.APIError) as exc:
            client.models.generate_content(model=PRO, contents="x", config=cfg())
        assert exc.value.code == code and exc.value.status == status
        assert isinstance(exc.value, errors.ClientError if code < 500 else errors.ServerError)
    assert client.models.generate_content(model=PRO, contents="x", config=cfg()).candidates
    if name == "overloaded":
        assert exc.value.message == "The model is overloaded. Please try again later."


def test_quota_retry_info(client: genai.Client, srv: FakeGemini) -> None:
    srv.inject("quota", retry_delay=1.5)
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=PRO, contents="x", config=cfg())
    details = exc.value.details["error"]["details"]
    types_ = {d["@type"].rsplit(".", 1)[1]: d for d in details}
    assert types_["RetryInfo"]["retryDelay"] == "1.5s"
    assert types_["QuotaFailure"]["violations"][0]["quotaDimensions"]["model"] == PRO
    srv.inject("quota")
    with pytest.raises(errors.ClientError) as exc:
        client.models.generate_content(model=PRO, contents="x", config=cfg())
    assert not any("RetryInfo" in d["@type"] for d in exc.value.details["error"]["details"])


def test_sdk_retry_succeeds_after_503(srv: FakeGemini) -> None:
    srv.inject("overloaded", count=2)
    c = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=srv.base_url, retry_options=types.HttpRetryOptions(attempts=3, initial_delay=0.01, jitter=0)))
    assert c.models.generate_content(model=PRO, contents="retry", config=cfg()).candidates
    assert len(srv.requests) == 3


def test_fault_by_header_tag_and_control_route(srv: FakeGemini) -> None:
    c = genai.Client(api_key="k", http_options=types.HttpOptions(
        base_url=srv.base_url, headers={"x-fake-fault": "quota;retry_delay=2"}))
    with pytest.raises(errors.ClientError) as exc:
        c.models.generate_content(model=PRO, contents="x", config=cfg())
    assert exc.value.code == 429 and '"retryDelay": "2s"' in json.dumps(exc.value.details)

    plain = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
    with pytest.raises(errors.ServerError) as exc:
        plain.models.generate_content(model=PRO, contents="a cat [fault:overloaded]", config=cfg())
    assert exc.value.code == 503
    resp = plain.models.generate_content(model=PRO, contents="tag stripped [fault:slow;seconds=0]",
                                         config=cfg(image_only=False))
    assert [p.text for p in resp.candidates[0].content.parts if p.text] == ["Here is your image: tag stripped."]

    tok = {"X-Fake-Token": srv.control_token}
    r = httpx.post(srv.base_url + "/_fake/faults", json={"name": "server", "count": 1}, headers=tok, timeout=5)
    assert r.status_code == 200 and r.json()["pending"] == [{"name": "server", "count": 1}]
    with pytest.raises(errors.ServerError):
        plain.models.generate_content(model=PRO, contents="x", config=cfg())
    assert plain.models.generate_content(model=PRO, contents="x", config=cfg()).candidates
    httpx.post(srv.base_url + "/_fake/faults", json={"name": "server", "count": 3}, headers=tok, timeout=5)
    assert httpx.post(srv.base_url + "/_fake/reset", json={}, headers=tok, timeout=5).status_code == 200
    assert srv.pending_faults == [] and srv.requests == []
    assert httpx.post(srv.base_url + "/_fake/faults", json={"name": "nope"}, headers=tok,
                      timeout=5).status_code == 400
    with pytest.raises(ValueError):
        srv.inject("nope")


def test_slow_and_hang(srv: FakeGemini) -> None:
    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url, timeout=5000))
    srv.inject("slow", seconds=0.3)
    t0 = time.perf_counter()
    assert c.models.generate_content(model=PRO, contents="slow", config=cfg()).candidates
    assert time.perf_counter() - t0 >= 0.3
    srv.inject("hang", seconds=0.3)
    t0 = time.perf_counter()
    with pytest.raises(httpx.HTTPError):
        c.models.generate_content(model=PRO, contents="hang", config=cfg())
    assert time.perf_counter() - t0 >= 0.3
    # a client timeout shorter than the hang
    srv.inject("hang", seconds=5)
    quick = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url, timeout=300))
    with pytest.raises(httpx.TimeoutException):
        quick.models.generate_content(model=PRO, contents="hang", config=cfg())


def stream(client: genai.Client, prompt: str, **kw: Any) -> list[types.GenerateContentResponse]:
    return list(client.models.generate_content_stream(model=PRO, contents=prompt,
                                                      config=cfg(thoughts=True, image_only=False, **kw)))


def test_stream_error_mid_stream(client: genai.Client, srv: FakeGemini) -> None:
    srv.inject("stream_error")
    got = []
    with pytest.raises(errors.ServerError) as exc:
        for ch in client.models.generate_content_stream(model=PRO, contents="x", config=cfg(thoughts=True)):
            got.append(ch)
    assert exc.value.code == 503 and exc.value.status == "UNAVAILABLE"
    assert got and all(ch.candidates[0].content.parts[0].thought for ch in got)


def test_truncated_stream(client: genai.Client, srv: FakeGemini) -> None:
    srv.inject("truncated")
    got = []
    with pytest.raises(httpx.RemoteProtocolError):
        for ch in client.models.generate_content_stream(model=PRO, contents="x", config=cfg(thoughts=True)):
            got.append(ch)
    assert got and not any(ch.candidates[0].finish_reason for ch in got)
    srv.inject("truncated")
    with pytest.raises(httpx.RemoteProtocolError):
        client.models.generate_content(model=PRO, contents="x", config=cfg())


def test_malformed_json(client: genai.Client, srv: FakeGemini) -> None:
    srv.inject("malformed_json")
    with pytest.raises((json.JSONDecodeError, errors.UnknownApiResponseError)):
        stream(client, "x")
    r = post(srv, f"/v1beta/models/{PRO}:streamGenerateContent?alt=sse",
             {"contents": [{"parts": [{"text": "[fault:malformed_json]"}]}]})
    events = [e for e in r.text.split("\r\n\r\n") if e]
    with pytest.raises(json.JSONDecodeError):
        json.loads(events[-1].removeprefix("data: "))


def test_bad_base64(srv: FakeGemini) -> None:
    r = post(srv, f"/v1beta/models/{PRO}:generateContent", {"contents": [{"parts": [{"text": "x"}]}]},
             **{"x-fake-fault": "bad_base64"})
    (data,) = [p["inlineData"]["data"] for p in r.json()["candidates"][0]["content"]["parts"] if "inlineData" in p]
    with pytest.raises(ValueError):
        base64.b64decode(data, validate=True)


@pytest.mark.parametrize(("name", "reason"), [("image_safety", "IMAGE_SAFETY"),
                                              ("image_prohibited", "IMAGE_PROHIBITED_CONTENT")])
def test_safety_faults(client: genai.Client, srv: FakeGemini, name: str, reason: str) -> None:
    srv.inject(name)
    chunks = stream(client, "x")
    last = chunks[-1].candidates[0]
    assert last.finish_reason == types.FinishReason[reason]
    assert last.content.role == "model" and last.content.parts is None
    assert all(ch.candidates[0].content.parts[0].thought for ch in chunks[:-1])
    srv.inject(name)
    r = post(srv, f"/v1beta/models/{PRO}:generateContent", {"contents": [{"parts": [{"text": "x"}]}]})
    cand = r.json()["candidates"][0]
    assert cand["content"] == {"role": "model"} and cand["finishReason"] == reason
    assert "Support codes" in cand["finishMessage"]  # on the wire (SDK 3.6.1 drops it in Gemini API mode)


def test_no_image_blocked_and_null_shapes(client: genai.Client, srv: FakeGemini) -> None:
    def raw(fault: str) -> dict[str, Any]:
        r = post(srv, f"/v1beta/models/{PRO}:generateContent", {"contents": [{"parts": [{"text": "x"}]}]},
                 **{"x-fake-fault": fault})
        assert r.status_code == 200
        return r.json()

    cand = raw("no_image")["candidates"][0]
    assert cand["content"] == {} and cand["finishReason"] == "NO_IMAGE"
    blocked = raw("blocked_prompt")
    assert "candidates" not in blocked and blocked["promptFeedback"] == {"blockReason": "PROHIBITED_CONTENT"}
    cand = raw("parts_null")["candidates"][0]
    assert cand["content"] == {"role": "model", "parts": None} and cand["finishReason"] == "STOP"
    assert raw("candidates_null")["candidates"] is None

    srv.inject("blocked_prompt")
    chunks = stream(client, "x")
    assert len(chunks) == 1 and chunks[0].prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT
    srv.inject("no_image")
    resp = client.models.generate_content(model=PRO, contents="x", config=cfg())
    assert resp.candidates[0].finish_reason == types.FinishReason.NO_IMAGE
    assert resp.candidates[0].content.parts is None
    srv.inject("candidates_null")
    assert client.models.generate_content(model=PRO, contents="x", config=cfg()).candidates is None


def test_text_base64_empty_signature_text_only(client: genai.Client, srv: FakeGemini) -> None:
    srv.inject("text_base64")
    resp = client.models.generate_content(model=PRO, contents="x", config=cfg())
    (part,) = resp.candidates[0].content.parts
    assert part.inline_data is None and part.thought_signature
    assert Image.open(io.BytesIO(base64.b64decode(part.text))).size == (1024, 1024)

    srv.inject("empty_signature")
    r = post(srv, f"/v1beta/models/{PRO}:generateContent", {"contents": [{"parts": [{"text": "x"}]}]})
    (img,) = [p for p in r.json()["candidates"][0]["content"]["parts"] if "inlineData" in p]
    assert img["thoughtSignature"] == ""

    srv.inject("text_only")
    chunks = stream(client, "a poem")
    parts = [p for ch in chunks for p in ch.candidates[0].content.parts]
    assert not any(p.inline_data for p in parts)
    answer = [p for p in parts if p.text and not p.thought]
    # like a real text stream, the signature arrives on the closing empty text part
    assert len(answer) == 1 and answer[0].thought_signature is None
    assert parts[-1].text == "" and parts[-1].thought_signature
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP


def test_every_fault_is_documented() -> None:
    assert set(FAULTS) == {
        "bad_key", "permission", "not_found", "quota", "server", "overloaded", "high_demand", "slow", "hang",
        "stream_error", "truncated", "malformed_json", "bad_base64", "image_safety", "image_prohibited", "no_image",
        "blocked_prompt", "parts_null", "candidates_null", "text_base64", "empty_signature", "text_only",
        "key_echo", "hostile_text", "lying_image", "bad_unicode", "region_leak"}
    assert all(isinstance(v, str) and v for v in FAULTS.values())


def test_latency_spaces_stream_events() -> None:
    with FakeGemini(latency=0.05, small=True) as slow:
        c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=slow.base_url))
        t0 = time.perf_counter()
        chunks = stream(c, "latency")
        assert time.perf_counter() - t0 >= 0.05 * (len(chunks) - 1)


async def test_async_stream(srv: FakeGemini) -> None:
    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
    n = 0
    async for ch in await c.aio.models.generate_content_stream(model=PRO, contents="async",
                                                                config=cfg(thoughts=True)):
        n += 1
        last = ch
    assert n >= 5 and last.candidates[0].finish_reason == types.FinishReason.STOP


def test_env_base_url_and_sdk_chat(srv: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", srv.base_url)
    monkeypatch.setenv("GOOGLE_API_KEY", "env-key")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    c = genai.Client()
    chat = c.chats.create(model=PRO, config=cfg(thoughts=True, image_only=False))
    first = chat.send_message("a red kite")
    second = chat.send_message("now at night")  # the SDK replays the model turn with its signatures
    assert final_image(second).inline_data.data != final_image(first).inline_data.data
    assert len(srv.requests) == 2 and len(srv.requests[1].body["contents"]) == 3
    assert srv.requests[1].headers["x-goog-api-key"] == "<redacted>"


def test_not_reachable_on_other_addresses(srv: FakeGemini) -> None:
    import socket

    with socket.socket() as s, pytest.raises(OSError):
        s.settimeout(2)
        s.connect(("127.0.0.2", srv.address[1]))  # same loopback device, other address: refused


def test_stop_interrupts_a_hang() -> None:
    import threading

    srv = FakeGemini(small=True).start()
    srv.inject("hang", seconds=60)
    c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=srv.base_url))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            c.models.generate_content(model=PRO, contents="hang", config=cfg())
        except BaseException as exc:
            outcome.append(exc)

    t = threading.Thread(target=call)
    t.start()
    deadline = time.monotonic() + 5
    while not srv.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = time.perf_counter()
    srv.stop()
    t.join(timeout=5)
    assert not t.is_alive() and time.perf_counter() - t0 < 3
    assert outcome and isinstance(outcome[0], httpx.HTTPError)


@pytest.mark.parametrize(("body", "message"), [
    ({"contents": []}, "contents is not specified"),
    ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
    ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"seed": "abc"}}, "generation_config.seed"),
    ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"imageConfig": "16:9"}}, "image_config"),
    ({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "%%%"}}]}]},
     "Base64 decoding failed"),
    ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"responseModalities": ["PICTURE"]}},
     "PICTURE"),
])
def test_bad_requests_are_400_not_crashes(srv: FakeGemini, body: dict[str, Any], message: str) -> None:
    r = post(srv, f"/v1beta/models/{PRO}:generateContent", body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT" and message in r.json()["error"]["message"]
    r = httpx.post(srv.base_url + f"/v1beta/models/{PRO}:generateContent", content=b"{not json",
                   headers={"x-goog-api-key": "k", "Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 400 and "Invalid JSON payload" in r.json()["error"]["message"]


def test_every_fault_name_parses_as_tag_and_header() -> None:
    from banana_studio.fakeserver.faults import find_tag, parse_spec

    for name in FAULTS:
        fault, cleaned = find_tag(f"a cat [fault:{name};retry_delay=2.5] on a mat")
        assert fault is not None and fault.name == name and fault.num("retry_delay") == 2.5
        assert cleaned == "a cat  on a mat"
        header = parse_spec(f"{name};seconds=3")
        assert header is not None and header.name == name and header.num("seconds") == 3
    assert find_tag("no [fault:unknown_thing] here")[0] is None


def test_import_is_light_and_cli_serves() -> None:
    import os
    import signal
    import subprocess
    import sys

    code = ("import sys, banana_studio.fakeserver; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'google', 'PIL'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "[]"

    proc = subprocess.Popen([sys.executable, "-m", "banana_studio", "serve-fake", "--port", "0", "--latency", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("Fake Gemini server listening on http://127.0.0.1:")
        base = first.split(" on ", 1)[1].split(" ", 1)[0]
        rest = "".join(proc.stdout.readline() for _ in range(12))
        assert f"GOOGLE_GEMINI_BASE_URL={base}" in rest and "quota" in rest
        c = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=base))
        assert c.models.generate_content(model=PRO, contents="cli", config=cfg()).candidates
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_text_modality_only(client: genai.Client) -> None:
    resp = client.models.generate_content(model=PRO, contents="describe a fox",
                                          config=types.GenerateContentConfig(response_modalities=["TEXT"]))
    parts = resp.candidates[0].content.parts
    assert not any(p.inline_data for p in parts) and "describe a fox" in parts[0].text
    assert not any(d.modality.value == "IMAGE" for d in resp.usage_metadata.candidates_tokens_details)


def test_a_huge_prompt_is_drawn_from_its_first_lines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only four lines of the prompt are drawn: wrapping the whole of a 25 MB prompt kept the server busy
    for minutes (the client timed out)."""
    import textwrap

    from banana_studio.fakeserver import images

    seen: list[int] = []
    real_wrap = textwrap.wrap

    def wrap(text: str, *args: object, **kwargs: object) -> list[str]:
        seen.append(len(text))
        return real_wrap(text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(images.textwrap, "wrap", wrap)
    out = images.render(images.ImageSpec(prompt="word " * 400_000, model="m", aspect_ratio="1:1",
                                         image_size="1K", width=256, height=256))
    assert out.final and seen and max(seen) < 10_000, seen
