"""Reality parity: the local server at real size, multi-turn at real scale, and model facts.

Real-size tests build ``FakeGemini()`` (the default) or use ``real_size_demo``; everything else in the
suite runs small (see tests/conftest.py).  No timing thresholds here: benchmarks/ measure speed.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types
from PIL import Image

from banana_studio.config import Config
from banana_studio.domain.catalogue import DEFAULT_MODEL, get_model
from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.events import Finished, TurnSaved, Usage
from banana_studio.domain.settings import MAX_REQUEST_BYTES, GenerationSettings, thinking_levels_for, validate_settings
from banana_studio.engine import ApiTarget, actual_cost, map_error, request_size, run_turn
from banana_studio.engine.request import build_config, build_request, replay_content, size_warning
from banana_studio.fakeserver import FakeGemini
from banana_studio.fakeserver.protocol import SIG_MAX, SIG_MIN, Signer
from banana_studio.services import GenerateRequest, Studio

PRO = "gemini-3-pro-image"
FLASH = "gemini-3.1-flash-image"
KEY = "test-key-for-the-fake-server"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def real() -> Iterator[FakeGemini]:
    with FakeGemini() as srv:
        yield srv


@pytest.fixture(scope="module")
def small() -> Iterator[FakeGemini]:
    with FakeGemini(small=True) as srv:
        yield srv


_CLIENTS: dict[str, genai.Client] = {}


def client(srv: FakeGemini) -> genai.Client:
    """One client per server, kept alive (a collected client closes its connection pool)."""
    if srv.base_url not in _CLIENTS:
        _CLIENTS[srv.base_url] = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=srv.base_url))
    return _CLIENTS[srv.base_url]


def cfg(size: str = "1K", **kw: object) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"],
                                       image_config=types.ImageConfig(aspect_ratio="1:1", image_size=size),
                                       thinking_config=types.ThinkingConfig(include_thoughts=True), **kw)


# -- real sizes ----------------------------------------------------------------------------------


def test_real_size_answer_has_real_encoded_sizes_and_signatures(real: FakeGemini) -> None:
    resp = client(real).models.generate_content(model=PRO, contents="a fox in the snow", config=cfg())
    parts = resp.candidates[0].content.parts
    final = [p for p in parts if p.inline_data and not p.thought]
    drafts = [p for p in parts if p.inline_data and p.thought]
    answer = [p for p in parts if p.text and not p.thought]
    assert len(final) == 1 and len(drafts) == 2 and len(answer) == 1
    jpeg = final[0].inline_data.data
    assert Image.open(io.BytesIO(jpeg)).size == (1024, 1024)
    assert 0.7 * MB <= len(jpeg) <= 1.2 * MB  # like recorded live 1K answers
    assert all(len(d.inline_data.data) >= 0.5 * MB for d in drafts)  # drafts are full pictures too
    # signatures: on the leading answer text and on the final image, 0.5-2.5 MB each; none on thoughts
    for p in (answer[0], final[0]):
        assert SIG_MIN <= len(p.thought_signature) <= SIG_MAX
    assert parts.index(answer[0]) < parts.index(final[0])
    assert all(p.thought_signature is None for p in parts if p.thought)


def test_real_size_scales_with_size(real: FakeGemini) -> None:
    r2 = client(real).models.generate_content(model=PRO, contents="a fox", config=cfg("2K"))
    (img,) = [p for p in r2.candidates[0].content.parts if p.inline_data and not p.thought]
    assert 2 * MB <= len(img.inline_data.data) <= 5 * MB


def test_small_switch_keeps_answers_small(small: FakeGemini) -> None:
    resp = client(small).models.generate_content(model=PRO, contents="a fox", config=cfg())
    (img,) = [p for p in resp.candidates[0].content.parts if p.inline_data and not p.thought]
    assert len(img.inline_data.data) < 300_000 and len(img.thought_signature) < 8192


def test_signatures_are_deterministic_and_verified_byte_exact() -> None:
    signer = Signer(b"s")
    sig = signer.sign("resp-1", 4)
    assert sig == Signer(b"s").sign("resp-1", 4) and SIG_MIN <= len(sig) <= SIG_MAX
    assert signer.verify(sig) and not Signer(b"other").verify(sig)
    for pos in (10, len(sig) // 2, len(sig) - 1):  # header, filler, last byte
        bad = bytearray(sig)
        bad[pos] ^= 1
        assert not signer.verify(bytes(bad))
    assert not signer.verify(sig[:-1])
    assert signer.verify(Signer(b"s", real_size=False).sign("r", 1))  # a small server's history still replays


def test_real_size_replay_verifies_big_signatures(real: FakeGemini) -> None:
    c = client(real)
    first = c.models.generate_content(model=PRO, contents="a lighthouse", config=cfg())
    history = [types.Content(role="user", parts=[types.Part(text="a lighthouse")]), first.candidates[0].content,
               types.Content(role="user", parts=[types.Part(text="at night")])]
    assert c.models.generate_content(model=PRO, contents=history, config=cfg()).candidates
    forged = first.candidates[0].content.model_copy(deep=True)
    for p in forged.parts:
        if p.inline_data and not p.thought:
            sig = bytearray(p.thought_signature)
            sig[len(sig) // 2] ^= 0xFF
            p.thought_signature = bytes(sig)
    with pytest.raises(errors.ClientError, match="Corrupted thought signature"):
        c.models.generate_content(model=PRO, contents=[history[0], forged, history[2]], config=cfg())


# -- closing empty text parts ---------------------------------------------------------------------


def test_replay_drops_closing_empty_text_and_moves_its_signature() -> None:
    sig = b"\x01sig"
    model = Content("model", [Part(text="thinking", thought=True), Part(text="Here it is."),
                              Part(text="", thought_signature=sig)])
    out = replay_content(model)
    assert [(p.text, p.thought_signature) for p in out.parts] == [("thinking", None), ("Here it is.", sig)]
    # after a signed image, an unsigned closing part just goes; a signed one that has no home stays
    img = Part(mime_type="image/jpeg", data=b"\xff\xd8\xff", thought_signature=b"img")
    assert replay_content(Content("model", [img, Part(text="")])).parts == [img]
    kept = replay_content(Content("model", [img, Part(text="", thought_signature=sig)])).parts
    assert kept[-1].thought_signature == sig
    assert model.parts[-1].text == "" and len(model.parts) == 3  # the stored turn is untouched


async def test_text_answer_then_edit_replays_without_empty_parts(small: FakeGemini) -> None:
    target = ApiTarget(api_key=KEY, base_url=small.base_url, retry_attempts=1)
    settings = GenerationSettings()
    first = user_content("a poem [fault:text_only]")
    events = [e async for e in run_turn(target, [], first, settings)]
    done = events[-1]
    assert isinstance(done, Finished) and not done.ok  # text only: no image
    model = done.content
    assert model.parts[-1].text == "" and model.parts[-1].thought_signature  # stored as received
    second = [e async for e in run_turn(target, [first, model], user_content("now draw it"), settings)]
    assert isinstance(second[-1], Finished) and second[-1].ok, second[-1]
    sent = small.requests[-1].body["contents"][1]["parts"]
    assert all(p.get("text") != "" for p in sent)
    (answer,) = [p for p in sent if p.get("text") and not p.get("thought")]
    assert answer.get("thoughtSignature") or answer.get("thought_signature")


def test_server_rejects_empty_text_in_history(small: FakeGemini) -> None:
    c = client(small)
    first = c.models.generate_content(model=PRO, contents="x", config=cfg())
    model = first.candidates[0].content.model_copy(deep=True)
    model.parts.append(types.Part(text=""))
    with pytest.raises(errors.ClientError, match="empty text parameter"):
        c.models.generate_content(model=PRO, contents=[types.Content(role="user", parts=[types.Part(text="x")]),
                                                       model, types.Content(role="user", parts=[types.Part(text="y")])],
                                  config=cfg())


# -- model facts ----------------------------------------------------------------------------------


def test_thinking_levels_are_model_facts(small: FakeGemini) -> None:
    assert thinking_levels_for(FLASH) == ("", "MINIMAL", "HIGH")
    assert thinking_levels_for(PRO) == ("",)
    assert any("minimal or high only" in p.message
               for p in validate_settings(GenerationSettings(model=FLASH, thinking_level="LOW")))
    c = client(small)
    with pytest.raises(errors.ClientError) as exc:
        c.models.generate_content(model=PRO, contents="x", config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(thinking_level="MINIMAL")))
    assert exc.value.message == ("Thinking level MINIMAL is not supported for this model. "
                                 "Please retry with other thinking level.")
    with pytest.raises(errors.ClientError, match="Thinking level MEDIUM is not supported"):
        c.models.generate_content(model=FLASH, contents="x", config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(thinking_level="MEDIUM")))
    assert c.models.generate_content(model=FLASH, contents="x", config=types.GenerateContentConfig(
        thinking_config=types.ThinkingConfig(thinking_level="MINIMAL"))).candidates


def test_image_search_setting_reaches_the_request(small: FakeGemini) -> None:
    s = GenerationSettings(model=FLASH, google_search=True, image_search=True)
    search = build_config(s).tools[0].google_search
    assert search.search_types is not None and search.search_types.image_search is not None
    assert build_config(GenerationSettings(model=PRO, google_search=True, image_search=True)
                        ).tools[0].google_search.search_types is None
    assert any(p.field == "image_search"
               for p in validate_settings(GenerationSettings(model=PRO, google_search=True, image_search=True)))
    contents, config = build_request([], user_content("a bird"), s)
    resp = client(small).models.generate_content(model=FLASH, contents=contents, config=config)
    assert resp.candidates[0].grounding_metadata is not None
    body = small.requests[-1].body
    assert "imageSearch" in str(body["tools"]) or "image_search" in str(body["tools"])


def test_flash_lite_entry_is_marked_unverified() -> None:
    spec = get_model("gemini-3.1-flash-lite-image")
    assert spec.verified is False and "Unverified" in spec.note


def test_high_demand_503_is_retryable_overload(small: FakeGemini) -> None:
    small.inject("high_demand")
    with pytest.raises(errors.ServerError) as exc:
        client(small).models.generate_content(model=PRO, contents="x", config=cfg())
    assert "experiencing high demand" in exc.value.message
    err = map_error(exc.value, model=PRO)
    assert err.kind == "overloaded" and err.retryable


# -- small truths ---------------------------------------------------------------------------------


def test_empty_search_queries_are_not_billed(small: FakeGemini) -> None:
    resp = client(small).models.generate_content(
        model=PRO, contents="the tallest tower", config=cfg(tools=[types.Tool(google_search=types.GoogleSearch())]))
    queries = resp.candidates[0].grounding_metadata.web_search_queries
    assert "" in queries and len(queries) == 3
    s = GenerationSettings(google_search=True)
    assert actual_cost(s, Usage(), queries) == actual_cost(s, Usage(), 2) > actual_cost(s, Usage(), 0)


def test_404_never_suggests_the_model_that_failed(small: FakeGemini) -> None:
    for model in (DEFAULT_MODEL, "gemini-3-pro-image-preview"):
        small.inject("not_found")
        with pytest.raises(errors.ClientError) as exc:
            client(small).models.generate_content(model=model, contents="x")
        msg = map_error(exc.value, model=model).message
        assert f"Use {model} " not in msg and f"{model!r} was not found" in msg
        assert (f"Use {DEFAULT_MODEL} " in msg) == (model != DEFAULT_MODEL)


def test_free_tier_hint_only_when_the_error_says_so(small: FakeGemini) -> None:
    small.clear_faults()
    msgs = {}
    for free in (0, 1):
        small.inject("quota", free_tier=free)
        with pytest.raises(errors.ClientError) as exc:
            client(small).models.generate_content(model=PRO, contents="x")
        msgs[free] = map_error(exc.value, model=PRO).message
    assert "free tier" not in msgs[0] and "free tier has no image-generation quota" in msgs[1]


# -- request size and the 100 MB limit ------------------------------------------------------------


def test_limit_and_warning() -> None:
    assert MAX_REQUEST_BYTES == 100 * MB
    s = GenerationSettings()
    assert size_warning(int(0.79 * MAX_REQUEST_BYTES), s) == ""
    warn = size_warning(int(0.85 * MAX_REQUEST_BYTES), s)
    assert "85%" in warn and "Continue from the image alone" in warn and "replay_drafts" in warn
    assert "over the 100 MB limit" in size_warning(MAX_REQUEST_BYTES + 1, s)


def test_replay_drafts_off_leaves_draft_images_out() -> None:
    draft = Part(mime_type="image/jpeg", data=b"\xff\xd8\xff" + b"d" * 900_000, thought=True)
    final = Part(mime_type="image/jpeg", data=b"\xff\xd8\xff" + b"f" * 900_000, thought_signature=b"s" * 10)
    history = [user_content("a"), Content("model", [Part(text="t", thought=True), draft, final])]
    on = request_size(history, user_content("b"), GenerationSettings())
    off = request_size(history, user_content("b"), GenerationSettings(replay_drafts=False))
    assert on - off >= 1_200_000
    contents, _ = build_request(history, user_content("b"), GenerationSettings(replay_drafts=False))
    assert [bool(p.thought) for p in contents[1].parts] == [True, False]


@pytest.fixture
async def real_studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real: FakeGemini) -> AsyncIterator[Studio]:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    for name in ("GEMINI_API_KEY", "GOOGLE_GENAI_USE_VERTEXAI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    config = Config(project_dir=str(tmp_path / "projects"), base_url=real.base_url, retry_attempts=1,
                    timeout_seconds=120)
    studio = Studio.open(config, project="chain")
    yield studio
    await studio.aclose()


async def test_chain_of_ten_real_size_edits(real_studio: Studio, real: FakeGemini) -> None:
    """Ten edits of real-sized 1K answers: every request goes out and succeeds; the size figure
    grows with the branch and matches what was sent; the warning comes before the limit."""
    parent: int | None = None
    sizes: list[int] = []
    for i in range(11):  # a root and ten edits
        settings = GenerationSettings()
        predicted = real_studio.next_request_size(parent, settings)
        events = [e async for e in real_studio.generate(GenerateRequest(
            prompt=f"edit {i}: add a {['red', 'blue', 'green'][i % 3]} hat", parent_id=parent, settings=settings))]
        saved = events[-1]
        assert isinstance(saved, TurnSaved) and saved.turn.status == "done", events[-2]
        sent = [r for r in real.requests if "enerateContent" in r.path][-1]
        assert len(sent.body["contents"]) == 2 * i + 1
        assert len(str(sent.body)) < 1_000_000  # recorded without its megabytes of base64
        sizes.append(predicted.total)
        parent = saved.turn.id
    assert sizes == sorted(sizes) and sizes[-1] > 50 * MB  # real scale: ~6-8 MB per turn
    assert sizes[-1] < MAX_REQUEST_BYTES
    after = real_studio.next_request_size(parent, GenerationSettings())
    assert after.total > sizes[-1] and "next request" in after.label()
    lean = real_studio.next_request_size(parent, GenerationSettings(replay_drafts=False))
    assert lean.total < after.total * 0.8


async def test_branch_size_and_continuity_read_no_signature(real_studio: Studio,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Measuring a real-sized branch (every selection move) and checking it can continue stat the
    blob files and read no signature or image: same figure as measuring the fully read history."""
    from banana_studio.engine.request import contents_size, replay_history
    from banana_studio.store.files import blob_rel

    parent: int | None = None
    for i in range(3):
        events = [e async for e in real_studio.generate(GenerateRequest(
            prompt=f"edit {i}", parent_id=parent, settings=GenerationSettings()))]
        assert isinstance(events[-1], TurnSaved) and events[-1].turn.status == "done"
        parent = events[-1].turn.id
    assert parent is not None
    store = real_studio.store
    history = store.replay_contents(parent)  # fully read: images and 0.5-2.5 MB signatures
    assert sum(1 for c in history for p in c.parts if p.thought_signature and len(p.thought_signature) > 100_000) >= 3
    settings = GenerationSettings()
    eager = contents_size(replay_history(history, settings))
    reads: list[str] = []
    real_read = store.blob_bytes
    monkeypatch.setattr(store, "blob_bytes", lambda sha: reads.append(sha) or real_read(sha))
    size = real_studio.next_request_size(parent, settings)
    assert size.history == eager
    assert real_studio.crossing_problem(parent) is None
    assert reads == []
    lazy = store.path_to(parent, lazy_signatures=True)
    signed = [p for t in lazy for c in (t.model_content,) if c for p in c.parts if p.signature_blob]
    assert signed and all((store.path / blob_rel(p.signature_blob)).exists() for p in signed)  # type: ignore[arg-type]
    inflated = [t.model_content.inflate(real_read) for t in lazy if t.model_content]
    assert [c.to_json(inline_images=True) for c in inflated] == [c.to_json(inline_images=True) for c in history[1::2]]


