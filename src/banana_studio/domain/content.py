"""A lossless, SDK-independent representation of Gemini ``Content`` / ``Part``.

The store keeps every model turn exactly as received (thought parts, draft images, thought
signatures) so a branch can be replayed days later.  Image bytes may be held inline (``data``) or
as a reference into the project's content-addressed blob store (``blob`` = sha256 hex).

JSON form (what the store writes)::

    {"role": "model", "parts": [
        {"text": "...", "thought": true},
        {"inline_data": {"mime_type": "image/jpeg", "blob": "<sha256>"}, "thought_signature": "<b64>"},
        {"text": "", "thought_signature": "<b64>"},
        {"function_call": {...}}            # any unknown part field is preserved verbatim in ``extra``
    ]}

Signatures are standard base64 of the exact bytes received, so the round trip is byte-exact.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from banana_studio.domain.b64 import decode_strict, encode

_KNOWN_PART_KEYS = {
    "text",
    "thought",
    "thought_signature",
    "thoughtSignature",
    "inline_data",
    "inlineData",
    "thought_signature_blob",
}


def b64decode_any(value: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not (the API and the SDK use both)."""
    s = value.strip().replace("-", "+").replace("_", "/")
    s += "=" * (-len(s) % 4)
    try:
        return decode_strict(s.encode("ascii"))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64 data: {exc}") from exc


def b64encode(data: bytes) -> str:
    return encode(data).decode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_of(pieces: tuple[bytes | memoryview, ...]) -> str:
    """SHA-256 of the pieces one after the other (as if joined)."""
    h = hashlib.sha256()
    for piece in pieces:
        h.update(piece)
    return h.hexdigest()


@dataclass(slots=True)
class Part:
    """One part of a Content.  Exactly what the API sent; nothing is normalised away."""

    text: str | None = None
    thought: bool = False
    thought_signature: bytes | None = None
    mime_type: str | None = None
    data: bytes | None = None
    """Inline image bytes, when held in memory."""
    blob: str | None = None
    """sha256 hex of the image bytes in the project blob store, when not held inline."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Any other part field (function calls, code execution, ...) kept verbatim for replay."""
    signature_blob: str | None = None
    """sha256 hex of the thought signature in the project blob store, when it was not read (a turn
    loaded only to be measured or checked); :meth:`Content.inflate` reads it."""

    def __repr__(self) -> str:
        # Sizes, not the bytes: a Turn's repr (logs, asyncio's own reprs of a finished task's result)
        # copied megabytes of signature and image bytes into a string, 0.1-0.3 s each.
        shown = []
        for name in (f.name for f in fields(self)):
            value = getattr(self, name)
            if value is None or value is False or value == {}:
                continue
            if isinstance(value, bytes):
                shown.append(f"{name}=<{len(value):,} bytes>")
            elif isinstance(value, str) and len(value) > 80:
                shown.append(f"{name}={value[:60]!r}…<{len(value):,} chars>")
            else:
                shown.append(f"{name}={value!r}")
        return f"Part({', '.join(shown)})"

    @property
    def has_signature(self) -> bool:
        return self.thought_signature is not None or self.signature_blob is not None

    @property
    def is_image(self) -> bool:
        return self.mime_type is not None and (self.data is not None or self.blob is not None)

    @property
    def digest(self) -> str | None:
        if self.blob is not None:
            return self.blob
        if self.data is not None:
            return sha256_hex(self.data)
        return None

    # -- JSON -------------------------------------------------------------------------------
    def to_json(self, *, inline_images: bool = False) -> dict[str, Any]:
        """Serialise.  Images become ``blob`` references unless ``inline_images`` is set."""
        out: dict[str, Any] = dict(self.extra)
        if self.text is not None:
            out["text"] = self.text
        if self.thought:
            out["thought"] = True
        if self.thought_signature is not None:
            out["thought_signature"] = b64encode(self.thought_signature)
        elif self.signature_blob is not None:
            out["thought_signature_blob"] = self.signature_blob
        if self.mime_type is not None and (self.data is not None or self.blob is not None):
            inline: dict[str, Any] = {"mime_type": self.mime_type}
            if inline_images and self.data is not None:
                inline["data"] = b64encode(self.data)
            else:
                inline["blob"] = self.digest
            out["inline_data"] = inline
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Part:
        """Parse our JSON form *or* a REST/SDK dict (camelCase or snake_case)."""
        part = cls()
        if "text" in obj and obj["text"] is not None:
            part.text = str(obj["text"])
        part.thought = bool(obj.get("thought") or False)
        sig = obj.get("thought_signature", obj.get("thoughtSignature"))
        if isinstance(sig, bytes):
            part.thought_signature = sig
        elif isinstance(sig, str):
            part.thought_signature = b64decode_any(sig)
        if part.thought_signature is None and obj.get("thought_signature_blob"):
            part.signature_blob = str(obj["thought_signature_blob"])
        inline = obj.get("inline_data", obj.get("inlineData"))
        if isinstance(inline, dict):
            part.mime_type = inline.get("mime_type", inline.get("mimeType"))
            raw = inline.get("data")
            if isinstance(raw, bytes):
                part.data = raw
            elif isinstance(raw, str):
                part.data = b64decode_any(raw)
            if inline.get("blob"):
                part.blob = str(inline["blob"])
        part.extra = {k: v for k, v in obj.items() if k not in _KNOWN_PART_KEYS}
        return part


