"""Engine tests against the in-process FakeGemini (127.0.0.1, random port; never the real network)."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from PIL import Image

from banana_studio.domain.content import Content, Part, user_content
from banana_studio.domain.events import (
    DraftImage,
    Event,
    Failed,
    FinalImage,
    Finished,
    Grounding,
    Retrying,
    ThoughtText,
    Usage,
)
from banana_studio.domain.settings import MAX_REQUEST_BYTES, GenerationSettings
from banana_studio.engine import (
    ApiTarget,
    actual_cost,
    build_request,
    estimate_cost,
    map_error,
    run_turn,
    validate_request,
)
from banana_studio.fakeserver import FAULTS, FakeGemini

KEY = "AIzaTESTKEY_0123456789abcdefghijklmnopqrstu"[:39]


def png_bytes(size: tuple[int, int] = (32, 24), color: str = "blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def srv() -> Iterator[FakeGemini]:
    with FakeGemini(port=0, small=True) as server:
        yield server


@pytest.fixture
async def target(srv: FakeGemini) -> AsyncIterator[ApiTarget]:
    t = ApiTarget(api_key=KEY, base_url=srv.base_url, retry_attempts=1, timeout_seconds=10, idle_timeout=5,
                  initial_backoff=0.01, max_backoff=0.05)
    yield t
    await t.aclose()


async def collect(target: ApiTarget, history: list[Content], user: Content,
                  settings: GenerationSettings | None = None) -> list[Event]:
    return [ev async for ev in run_turn(target, history, user, settings or GenerationSettings())]


def model_requests(srv: FakeGemini) -> list:
    return [r for r in srv.requests if ":streamGenerateContent" in r.path or ":generateContent" in r.path]


# -- request building ------------------------------------------------------------------------------

def test_build_request_converts_content_losslessly() -> None:
    sig = bytes(range(256)) * 3
    img = png_bytes()
    history = [
        user_content("a cat", [(img, "image/png")]),
        Content("model", [Part(text="**Plan**", thought=True), Part(mime_type="image/png", data=img, thought=True),
                          Part(mime_type="image/png", data=img, thought_signature=sig),
                          Part(text="", thought_signature=b"\x01\x02")]),
    ]
    s = GenerationSettings(aspect_ratio="16:9", image_size="2K", google_search=True, temperature=0.7, seed=7,
                           system_instruction="Be bold.", image_only=True)
    contents, config = build_request(history, user_content("make it red"), s)
    assert [c.role for c in contents] == ["user", "model", "user"]
    parts = contents[1].parts
    assert parts[0].thought is True and parts[0].text == "**Plan**"
    assert parts[1].thought is True and parts[1].inline_data.data == img
    assert parts[2].thought_signature == sig and parts[2].inline_data.mime_type == "image/png"
    assert parts[3].text == "" and parts[3].thought_signature == b"\x01\x02"
    assert config.image_config.aspect_ratio == "16:9" and config.image_config.image_size == "2K"
    assert config.response_modalities == ["IMAGE"]
    assert config.thinking_config.include_thoughts is True and config.thinking_config.thinking_level is None
    assert config.temperature == 0.7 and config.seed == 7
    assert config.tools and config.tools[0].google_search is not None
    assert config.system_instruction == "Be bold."


async def test_wire_body_has_all_settings(srv: FakeGemini, target: ApiTarget) -> None:
    s = GenerationSettings(aspect_ratio="21:9", image_size="1K", google_search=True, temperature=1.0, seed=42,
                           system_instruction="You are an illustrator.")
    events = await collect(target, [], user_content("a banana in space", [(png_bytes(), "image/png")]), s)
    assert isinstance(events[-1], Finished) and events[-1].ok
    (req,) = model_requests(srv)
    assert req.path.startswith("/v1beta/models/gemini-3-pro-image:streamGenerateContent")
    assert req.headers.get("x-goog-api-key") == "<redacted>"
    body = req.body
    gen = body["generationConfig"]
    assert gen["imageConfig"] == {"aspectRatio": "21:9", "imageSize": "1K"}
    assert gen["responseModalities"] == ["TEXT", "IMAGE"]
    assert gen["thinkingConfig"] == {"include_thoughts": True}
    assert gen["temperature"] == 1.0 and gen["seed"] == 42
    assert body["tools"] == [{"googleSearch": {}}]
    assert body["systemInstruction"]["parts"] == [{"text": "You are an illustrator."}]
    user_parts = body["contents"][0]["parts"]
    assert user_parts[0] == {"text": "a banana in space"}
    assert base64.urlsafe_b64decode(user_parts[1]["inlineData"]["data"]) == png_bytes()
    # grounding came back as its own event
    assert any(isinstance(e, Grounding) and e.sources for e in events)


async def test_no_system_instruction_or_tools_when_unset(srv: FakeGemini, target: ApiTarget) -> None:
    s = GenerationSettings(include_thoughts=False)
    events = await collect(target, [], user_content("plain"), s)
    assert isinstance(events[-1], Finished) and events[-1].ok
    assert not any(isinstance(e, ThoughtText) for e in events)
    body = model_requests(srv)[0].body
    assert "tools" not in body and "systemInstruction" not in body
    assert body["generationConfig"]["thinkingConfig"] == {"include_thoughts": False}
    assert "temperature" not in body["generationConfig"] and "seed" not in body["generationConfig"]


# -- streaming + assembly --------------------------------------------------------------------------

async def test_stream_events_and_single_assembled_content(target: ApiTarget) -> None:
    s = GenerationSettings(aspect_ratio="16:9", image_size="1K")
    events = await collect(target, [], user_content("a lighthouse at dusk"), s)
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "ThoughtText"
    assert kinds[-2:] == ["Usage", "Finished"]
    drafts = [e for e in events if isinstance(e, DraftImage)]
    finals = [e for e in events if isinstance(e, FinalImage)]
    assert 1 <= len(drafts) <= 2 and [d.index for d in drafts] == list(range(len(drafts)))
    assert len(finals) == 1
    assert kinds.index("FinalImage") > max(i for i, k in enumerate(kinds) if k == "DraftImage")
    with Image.open(io.BytesIO(finals[0].data)) as im:
        assert im.size == (1376, 768)
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.ok and fin.finish_reason == "STOP" and fin.error is None
    assert fin.response_id and fin.model_version
    content = fin.content
    assert content.role == "model"
    # consecutive unsigned thought chunks were merged into one part; the signed final kept apart
    thought_text_parts = [p for p in content.parts if p.thought and p.text]
    assert len(thought_text_parts) == 1
    assert thought_text_parts[0].text == "".join(e.text for e in events if isinstance(e, ThoughtText))
    signed = [p for p in content.parts if p.thought_signature]
    # the leading answer text (the first part after the thoughts) and the final image are signed
    assert [p.is_image for p in signed] == [False, True] and not any(p.thought for p in signed)
    assert content.final_images()[0].data == finals[0].data
    assert len(content.draft_images()) == len(drafts)
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.image_tokens == 1120 and usage.thoughts_tokens > 0


async def test_two_turn_edit_resends_signatures_and_server_accepts(srv: FakeGemini, target: ApiTarget) -> None:
    s = GenerationSettings()
    first_user = user_content("a red apple")
    ev1 = await collect(target, [], first_user, s)
    fin1 = ev1[-1]
    assert isinstance(fin1, Finished) and fin1.ok
    sigs = [p.thought_signature for p in fin1.content.parts if p.thought_signature]
    assert sigs
    ev2 = await collect(target, [first_user, fin1.content], user_content("make it green"), s)
    fin2 = ev2[-1]
    assert isinstance(fin2, Finished) and fin2.ok, ev2[-1]
    body = model_requests(srv)[-1].body
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    sent = [base64.urlsafe_b64decode(p["thoughtSignature"]) for p in body["contents"][1]["parts"]
            if "thoughtSignature" in p]
    assert sent == sigs
    # every part of the model turn is replayed in order (thoughts, drafts, answer, final), except the
    # stream's closing empty text part (the API rejects empty text)
    assert fin1.content.parts[-1].text == ""
    assert len(body["contents"][1]["parts"]) == len(fin1.content.parts) - 1


async def test_edit_without_signature_is_missing_signature(target: ApiTarget) -> None:
    first_user = user_content("a red apple")
    fin1 = (await collect(target, [], first_user))[-1]
    assert isinstance(fin1, Finished)
    stripped = Content("model", [Part(p.text, p.thought, None, p.mime_type, p.data) for p in fin1.content.parts])
    fin2 = (await collect(target, [first_user, stripped], user_content("make it green")))[-1]
    assert isinstance(fin2, Failed)
    assert fin2.error.kind == "missing_signature" and fin2.error.status == 400
    assert "signature" in fin2.error.message


# -- every fault ---------------------------------------------------------------------------------

FAULT_CASES: dict[str, tuple[type, str, str]] = {
    # fault: (terminal event type, kind, a phrase of the message)
    "bad_key": (Failed, "bad_key", "config --set-key"),
    "permission": (Failed, "permission", "Permission denied"),
    "not_found": (Failed, "not_found", "gemini-3-pro-image"),
    "quota": (Failed, "quota", "Quota exhausted"),
    "server": (Failed, "server", "transient"),
    "overloaded": (Failed, "overloaded", "overloaded"),
    "high_demand": (Failed, "overloaded", "high demand"),
    "stream_error": (Failed, "stream_error", "middle of the answer"),
    "truncated": (Failed, "truncated", "before the image was complete"),
    "malformed_json": (Failed, "malformed", "malformed"),
    "bad_base64": (Failed, "malformed", "malformed"),
    "image_safety": (Finished, "safety", "safety filter"),
    "image_prohibited": (Finished, "prohibited", "prohibited"),
    "no_image": (Finished, "no_image", "NO_IMAGE"),
    "blocked_prompt": (Finished, "blocked", "blocked"),
    "parts_null": (Finished, "no_image", "no image"),
    "candidates_null": (Finished, "no_image", "empty answer"),
    "text_only": (Finished, "no_image", "text only"),
}


def test_fault_table_covers_every_error_fault() -> None:
    ok_faults = {"slow", "hang", "text_base64", "empty_signature", "region_leak"}  # region_leak: tests/test_region.py
    hostile = {"key_echo", "hostile_text", "lying_image", "bad_unicode"}  # tests/reliability (MATRIX)
    assert set(FAULT_CASES) | ok_faults | hostile == set(FAULTS)


@pytest.mark.parametrize("fault", sorted(FAULT_CASES))
async def test_fault_maps_to_clear_error(fault: str, srv: FakeGemini, target: ApiTarget) -> None:
    terminal, kind, phrase = FAULT_CASES[fault]
    srv.inject(fault, count=1)
    events = await collect(target, [], user_content("a cat on a mat"))
    last = events[-1]
    assert type(last) is terminal, last
    assert sum(isinstance(e, (Finished, Failed)) for e in events) == 1
    err = last.error
    assert err is not None and err.kind == kind
    assert phrase.lower() in err.message.lower()
    assert KEY not in err.message and KEY not in err.detail
    assert "{" not in err.message  # never the raw JSON dump
    if isinstance(last, Finished):
        assert last.ok is False
    if fault in ("stream_error", "truncated", "malformed_json", "bad_base64"):
        assert err.retryable and last.partial is not None and last.partial.thought_text()


async def test_finish_message_is_included(srv: FakeGemini, target: ApiTarget) -> None:
    srv.inject("image_prohibited")
    last = (await collect(target, [], user_content("x")))[-1]
    assert isinstance(last, Finished) and last.finish_message
    assert last.error is not None and last.finish_message[:20] in last.error.message


async def test_text_base64_is_decoded_as_image(srv: FakeGemini, target: ApiTarget) -> None:
    srv.inject("text_base64")
    events = await collect(target, [], user_content("a cat"))
    last = events[-1]
    assert isinstance(last, Finished) and last.ok
    finals = [e for e in events if isinstance(e, FinalImage)]
    assert len(finals) == 1
    with Image.open(io.BytesIO(finals[0].data)) as im:
        im.load()
    assert any("base64" in w for w in last.warnings)


async def test_empty_signature_kept_with_warning(srv: FakeGemini, target: ApiTarget) -> None:
    srv.inject("empty_signature")
    last = (await collect(target, [], user_content("a cat")))[-1]
    assert isinstance(last, Finished) and last.ok
    assert any(p.thought_signature == b"" for p in last.content.parts)
    assert any("empty thought signature" in w for w in last.warnings)


# -- retries / timeouts / cancellation ----------------------------------------------------------------

async def test_429_retry_delay_is_honoured_then_success(srv: FakeGemini, target: ApiTarget) -> None:
    target.retry_attempts = 3
    target.max_backoff = 5.0
    srv.inject("quota", count=1, retry_delay=0.4)
    t0 = time.monotonic()
    events: list[Event] = []
    retry_at = 0.0
    async for ev in run_turn(target, [], user_content("a cat"), GenerationSettings()):
        if isinstance(ev, Retrying):
            retry_at = time.monotonic()
        events.append(ev)
    retries = [e for e in events if isinstance(e, Retrying)]
    assert len(retries) == 1 and retries[0].delay == pytest.approx(0.4) and retries[0].attempt == 2
    assert "429" in retries[0].reason
    assert isinstance(events[-1], Finished) and events[-1].ok
    reqs = model_requests(srv)
    assert len(reqs) == 2
    assert reqs[1].received_at - reqs[0].received_at >= 0.39
    assert time.monotonic() - retry_at >= 0.35 and time.monotonic() - t0 < 5


async def test_retry_delay_capped_at_max_backoff(srv: FakeGemini, target: ApiTarget) -> None:
    target.retry_attempts = 2
    target.max_backoff = 0.05
    srv.inject("quota", count=1, retry_delay=30)
    events = await collect(target, [], user_content("a cat"))
    (retry,) = [e for e in events if isinstance(e, Retrying)]
    assert retry.delay == pytest.approx(0.05)
    assert isinstance(events[-1], Finished)


async def test_retries_exhausted(srv: FakeGemini, target: ApiTarget) -> None:
    target.retry_attempts = 3
    srv.inject("overloaded", count=5)
    events = await collect(target, [], user_content("a cat"))
    retries = [e for e in events if isinstance(e, Retrying)]
    assert [r.attempt for r in retries] == [2, 3]
    assert all(0 <= r.delay <= target.max_backoff for r in retries)
    last = events[-1]
    assert isinstance(last, Failed) and last.error.kind == "overloaded" and last.error.retryable
    assert "3 attempts" in last.error.message
    assert len(model_requests(srv)) == 3


async def test_non_retryable_error_is_not_retried(srv: FakeGemini, target: ApiTarget) -> None:
    target.retry_attempts = 4
    srv.inject("bad_key", count=1)
    events = await collect(target, [], user_content("a cat"))
    assert not any(isinstance(e, Retrying) for e in events)
    assert len(model_requests(srv)) == 1


async def test_mid_stream_error_is_not_retried(srv: FakeGemini, target: ApiTarget) -> None:
    target.retry_attempts = 4
    srv.inject("stream_error", count=1)
    events = await collect(target, [], user_content("a cat"))
    assert not any(isinstance(e, Retrying) for e in events)
    assert len(model_requests(srv)) == 1
    assert isinstance(events[-1], Failed) and events[-1].error.retryable


async def test_hang_times_out(srv: FakeGemini, target: ApiTarget) -> None:
    target.timeout_seconds = 0.4
    srv.inject("hang", count=1, seconds=3)
    t0 = time.monotonic()
    events = await collect(target, [], user_content("a cat"))
    assert time.monotonic() - t0 < 2.0
    last = events[-1]
    assert isinstance(last, Failed) and last.error.kind == "timeout" and last.partial is None
    assert "timeout" in last.error.message


async def test_hang_then_retry_succeeds(srv: FakeGemini, target: ApiTarget) -> None:
    # The limit applies to every attempt: it must leave the second one time for a whole answer on a
    # busy 2-core machine (0.4 s did not), and the hang must outlast it.
    target.timeout_seconds = 2.0
    target.retry_attempts = 2
    srv.inject("hang", count=1, seconds=20)
    events = await collect(target, [], user_content("a cat"))
    assert any(isinstance(e, Retrying) for e in events)
    assert isinstance(events[-1], Finished) and events[-1].ok


async def test_inactivity_timeout_mid_stream() -> None:
    with FakeGemini(latency=0.6, small=True) as slow_srv:
        t = ApiTarget(api_key=KEY, base_url=slow_srv.base_url, retry_attempts=3, timeout_seconds=10,
                      idle_timeout=0.2)
        try:
            events = await collect(t, [], user_content("a cat"))
        finally:
            await t.aclose()
    last = events[-1]
    assert isinstance(last, Failed) and last.error.kind == "timeout"
    assert last.partial is not None and last.partial.thought_text()
    assert not any(isinstance(e, Retrying) for e in events)  # data had arrived: no silent re-bill


async def _proxy(upstream_port: int, closed: asyncio.Event) -> asyncio.Server:
    """A TCP proxy that records when the client closes its side of the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", upstream_port)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, client_side: bool) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                if client_side:
                    closed.set()
                dst.close()

        await asyncio.gather(pump(reader, up_w, True), pump(up_r, writer, False))

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def test_cancel_mid_stream_closes_connection() -> None:
    closed = asyncio.Event()
    with FakeGemini(latency=0.5, small=True) as slow_srv:
        proxy = await _proxy(slow_srv.port, closed)
        port = proxy.sockets[0].getsockname()[1]
        t = ApiTarget(api_key=KEY, base_url=f"http://127.0.0.1:{port}", retry_attempts=1, timeout_seconds=10)
        got_thought = asyncio.Event()
        seen: list[Event] = []

        async def consume() -> None:
            async for ev in run_turn(t, [], user_content("a cat"), GenerationSettings()):
                seen.append(ev)
                if isinstance(ev, ThoughtText):
                    got_thought.set()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(got_thought.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(closed.wait(), 2)
        assert not any(isinstance(e, (Finished, Failed)) for e in seen)
        proxy.close()
        await t.aclose()


# -- validation ------------------------------------------------------------------------------------

def test_validation_too_many_refs() -> None:
    imgs = [(png_bytes(color=c), "image/png") for c in ["red"] * 15]
    msgs = validate_request([], user_content("x", imgs), GenerationSettings())
    assert any("15 reference images: Nano Banana Pro accepts at most 14" in m for m in msgs)
    assert validate_request([], user_content("x", imgs[:14]), GenerationSettings()) == []


def test_validation_non_image_bytes_and_bad_settings() -> None:
    msgs = validate_request([], user_content("x", [(b"%PDF-1.4 not an image", "image/png")]),
                            GenerationSettings(aspect_ratio="7:3", image_size="2k"))
    assert any("not a PNG, JPEG" in m for m in msgs)
    assert any("aspect ratio 7:3" in m for m in msgs)
    assert any("uppercase K" in m for m in msgs)


def test_validation_request_too_big() -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (76 * 1024 * 1024)  # 76 MB raw = 101+ MB base64
    msgs = validate_request([], user_content("x", [(big, "image/png")]), GenerationSettings())
    assert any("MB" in m and "the reference images are" in m for m in msgs)
    assert MAX_REQUEST_BYTES == 100 * 1024 * 1024


async def test_validation_failure_is_a_failed_event_and_nothing_is_sent(srv: FakeGemini, target: ApiTarget) -> None:
    imgs = [(png_bytes(), "image/png")] * 15
    events = await collect(target, [], user_content("x", imgs))
    assert len(events) == 1 and isinstance(events[0], Failed) and events[0].error.kind == "validation"
    assert "at most 14" in events[0].error.message
    assert model_requests(srv) == []


# -- error mapping / key redaction / cost -------------------------------------------------------------

def test_map_error_redacts_key_and_handles_plain_exceptions() -> None:
    err = map_error(ConnectionRefusedError(f"refused for key={KEY}"), secrets=[KEY])
    assert err.kind == "network" and KEY not in err.message and err.retryable
    assert map_error(TimeoutError(), timeout_seconds=3).kind == "timeout"
    assert map_error(RuntimeError("boom")).kind == "unknown"


async def test_missing_key_is_clear(srv: FakeGemini) -> None:
    t = ApiTarget(api_key="", base_url=srv.base_url, retry_attempts=1)
    try:
        last = (await collect(t, [], user_content("a cat")))[-1]
    finally:
        await t.aclose()
    assert isinstance(last, Failed) and last.error.kind in ("bad_key", "permission")
    assert "GOOGLE_API_KEY" in last.error.message


def test_cost_estimate_and_actual() -> None:
    s = GenerationSettings(image_size="1K")
    est = estimate_cost(s, n_refs=2)
    assert 0.134 < est < 0.14
    assert estimate_cost(GenerationSettings(image_size="4K")) > 0.24
    assert estimate_cost(s.copy(google_search=True)) == pytest.approx(estimate_cost(s) + 0.014)
    u = Usage(prompt_tokens=1000, candidates_tokens=1120, thoughts_tokens=200, image_tokens=1120)
    assert actual_cost(s, u) == pytest.approx(1000 * 2e-6 + 1120 * 120e-6 + 200 * 12e-6)
    assert actual_cost(s, u, search_queries=2) == pytest.approx(actual_cost(s, u) + 0.028)


def test_engine_import_does_not_import_sdk_or_textual() -> None:
    import subprocess
    import sys

    code = ("import sys, banana_studio.engine, banana_studio.engine.cost; "
            "print('google.genai' in sys.modules, 'textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


async def test_one_cached_client_per_target(srv: FakeGemini) -> None:
    t = ApiTarget(api_key=KEY, base_url=srv.base_url)
    try:
        a, b = await asyncio.gather(t.aclient(), t.aclient())
        assert a is b and await t.aclient() is a
    finally:
        await t.aclose()
    assert t._client is None


async def test_a_turn_builds_only_the_stream_client(srv: FakeGemini) -> None:
    """A turn streams on the stream worker's client; the other one (batch jobs, files) is not built for
    it -- each costs a TLS context and HTTP pools, paid by every ``gen`` process."""
    t = ApiTarget(api_key=KEY, base_url=srv.base_url)
    try:
        events = [ev async for ev in run_turn(t, [], user_content("a cat"), GenerationSettings())]
        assert isinstance(events[-1], Finished) and events[-1].ok
        assert t._stream_client is not None and t._client is None
    finally:
        await t.aclose()


def _chunk(parts: list, finish: str | None = None):  # type: ignore[no-untyped-def]
    from google.genai import types

    return types.GenerateContentResponse(candidates=[types.Candidate(
        content=types.Content(role="model", parts=parts), finish_reason=finish)])


def test_assembler_merges_only_unsigned_text_of_same_kind() -> None:
    from google.genai import types

    from banana_studio.engine import TurnAssembler

    img = png_bytes()
    asm = TurnAssembler()
    for parts in (
        [types.Part(text="A", thought=True)], [types.Part(text="B", thought=True)],
        [types.Part(inline_data=types.Blob(data=img, mime_type="image/png"), thought=True)],
        [types.Part(text="C", thought=True)],
        [types.Part(inline_data=types.Blob(data=img, mime_type="image/png"), thought_signature=b"sig-img")],
        [types.Part(text="x", thought_signature=b"sig-x")], [types.Part(text="y")], [types.Part(text="z")],
        [types.Part(text="w", thought=True)],
    ):
        asm.feed(_chunk(parts))
    asm.feed(_chunk([types.Part(text="", thought_signature=b"sig-end")], "STOP"))
    events = asm.finish()
    fin = events[-1]
    assert isinstance(fin, Finished) and fin.ok
    got = [(p.text, p.thought, p.thought_signature, p.is_image) for p in fin.content.parts]
    assert got == [
        ("AB", True, None, False),
        (None, True, None, True),
        ("C", True, None, False),
        (None, False, b"sig-img", True),
        ("x", False, b"sig-x", False),
        ("yz", False, None, False),
        ("w", True, None, False),
        ("", False, b"sig-end", False),
    ]


def test_assembler_uses_a_thought_only_image_as_final() -> None:
    from google.genai import types

    from banana_studio.engine import TurnAssembler

    img = png_bytes()
    asm = TurnAssembler()
    events = asm.feed(_chunk([types.Part(inline_data=types.Blob(data=img, mime_type="image/png"), thought=True)]))
    assert [type(e) for e in events] == [DraftImage]
    asm.feed(_chunk([types.Part(text="")], "STOP"))
    tail = asm.finish()
    assert isinstance(tail[0], FinalImage) and tail[0].data == img
    fin = tail[-1]
    assert isinstance(fin, Finished) and fin.ok and any("thought" in w for w in fin.warnings)