def test_serve_fake_small_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from banana_studio.cli import serve
    from banana_studio.cli.main import build_parser

    args = build_parser().parse_args(["serve-fake", "--port", "0", "--small"])
    assert args.small is True and build_parser().parse_args(["serve-fake"]).small is False
    started: list[FakeGemini] = []

    class Stop(Exception):
        pass

    def fake_wait(self: object, timeout: float | None = None) -> bool:
        raise Stop

    orig_start = FakeGemini.start

    def start(self: FakeGemini) -> FakeGemini:
        started.append(self)
        return orig_start(self)

    monkeypatch.setattr(FakeGemini, "start", start)
    from banana_studio.cli import foreground

    monkeypatch.setattr(foreground.threading.Event, "wait", fake_wait)
    with pytest.raises(Stop):
        serve.run(args)
    assert started and started[0].small is True
    assert "small (--small" in serve.usage_text("http://x", True) and "real size" in serve.usage_text("http://x")
    # --secret: a server that did not make demo mode's signatures rejects them, as Google would.
    from banana_studio.fakeserver.protocol import DEFAULT_SECRET, Signer

    demo_sig = Signer(DEFAULT_SECRET, real_size=False).sign("rid", 0)
    with pytest.raises(Stop):
        serve.run(build_parser().parse_args(["serve-fake", "--port", "0", "--small", "--secret", "mine"]))
    assert not started[-1].signer.verify(demo_sig) and started[0].signer.verify(demo_sig)
