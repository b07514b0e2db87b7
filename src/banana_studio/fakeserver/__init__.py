"""A local, protocol-faithful stand-in for the Gemini image API (demo mode, tests, benchmarks).

Stdlib HTTP + Pillow only; never imports Textual or google-genai::

    from banana_studio.fakeserver import FakeGemini, FAULTS
    with FakeGemini() as srv:
        ...  # point the SDK at srv.base_url (HttpOptions(base_url=...) or GOOGLE_GEMINI_BASE_URL)
"""

from __future__ import annotations

from banana_studio.fakeserver.faults import FAULTS
from banana_studio.fakeserver.server import FakeGemini, RecordedRequest

__all__ = ["FAULTS", "FakeGemini", "RecordedRequest"]