@dataclass(slots=True)
class Content:
    role: str
    parts: list[Part] = field(default_factory=list)

    def to_json(self, *, inline_images: bool = False) -> dict[str, Any]:
        return {"role": self.role, "parts": [p.to_json(inline_images=inline_images) for p in self.parts]}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Content:
        parts = obj.get("parts") or []
        return cls(role=str(obj.get("role") or "model"), parts=[Part.from_json(p) for p in parts])

    # -- helpers ----------------------------------------------------------------------------
    def final_images(self) -> list[Part]:
        """Non-thought image parts; falls back to the last thought image if the model flagged
        its only image as a thought (a reported quirk)."""
        finals = [p for p in self.parts if p.is_image and not p.thought]
        if finals:
            return finals
        drafts = [p for p in self.parts if p.is_image and p.thought]
        return drafts[-1:]

    def draft_images(self) -> list[Part]:
        finals = {id(p) for p in self.final_images()}
        return [p for p in self.parts if p.is_image and p.thought and id(p) not in finals]

    def thought_text(self) -> str:
        return "".join(p.text or "" for p in self.parts if p.thought and p.text)

    def answer_text(self) -> str:
        return "".join(p.text or "" for p in self.parts if not p.thought and p.text)

    def externalise(self, put_blob: Callable[[bytes], str]) -> Content:
        """Return a copy whose inline image bytes were handed to ``put_blob`` (-> sha256)."""
        parts = []
        for p in self.parts:
            if p.data is not None:
                digest = put_blob(p.data)
                parts.append(Part(p.text, p.thought, p.thought_signature, p.mime_type, None, digest,
                                  dict(p.extra), p.signature_blob))
            else:
                parts.append(Part(p.text, p.thought, p.thought_signature, p.mime_type, p.data, p.blob,
                                  dict(p.extra), p.signature_blob))
        return Content(self.role, parts)

    def inflate(self, get_blob: Callable[[str], bytes]) -> Content:
        """Return a copy where every ``blob`` reference (image or thought signature) is replaced by its bytes."""
        parts = []
        for p in self.parts:
            data = p.data
            if data is None and p.blob is not None:
                data = get_blob(p.blob)
            sig = p.thought_signature
            if sig is None and p.signature_blob is not None:
                sig = get_blob(p.signature_blob)
            parts.append(Part(p.text, p.thought, sig, p.mime_type, data, p.blob, dict(p.extra)))
        return Content(self.role, parts)


def user_content(prompt: str, images: list[tuple[bytes, str]] | None = None) -> Content:
    """The user's turn: prompt text first, then reference images in tray order."""
    parts: list[Part] = []
    if prompt:
        parts.append(Part(text=prompt))
    for data, mime in images or []:
        parts.append(Part(mime_type=mime, data=data))
    return Content("user", parts)
