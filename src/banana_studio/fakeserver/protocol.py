"""Request parsing and validation for the fake Gemini server (no I/O here); the answers are built in
:mod:`banana_studio.fakeserver.answers`.

The functions mirror what the real ``generateContent`` endpoint does for Nano Banana Pro closely
enough for the SDK, the app and the tests: lenient parsing (camelCase and snake_case keys at any
depth, URL-safe and standard base64, enums in any case), the API's validation errors, thought
signatures, and the streamed event sequence (thought text → drafts → signed answer text → signed
final image → closing ``{"text": ""}`` event with usage, as real streams end).
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from banana_studio.domain.catalogue import STANDARD_RATIOS, get_model, pixel_size
from banana_studio.domain.content import b64decode_any
from banana_studio.domain.target import LOCAL_SIGNATURE_MAGIC
from banana_studio.fakeserver.faults import Fault, find_tag, invalid, not_found_error

RETIRED_MODELS = frozenset({"gemini-3-pro-image-preview", "gemini-3.1-flash-image-preview", "gemini-2.5-flash-image"})
SKIP_SIGNATURE = "skip_thought_signature_validator"
DEFAULT_SECRET = b"banana-studio fake gemini server v1"
EMPTY_TEXT_MESSAGE = ("Unable to submit request because it has an empty text parameter. Add a value to the parameter "
                      "and try again.")

_CAMEL_RE = re.compile(r"_([a-z0-9])")


def camel(key: str) -> str:
    if key.startswith("@") or "_" not in key.strip("_"):
        return key
    return _CAMEL_RE.sub(lambda m: m.group(1).upper(), key)


def camelize(obj: Any) -> Any:
    """Every dict key of ``obj`` in camelCase (proto-JSON accepts both spellings)."""
    if isinstance(obj, dict):
        return {camel(str(k)): camelize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [camelize(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# Thought signatures: derived (HMAC), so a restarted server with the same secret accepts them.
# ---------------------------------------------------------------------------------------------

_SIG_MAGIC = LOCAL_SIGNATURE_MAGIC + b"2"
_SIG_FILLER_SMALL = 448
SIG_MIN, SIG_MAX = 512 * 1024, 2560 * 1024
"""Real-size signatures: 0.5-2.5 MB, as recorded on live Nano Banana Pro answers (0.6-2.2 MB)."""
_POOL_SIZE = SIG_MAX + 64 * 1024
_POOL: bytes | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> bytes:
    """Deterministic pseudo-random bytes that every real-size signature is a slice of (made once)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = random.Random(0x5167).randbytes(_POOL_SIZE)
        return _POOL


