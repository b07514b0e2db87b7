"""Hostile answers: the fault shapes of a server that lies or attacks (applied after the normal steps).

* ``key_echo;field=F`` — the API key the client sent comes back in ``F``: ``finish_message``,
  ``block_message`` (a blocked prompt), ``model_version``, ``response_id``, ``grounding`` (titles,
  URIs, queries, rendered content), ``thought``, ``answer``, ``usage`` (a string in usageMetadata),
  ``part_field`` (an ``executableCode`` part), or ``all`` (every one but block_message).
* ``hostile_text`` — thoughts, answer, finishMessage, modelVersion and grounding carry :data:`HOSTILE`
  (terminal escape sequences, BEL, C1 CSI, a bidi override and a lone surrogate).
* ``lying_image;kind=K`` — the final image is ``svg`` (image/svg+xml), ``html`` (text/html),
  ``text_png`` (text labelled image/png), ``truncated_jpeg`` (the first half of a real JPEG),
  ``random`` (``mb=N`` MB of random bytes labelled image/png, default 100) or ``huge`` (a small, valid
  PNG whose header says 14000×13000 = 182 MP).
* ``bad_unicode`` — IMAGE_SAFETY whose finishMessage holds a lone surrogate (``\\ud800`` in the JSON).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib
from typing import Any

from banana_studio.domain.content import b64encode
from banana_studio.fakeserver.faults import Fault

HOSTILE = ("\x1b]52;c;SGFja2VkIGNsaXBib2FyZA==\x07"  # OSC 52: set the clipboard
           "\x1b]0;EVIL-TITLE\x07"                    # OSC 0: window title
           "\x1b[2J"                                  # clear the screen
           "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\"  # OSC 8 hyperlink
           "\x07"                                     # BEL
           "\x9b31mC1-CSI"                            # C1 CSI (8-bit ESC [)
           "\u202eevil-bidi\u202c"                    # right-to-left override
           "\ud800lone")                              # lone surrogate
"""One string that tries everything; tests assert its distinctive bytes never reach a terminal raw."""

HOSTILE_MARKERS = (b"\x1b]52;c;SGFja2Vk", b"\x1b]0;EVIL", b"\x1b[2J", b"\x1b]8;;http://evil", b"\x9b31m",
                   b"\xc2\x9b", "\u202e".encode())
"""Raw byte sequences that only :data:`HOSTILE` produces (its UTF-8 and 8-bit forms)."""

HOSTILE_FAULTS = frozenset({"key_echo", "hostile_text", "lying_image", "bad_unicode"})
"""Described in :data:`banana_studio.fakeserver.faults.FAULTS`."""

KEY_FIELDS = ("finish_message", "block_message", "model_version", "response_id", "grounding", "thought", "answer",
              "usage", "part_field")


def _cand(ev: dict[str, Any]) -> dict[str, Any] | None:
    cands = ev.get("candidates")
    return cands[0] if isinstance(cands, list) and cands and isinstance(cands[0], dict) else None


def _parts(ev: dict[str, Any]) -> list[dict[str, Any]]:
    cand = _cand(ev)
    content = cand.get("content") if cand else None
    parts = content.get("parts") if isinstance(content, dict) else None
    return parts if isinstance(parts, list) else []


def _grounding(text: str) -> dict[str, Any]:
    return {"webSearchQueries": [f"query {text}"],
            "searchEntryPoint": {"renderedContent": f"<div>{text}</div>"},
            "groundingChunks": [{"web": {"uri": f"https://example.com/{text}", "title": f"title {text}"}}],
            "groundingSupports": []}


def _insert_text(steps: list[Any], make_step: Any, text: str, *, thought: bool,
                 part: dict[str, Any] | None = None) -> None:
    """A thought (before the first non-thought step) or an answer (before the closing step); ``part``
    instead of the text part when given."""
    if not steps:
        return
    ref = steps[-1].event
    ev = {k: v for k, v in ref.items() if k != "candidates"}
    if part is None:
        part = {"text": text, "thought": True} if thought else {"text": text}
    ev["candidates"] = [{"content": {"role": "model", "parts": [part]}, "index": 0}]
    pos = next((i for i, s in enumerate(steps) if s.kind != "thought"), len(steps)) if thought else len(steps) - 1
    steps.insert(max(0, pos), make_step("thought" if thought else "answer", ev))


def _set_everywhere(steps: list[Any], key: str, value: str) -> None:
    for s in steps:
        if key in s.event:
            s.event[key] = value


def _close(steps: list[Any]) -> dict[str, Any] | None:
    for s in reversed(steps):
        cand = _cand(s.event)
        if cand is not None and cand.get("finishReason"):
            return cand
    return None


def _key_echo(steps: list[Any], make_step: Any, fault: Fault, key: str) -> list[Any]:
    field = fault.params.get("field", "all") or "all"
    text = f"echo {key} echo"
    if field == "block_message":
        ev = {k: v for k, v in steps[-1].event.items() if k != "candidates"} if steps else {}
        ev["promptFeedback"] = {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": text}
        return [make_step("special", ev)]
    every = field == "all"
    if every or field == "model_version":
        _set_everywhere(steps, "modelVersion", text)
    if every or field == "response_id":
        _set_everywhere(steps, "responseId", key)
    close = _close(steps)
    if close is not None and (every or field == "finish_message"):
        close["finishMessage"] = text
    if close is not None and (every or field == "grounding"):
        close["groundingMetadata"] = _grounding(text)
    if every or field == "thought":
        _insert_text(steps, make_step, f"Thinking about {text}.", thought=True)
    if every or field == "answer":
        _insert_text(steps, make_step, f"Here it is: {text}.", thought=False)
    if every or field == "usage":  # a string inside usageMetadata (an unknown traffic type)
        for s in steps:
            if isinstance(s.event.get("usageMetadata"), dict):
                s.event["usageMetadata"]["trafficType"] = text
    if every or field == "part_field":  # a part field the studio does not use itself (kept in the record)
        _insert_text(steps, make_step, "", thought=False,
                     part={"executableCode": {"code": text, "language": "PYTHON"}})
    return steps


def _hostile_text(steps: list[Any], make_step: Any) -> list[Any]:
    _insert_text(steps, make_step, f"**Thinking** {HOSTILE} done", thought=True)
    _insert_text(steps, make_step, f"Answer {HOSTILE} end", thought=False)
    _set_everywhere(steps, "modelVersion", f"model{HOSTILE}")
    close = _close(steps)
    if close is not None:
        close["finishMessage"] = f"finish {HOSTILE}"
        close["groundingMetadata"] = _grounding(HOSTILE)
    return steps


@functools.lru_cache(maxsize=1)
def huge_png() -> bytes:
    """A valid 1-bit PNG of 14000×13000 pixels (182 MP, over Pillow's 178 MP bomb limit), ~30 KB."""
    width, height = 14000, 13000

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    idat = b"".join(comp.compress(row * 100) for _ in range(height // 100)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _truncated_jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    img = Image.merge("RGB", [Image.linear_gradient("L"), Image.radial_gradient("L"),
                              Image.linear_gradient("L").rotate(90)])
    img.save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    return data[: len(data) // 2]


def lying_image(kind: str, mb: float = 100.0) -> tuple[str, bytes]:
    """(declared MIME type, data) of a ``lying_image`` kind."""
    if kind == "svg":
        return "image/svg+xml", (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                                 b'<rect width="64" height="64" fill="red"/></svg>')
    if kind == "html":
        return "text/html", b"<!doctype html><html><body><script>alert(1)</script></body></html>"
    if kind == "text_png":
        return "image/png", b"This is not an image, only text that says it is a PNG.\n" * 20
    if kind == "truncated_jpeg":
        return "image/jpeg", _truncated_jpeg()
    if kind == "random":
        return "image/png", os.urandom(max(1, int(mb * 1024 * 1024)))
    if kind == "huge":
        return "image/png", huge_png()
    raise ValueError(f"unknown lying_image kind {kind!r}")


def _lying_image(steps: list[Any], fault: Fault) -> list[Any]:
    mime, data = lying_image(fault.params.get("kind", "svg") or "svg", fault.num("mb", 100.0) or 100.0)
    for s in steps:
        if s.kind != "final":
            continue
        for p in _parts(s.event):
            if isinstance(p.get("inlineData"), dict):
                p["inlineData"] = {"mimeType": mime, "data": b64encode(data)}
    return steps


def _bad_unicode(steps: list[Any], make_step: Any) -> list[Any]:
    kept = [s for s in steps if s.kind == "thought"]
    ref = steps[-1].event if steps else {}
    ev = {k: v for k, v in ref.items() if k != "candidates"}
    ev["candidates"] = [{"content": {"role": "model"}, "finishReason": "IMAGE_SAFETY", "index": 0,
                         "finishMessage": "Unable to show the generated image \ud800 (safety)."}]
    return [*kept, make_step("close", ev)]


def reshape(steps: list[Any], fault: Fault | None, api_key: str = "") -> list[Any]:
    """``steps`` (answers.Step objects) changed by a hostile fault; other faults leave them as they are."""
    if fault is None or fault.name not in HOSTILE_FAULTS or not steps:
        return steps
    make_step = type(steps[0])
    if fault.name == "key_echo":
        return _key_echo(steps, make_step, fault, api_key)
    if fault.name == "hostile_text":
        return _hostile_text(steps, make_step)
    if fault.name == "lying_image":
        return _lying_image(steps, fault)
    return _bad_unicode(steps, make_step)
