"""Fault matrix at the engine level: every row of MATRIX, injected as a queued fault and as a prompt tag.

Asserts the terminal event, the error ``kind``, the words the user sees, the retries made, and that
the key never leaks into the message.
"""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from rel_common import KEY, MATRIX, Case, tag_for

from banana_studio.domain.content import user_content
from banana_studio.domain.events import Event, Failed, FinalImage, Finished, Retrying
from banana_studio.domain.settings import GenerationSettings
from banana_studio.engine import ApiTarget, run_turn
from banana_studio.fakeserver import FAULTS, FakeGemini

# Queued faults for every row; the prompt tag (what demo mode and the UI tests use) wherever a tag can
# express the row; the x-fake-fault header for a few rows (it shares the tag's code path in the server).
_HEADER_ROWS = {"bad_key", "quota_429_delay", "hang_timeout", "truncated", "image_safety"}
PARAMS = [pytest.param(c, via, id=f"{c.id}-{via}") for c in MATRIX for via in ("inject", "header", "tag")
          if via == "inject" or (via == "tag" and c.retry_friendly) or (via == "header" and c.id in _HEADER_ROWS)]


def test_matrix_covers_every_fault_name() -> None:
    assert {c.fault for c in MATRIX} == set(FAULTS)
    assert _HEADER_ROWS.issubset(c.id for c in MATRIX)


def _target(srv: FakeGemini, case: Case, via: str) -> ApiTarget:
    headers = {}
    if via == "header":
        headers["x-fake-fault"] = tag_for(case)[len("[fault:"):-1]
    return ApiTarget(api_key=KEY, base_url=srv.base_url, retry_attempts=case.attempts,
                     timeout_seconds=case.timeout or 10.0, idle_timeout=5.0, initial_backoff=0.02,
                     max_backoff=0.2, extra_headers=headers)


def _model_requests(srv: FakeGemini) -> int:
    return sum(1 for r in srv.requests if "GenerateContent" in r.path or "generateContent" in r.path)


@pytest.mark.parametrize(("case", "via"), PARAMS)
async def test_engine_fault(case: Case, via: str, fake: FakeGemini) -> None:
    prompt = "a lighthouse in a storm"
    if via == "inject":
        fake.inject(case.fault, count=case.count, **case.params)
    elif via == "tag":
        prompt = f"{prompt} {tag_for(case)}"
    target = _target(fake, case, via)
    events: list[Event] = []
    t0 = time.monotonic()
    try:
        async for ev in run_turn(target, [], user_content(prompt), GenerationSettings()):
            events.append(ev)
    finally:
        await target.aclose()
    elapsed = time.monotonic() - t0

    terminals = [e for e in events if isinstance(e, (Finished, Failed))]
    assert len(terminals) == 1 and events[-1] is terminals[0]
    last = terminals[0]
    assert type(last).__name__ == case.terminal, last
    retries = [e for e in events if isinstance(e, Retrying)]
    assert len(retries) == case.retries
    assert _model_requests(fake) == case.retries + 1
    if "retry_delay" in case.params and retries:
        assert all(r.delay == pytest.approx(min(case.params["retry_delay"], 0.2)) for r in retries)

    if case.ok:
        assert isinstance(last, Finished) and last.ok and last.error is None
        finals = [e for e in events if isinstance(e, FinalImage)]
        assert len(finals) == 1
        with Image.open(io.BytesIO(finals[0].data)) as im:
            im.load()
            assert im.size == (1024, 1024)
        if case.phrase:
            assert any(case.phrase in w for w in last.warnings), last.warnings
        if case.fault == "slow":
            assert elapsed >= case.params["seconds"]
        return

    err = last.error
    assert err is not None
    assert err.kind == case.kind, err
    assert case.phrase.lower() in err.message.lower(), err.message
    assert KEY not in err.message and KEY not in err.detail
    assert "{" not in err.message and "Traceback" not in err.message  # never a raw dump
    assert len(err.message) < 600
    if isinstance(last, Finished):
        assert last.ok is False
        assert not last.content.final_images() or case.fault in ("bad_base64", "lying_image")
        if case.fault == "lying_image":  # the rejected image is not in the content (drafts may be)
            assert not [p for p in last.content.parts if p.is_image and not p.thought]
            assert [r.thought for r in last.rejected] == [False]
    if case.partial:
        assert isinstance(last, Failed) and err.retryable
        assert last.partial is not None and last.partial.thought_text()
    if case.fault == "hang":
        assert elapsed < 3.0
