"""Demo mode: unseeded requests vary like the real model; tests keep deterministic images."""

from __future__ import annotations

import json
import urllib.request

from banana_studio.fakeserver import FakeGemini


def _final_image(srv: FakeGemini, body: dict[str, object]) -> str:
    req = urllib.request.Request(
        f"{srv.base_url}/v1beta/models/gemini-3-pro-image:generateContent",
        data=json.dumps(body).encode(), headers={"x-goog-api-key": "k", "content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        data = json.loads(resp.read())
    parts = data["candidates"][0]["content"]["parts"]
    return next(p["inlineData"]["data"] for p in parts if "inlineData" in p and not p.get("thought"))


BODY = {"contents": [{"role": "user", "parts": [{"text": "a red fox"}]}]}


def test_unseeded_requests_vary_only_when_asked() -> None:
    with FakeGemini(small=True) as srv:
        assert _final_image(srv, BODY) == _final_image(srv, BODY)
    with FakeGemini(vary_unseeded=True, small=True) as srv:
        assert _final_image(srv, BODY) != _final_image(srv, BODY)
        seeded = {**BODY, "generationConfig": {"seed": 7}}
        assert _final_image(srv, seeded) == _final_image(srv, seeded)
