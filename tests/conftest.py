"""Suite-wide fixtures: how big the local server's answers are.

The local Gemini server answers at real size by default (~1 MB 1K JPEGs, full-size drafts, 0.5-2.5 MB
thought signatures).  Most tests check behaviour that does not depend on size, so they use small
answers: tests building their own server pass ``FakeGemini(small=True)``, and demo-mode studios
(``Studio.open(demo=True)``, ``banana-studio --demo`` subprocesses) follow ``BANANA_STUDIO_DEMO_SMALL``,
set here for every test.  Tests about limits, memory, stalls or multi-turn request the
``real_size_demo`` fixture (or build ``FakeGemini()`` without ``small``) and run at real size.
"""

from __future__ import annotations

import signal

import pytest

from pilot_sync import install as _install_pilot_sync

_install_pilot_sync()

# A suite started in the background by a script (`cmd &` without job control) inherits SIGINT ignored,
# and so would every process a test starts: the tests that press Ctrl+C on `gen`, `batch` or the
# studio would see it ignored, as POSIX asks of such background jobs.  The suite's own processes
# always get the default Ctrl+C.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


OUTER_TARGET_ENV = ("GOOGLE_GENAI_USE_ENTERPRISE", "GOOGLE_GENAI_USE_VERTEXAI", "GOOGLE_CLOUD_PROJECT",
                    "GOOGLE_CLOUD_LOCATION", "GOOGLE_VERTEX_BASE_URL", "GOOGLE_APPLICATION_CREDENTIALS")
"""The developer's Vertex AI switch and Google Cloud settings: with them, a test meant for the local
Gemini server would target Vertex AI (and with real credentials, Google itself).  Tests about Vertex
set their own."""


@pytest.fixture(autouse=True)
def _no_outer_vertex_target(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OUTER_TARGET_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _small_demo_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANANA_STUDIO_DEMO_SMALL", "1")


@pytest.fixture
def real_size_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Demo-mode studios in this test talk to a real-size local server."""
    monkeypatch.delenv("BANANA_STUDIO_DEMO_SMALL", raising=False)
