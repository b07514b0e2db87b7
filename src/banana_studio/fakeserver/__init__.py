"""A local, protocol-faithful stand-in for the Gemini image API (demo mode, tests, benchmarks).

Stdlib HTTP + Pillow (imported lazily) only; never imports Textual or google-genai::

    from banana_studio.fakeserver import FakeGemini, FAULTS
    with FakeGemini(latency=0.0) as srv:       # binds 127.0.0.1 on a free port
        client = genai.Client(api_key="anything", http_options=types.HttpOptions(base_url=srv.base_url))
        srv.inject("quota", count=1, retry_delay=1.5)   # the next model request gets a 429
        ...
        srv.requests                            # RecordedRequest list, API keys "<redacted>"

Routes (any path prefix; versions v1, v1beta, v1alpha; key in ``x-goog-api-key`` or ``?key=``):

* ``POST /{ver}/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse`` — answers
  like Nano Banana Pro: thought summaries, two blurred draft images (``thought: true``), the final
  image (exact pixel size, JPEG or PNG, with a ``thoughtSignature``), answer text, closing event.
* ``POST /{ver}/models/{model}:batchGenerateContent``, ``GET|DELETE /{ver}/batches/{id}``,
  ``POST /{ver}/batches/{id}:cancel``, ``GET /{ver}/batches`` — PENDING → RUNNING → SUCCEEDED over
  ``batch_seconds``.
* ``POST /upload/{ver}/files`` (resumable), ``GET|DELETE /{ver}/files/{id}``, ``GET /{ver}/files``,
  ``GET /{ver}/files/{id}:download?alt=media`` and ``/download/{ver}/files/{id}:download?alt=media``.
* ``GET /{ver}/models``, ``GET /{ver}/models/{model}``, ``POST ...:countTokens``.
* Control: ``POST /_fake/faults`` ``{"name", "count", ...params}``, ``GET /_fake/faults``,
  ``POST /_fake/reset``, ``GET /_fake/requests``; they need ``X-Fake-Token: <FakeGemini.control_token>``
  (and JSON for POST).  Every request must be addressed to a loopback Host (see ``http_guard``).

Faults (see :data:`FAULTS`) are chosen, in this order, by the ``x-fake-fault: name;k=v`` header,
a ``[fault:name;k=v]`` tag in the last user turn's text (stripped from the drawn prompt), or the
queue filled by :meth:`FakeGemini.inject` / ``POST /_fake/faults``.

Thought signatures are HMAC-derived from the server secret, the response id and the part index,
so a restarted server with the same secret still accepts them, and a signature it never issued is
rejected with the API's ``Corrupted thought signature.``
"""

from __future__ import annotations

from banana_studio.fakeserver.faults import FAULTS
from banana_studio.fakeserver.server import FakeGemini, RecordedRequest

__all__ = ["FAULTS", "FakeGemini", "RecordedRequest"]