class Signer:
    """``MAGIC | len(rid) | rid | index:2 | filler length:4 | tag:16 | filler``.

    The tag is an HMAC over the compact header; the filler (448 bytes small, 0.5-2.5 MB real size)
    is a slice of one deterministic pool chosen by the tag.  Verifying recomputes the 16-byte tag
    and compares the filler with its pool slice (a memcmp), so even 2.5 MB signatures are cheap.
    """

    def __init__(self, secret: bytes = DEFAULT_SECRET, *, real_size: bool = True) -> None:
        self._secret = secret
        self.real_size = real_size

    def _header(self, rid: bytes, index: int, length: int) -> bytes:
        return _SIG_MAGIC + bytes([len(rid)]) + rid + index.to_bytes(2, "big") + length.to_bytes(4, "big")

    def _tag(self, header: bytes) -> bytes:
        return hmac.new(self._secret, header, hashlib.sha256).digest()[:16]

    def _filler(self, tag: bytes, length: int) -> bytes:
        if length <= _SIG_FILLER_SMALL:
            out = bytearray()
            counter = 0
            while len(out) < length:
                out += hmac.new(self._secret, b"fill" + tag + counter.to_bytes(4, "big"), hashlib.sha256).digest()
                counter += 1
            return bytes(out[:length])
        offset = int.from_bytes(tag[:4], "big") % (_POOL_SIZE - length)
        return _pool()[offset:offset + length]

    def sign(self, response_id: str, index: int) -> bytes:
        rid = response_id.encode("ascii", "replace")[:255]
        if self.real_size:
            seed = hmac.new(self._secret, b"len" + rid + index.to_bytes(2, "big"), hashlib.sha256).digest()
            length = SIG_MIN + int.from_bytes(seed[:4], "big") % (SIG_MAX - SIG_MIN)
        else:
            length = _SIG_FILLER_SMALL
        header = self._header(rid, index, length)
        tag = self._tag(header)
        return header + tag + self._filler(tag, length)

    def verify(self, sig: bytes) -> bool:
        """True for a signature this server (same secret) made, whatever its size mode."""
        if not sig.startswith(_SIG_MAGIC) or len(sig) < len(_SIG_MAGIC) + 3:
            return False
        n = sig[len(_SIG_MAGIC)]
        start = len(_SIG_MAGIC) + 1
        head_end = start + n + 6
        if len(sig) < head_end + 16:
            return False
        length = int.from_bytes(sig[start + n + 2:head_end], "big")
        if length > _POOL_SIZE - 1 or len(sig) != head_end + 16 + length:
            return False
        header = sig[:head_end]
        tag = sig[head_end:head_end + 16]
        if not hmac.compare_digest(tag, self._tag(header)):
            return False
        return sig[head_end + 16:] == self._filler(tag, length)


def slim(obj: Any, max_len: int) -> Any:
    """``obj`` with every string longer than ``max_len`` replaced by ``"<N chars>"`` (what a
    real-size server keeps of a recorded request: a replayed branch is tens of MB of base64)."""
    if isinstance(obj, str):
        return obj if len(obj) <= max_len else f"<{len(obj)} chars>"
    if isinstance(obj, dict):
        return {k: slim(v, max_len) for k, v in obj.items()}
    if isinstance(obj, list):
        return [slim(v, max_len) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------
# Request
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class GenRequest:
    model: str
    version: str
    prompt: str
    contents: list[dict[str, Any]]
    references: list[bytes] = field(default_factory=list)
    base_image: bytes | None = None
    history_digest: str = ""
    aspect_ratio: str = "1:1"
    image_size: str = "1K"
    seed: int | None = None
    include_thoughts: bool = False
    image_only: bool = False
    text_only: bool = False
    """responseModalities without IMAGE: the model answers in text."""
    search: bool = False
    system: str = ""
    fault: Fault | None = None
    input_images: int = 0
    input_text_chars: int = 0
    thinks: bool = True
    image_tokens: int = 1120
    input_image_tokens: int = 560

    @property
    def pixel_size(self) -> tuple[int, int]:
        return pixel_size(self.aspect_ratio, self.image_size)


def check_model(model: str, version: str, method: str = "generateContent") -> None:
    if model in RETIRED_MODELS:
        raise not_found_error(model, version, method)


def _enum(value: Any) -> str:
    return str(value or "").strip().upper()


def parse_generate(raw: Any, model: str, version: str, signer: Signer) -> GenRequest:
    """Parse and validate a GenerateContentRequest body (raises ApiError like the API)."""
    if not isinstance(raw, dict):
        raise invalid("Invalid JSON payload received. Expected an object.")
    body = camelize(raw)
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not contents or not isinstance(contents, list):
        raise invalid("* GenerateContentRequest.contents: contents is not specified\n", "contents")

    history = hashlib.sha256()
    n_images = 0
    text_chars = 0
    last_model_image: bytes | None = None
    for ci, content in enumerate(contents):
        if not isinstance(content, dict):
            raise invalid(f"Invalid value at 'contents[{ci}]': expected a Content object.")
        role = str(content.get("role") or "user")
        if role not in ("user", "model"):
            raise invalid("Please use a valid role: user, model.")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise invalid(f"* GenerateContentRequest.contents[{ci}].parts: contents.parts must not be empty.\n",
                          f"contents[{ci}].parts")
        first_answer = True
        for pi, part in enumerate(parts):
            if not isinstance(part, dict):
                raise invalid(f"Invalid value at 'contents[{ci}].parts[{pi}]': expected a Part object.")
            data = _part_image(part, ci, pi)
            is_thought = bool(part.get("thought"))
            raw_sig = part.get("thoughtSignature")
            if part.get("text") == "" and data is None:
                raise invalid(EMPTY_TEXT_MESSAGE)
            if role == "model" and not is_thought and first_answer:
                first_answer = False
                if raw_sig in (None, "") and data is None and isinstance(part.get("text"), str) \
                        and any(isinstance(p, dict) and p.get("inlineData") for p in parts):
                    # the first part after the thoughts of an image answer is signed; it must come back so
                    raise invalid(f"Text part is missing a thought_signature in content position {ci + 1}, "
                                  f"part position {pi + 1}. Please refer to "
                                  "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
            if role == "model":
                if raw_sig not in (None, "") and raw_sig != SKIP_SIGNATURE:
                    try:
                        sig = b64decode_any(str(raw_sig))
                    except ValueError:
                        sig = b""
                    if not signer.verify(sig):
                        raise invalid("Corrupted thought signature.")
                if data is not None and not is_thought and raw_sig in (None, ""):
                    raise invalid(f"Image part is missing a thought_signature in content position {ci + 1}, "
                                  f"part position {pi + 1}. Please refer to "
                                  "https://ai.google.dev/gemini-api/docs/thought-signatures for more details.")
            if data is not None:
                n_images += 1
                history.update(hashlib.sha256(data).digest())
                if role == "model" and not is_thought:
                    last_model_image = data
            text = part.get("text")
            if isinstance(text, str):
                text_chars += len(text)
                history.update(text.encode("utf-8", "surrogatepass"))
            history.update(role.encode())

    # The new turn: the trailing user content.
    last = contents[-1]
    prompt_bits: list[str] = []
    refs: list[bytes] = []
    fault: Fault | None = None
    if str(last.get("role") or "user") == "user":
        for part in last.get("parts") or []:
            if isinstance(part.get("text"), str):
                f, cleaned = find_tag(part["text"])
                fault = fault or f
                if cleaned:
                    prompt_bits.append(cleaned)
            img = _part_image(part, len(contents) - 1, 0)
            if img is not None:
                refs.append(img)

    system = ""
    si = body.get("systemInstruction")
    if isinstance(si, dict):
        system = " ".join(str(p.get("text") or "") for p in si.get("parts") or [] if isinstance(p, dict))
    elif isinstance(si, str):
        system = si
    text_chars += len(system)

    spec = get_model(model)
    gen = body.get("generationConfig") or {}
    if not isinstance(gen, dict):
        raise invalid("Invalid value at 'generation_config': expected an object.")
    img_cfg = gen.get("imageConfig") or {}
    think = gen.get("thinkingConfig") or {}
    if not isinstance(img_cfg, dict):
        raise invalid("Invalid value at 'generation_config.image_config': expected an object.")
    if not isinstance(think, dict):
        raise invalid("Invalid value at 'generation_config.thinking_config': expected an object.")

    cand = _int(gen.get("candidateCount"), "generation_config.candidate_count")
    if cand is not None and cand > 1:
        raise invalid(f"Multiple candidates is not enabled for models/{model}")

    level = _enum(think.get("thinkingLevel"))
    budget = _int(think.get("thinkingBudget"), "generation_config.thinking_config.thinking_budget")
    if level and budget is not None:
        raise invalid("You can only set only one of thinking budget and thinking level.")
    if level and level not in ("MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH", "THINKING_LEVEL_UNSPECIFIED"):
        raise invalid(f"Invalid value at 'generation_config.thinking_config.thinking_level' (type.googleapis.com/"
                      f"google.ai.generativelanguage.v1beta.ThinkingConfig.ThinkingLevel), \"{level}\"")
    allowed = spec.thinking_levels if spec.thinking_optional else ("LOW", "HIGH")
    if level and level != "THINKING_LEVEL_UNSPECIFIED" and allowed and level not in allowed:
        raise invalid(f"Thinking level {level} is not supported for this model. "
                      "Please retry with other thinking level.")
    if budget == 0 and not spec.thinking_optional:
        raise invalid("This model only works in thinking mode.")

    size = str(img_cfg.get("imageSize") or "1K")
    if size not in spec.sizes:
        raise invalid(f"Unsupported image size: {size}. Supported values are: {', '.join(spec.sizes)}. "
                      "Note that the 'K' must be uppercase." if size.upper() in spec.sizes else
                      f"Unsupported image size: {size}. Supported values are: {', '.join(spec.sizes)}.")
    aspect = img_cfg.get("aspectRatio")
    if aspect:
        aspect = str(aspect).strip()
        if aspect not in spec.aspect_ratios:
            raise invalid(f"Unsupported aspect ratio: {aspect}. Supported values are: "
                          f"{', '.join(spec.aspect_ratios)}.")
    else:
        aspect = "1:1"
        base_for_ratio = refs[0] if refs else last_model_image
        if base_for_ratio is not None:
            from banana_studio.fakeserver.images import guess_aspect

            aspect = guess_aspect(base_for_ratio, tuple(r for r in spec.aspect_ratios if r in STANDARD_RATIOS)) \
                or "1:1"

    modalities = [_enum(m) for m in gen.get("responseModalities") or []]
    for m in modalities:
        if m not in ("TEXT", "IMAGE", "AUDIO", "MODALITY_UNSPECIFIED"):
            raise invalid(f"Invalid value at 'generation_config.response_modalities[0]' "
                          f"(type.googleapis.com/google.ai.generativelanguage.v1beta.GenerationConfig.Modality), "
                          f"\"{m}\"")
    image_only = bool(modalities) and "TEXT" not in modalities
    text_only = bool(modalities) and "IMAGE" not in modalities

    search = False
    for tool in body.get("tools") or []:
        if isinstance(tool, dict) and ("googleSearch" in tool or "googleSearchRetrieval" in tool):
            search = True
            types_ = (tool.get("googleSearch") or {}).get("searchTypes") if isinstance(tool.get("googleSearch"),
                                                                                      dict) else None
            if isinstance(types_, dict) and "imageSearch" in types_ and not spec.image_search and spec.known:
                raise invalid("Image search is not supported for this model.")

    seed = _int(gen.get("seed"), "generation_config.seed")
    is_pro_like = spec.id.startswith("gemini-3-pro") or not spec.known
    return GenRequest(
        model=model,
        version=version,
        prompt=" ".join(prompt_bits),
        contents=contents,
        references=refs,
        base_image=last_model_image,
        history_digest=history.hexdigest() if len(contents) > 1 else "",
        aspect_ratio=aspect,
        image_size=size,
        seed=seed,
        include_thoughts=bool(think.get("includeThoughts")),
        image_only=image_only,
        text_only=text_only,
        search=search,
        system=system,
        fault=fault,
        input_images=n_images,
        input_text_chars=text_chars,
        thinks=spec.thinks,
        image_tokens=spec.image_tokens.get(size, 1120),
        input_image_tokens=560 if is_pro_like else 1120,
    )


def _int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid(f"Invalid value at '{where}' (TYPE_INT32), {str(value).lower()}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid(f"Invalid value at '{where}' (TYPE_INT32), \"{value}\"") from None


def _part_image(part: dict[str, Any], ci: int, pi: int) -> bytes | None:
    inline = part.get("inlineData")
    if not isinstance(inline, dict):
        return None
    data = inline.get("data")
    if not isinstance(data, str):
        return None
    try:
        return b64decode_any(data)
    except ValueError:
        raise invalid(f"Invalid value at 'contents[{ci}].parts[{pi}].inline_data.data' (TYPE_BYTES), "
                      f"Base64 decoding failed for \"{data[:40]}\"",
                      f"contents[{ci}].parts[{pi}].inline_data.data") from None
