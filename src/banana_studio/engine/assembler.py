"""Assemble the streamed chunks of one model turn into one Content and the events to emit.

Every server-provided string passes :class:`~banana_studio.engine.server_text.ServerText` here (the
key redacted, invalid text made valid); bytes (thought signatures, image data) are kept exactly.
"""

from __future__ import annotations

import re
from typing import Any

from banana_studio.domain.content import Content, Part, b64decode_any
from banana_studio.domain.events import (
    AnswerText,
    DraftImage,
    EngineError,
    Event,
    Failed,
    FinalImage,
    Finished,
    Grounding,
    GroundingSource,
    RejectedImage,
    ThoughtText,
    Usage,
)
from banana_studio.engine.errors import blocked_error, finish_error
from banana_studio.engine.request import sniff_image_mime
from banana_studio.engine.server_text import ServerText
from banana_studio.engine.verify import check_received_image

_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_\-=\s]+")
BASE64_TEXT_MIN = 256
"""A non-thought text part at least this long made only of base64 characters is checked for an image."""
_PART_CORE_FIELDS = frozenset({"text", "thought", "thought_signature", "inline_data"})


def _enum_name(value: Any) -> str:
    if value is None:
        return ""
    return str(getattr(value, "value", value) or "")


def _sdk_part_to_part(sp: Any, clean: ServerText) -> Part:
    text = clean(sp.text) if sp.text else sp.text
    part = Part(text=text, thought=bool(sp.thought), thought_signature=sp.thought_signature)
    if sp.inline_data is not None:
        part.mime_type = clean(sp.inline_data.mime_type) or None
        part.data = sp.inline_data.data if sp.inline_data.data is not None else b""
        if part.mime_type is None:
            part.mime_type = sniff_image_mime(part.data) or "application/octet-stream"
    if sp.model_fields_set - _PART_CORE_FIELDS:  # skip the (slow) dump for plain text/image parts
        extra = sp.model_dump(mode="json", exclude_none=True, exclude=set(_PART_CORE_FIELDS))
        if extra:
            part.extra = clean.tree(extra)
    return part


def _usage_from(md: Any) -> Usage:
    def modality_tokens(details: Any, modality: str) -> int:
        total = 0
        for d in details or []:
            if _enum_name(getattr(d, "modality", None)).upper() == modality:
                total += getattr(d, "token_count", 0) or 0
        return total

    return Usage(
        prompt_tokens=md.prompt_token_count or 0,
        candidates_tokens=md.candidates_token_count or 0,
        thoughts_tokens=md.thoughts_token_count or 0,
        total_tokens=md.total_token_count or 0,
        image_tokens=modality_tokens(md.candidates_tokens_details, "IMAGE"),
        prompt_image_tokens=modality_tokens(md.prompt_tokens_details, "IMAGE"),
        tool_use_prompt_tokens=md.tool_use_prompt_token_count or 0,
        raw=md.model_dump(mode="json", exclude_none=True),
    )


def _grounding_from(gm: Any, clean: ServerText) -> Grounding:
    sources: list[GroundingSource] = []
    for chunk in gm.grounding_chunks or []:
        web = getattr(chunk, "web", None)
        if web is not None and (web.uri or web.title):
            sources.append(GroundingSource(title=clean(web.title or web.domain or ""), uri=clean(web.uri or "")))
    rendered = ""
    if gm.search_entry_point is not None:
        rendered = clean(gm.search_entry_point.rendered_content or "")
    return Grounding(queries=[clean(q) for q in gm.web_search_queries or []], sources=sources,
                     rendered_content=rendered)


class TurnAssembler:
    """Collects the streamed chunks of ONE model turn into one Content and the events to emit."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        self.clean = ServerText(secrets)
        self.rejected: list[RejectedImage] = []
        self._image_parts: dict[int, Part] = {}
        """id(DraftImage/FinalImage event) -> its part, until the image is checked."""
        self.parts: list[Part] = []
        self.n_drafts = 0
        self.n_finals = 0
        self.n_chunks = 0
        self.saw_candidates = False
        self.finish_reason = ""
        self.finish_message = ""
        self.block_reason = ""
        self.block_message = ""
        self.model_version = ""
        self.response_id = ""
        self.usage: Usage | None = None
        self.grounding: Grounding | None = None
        self.warnings: list[str] = []
        self.base64_text_failed = False

    @property
    def saw_data(self) -> bool:
        return self.n_chunks > 0

    def content(self) -> Content:
        return Content("model", list(self.parts))

    def feed(self, chunk: Any) -> list[Event]:
        self.n_chunks += 1
        events: list[Event] = []
        clean = self.clean
        if chunk.model_version:
            self.model_version = clean(chunk.model_version)
        if chunk.response_id:
            self.response_id = clean(chunk.response_id)
        if chunk.usage_metadata is not None:
            self.usage = _usage_from(chunk.usage_metadata)
            self.usage.raw = clean.tree(self.usage.raw)
        pf = chunk.prompt_feedback
        if pf is not None and pf.block_reason:
            self.block_reason = clean(_enum_name(pf.block_reason))
            self.block_message = clean(pf.block_reason_message or "")
        if not chunk.candidates:
            return events
        self.saw_candidates = True
        cand = chunk.candidates[0]
        if cand.finish_reason:
            self.finish_reason = clean(_enum_name(cand.finish_reason))
        if cand.finish_message:
            self.finish_message = clean(cand.finish_message)
        if cand.grounding_metadata is not None:
            self.grounding = _grounding_from(cand.grounding_metadata, clean)
        sdk_parts = cand.content.parts if cand.content is not None else None
        for sp in sdk_parts or []:
            part = _sdk_part_to_part(sp, clean)
            events.extend(self._add(part))
        return events

    def feed_checked(self, chunk: Any) -> list[Event]:
        """:meth:`feed` plus the image checks, for a whole (non-streamed) answer.  Blocking (Pillow)."""
        return [ev for ev in self.feed(chunk)
                if not isinstance(ev, (DraftImage, FinalImage)) or self.check_image(ev)]

    def check_image(self, ev: DraftImage | FinalImage) -> bool:
        """Verify the image of ``ev`` (blocking: Pillow).  False: it was rejected and removed from the
        turn's parts (kept in :attr:`rejected`); True: its part and ``ev`` carry the real MIME type."""
        part = self._image_parts.pop(id(ev), None)
        result = check_received_image(ev.data, ev.mime_type)
        if result.ok:
            ev.mime_type = result.mime_type
            if part is not None:
                part.mime_type = result.mime_type
            return True
        draft = isinstance(ev, DraftImage)
        self.rejected.append(RejectedImage(ev.data, ev.mime_type, result.reason, draft, ev.index))
        if draft:
            self.warnings.append(f"Draft image {ev.index + 1} from the server is not a valid image ({result.reason}); "
                                 "it was left out.")
        if part is not None:
            self.parts = [p for p in self.parts if p is not part]
        return False

    def rejected_error(self) -> EngineError | None:
        finals = [r for r in self.rejected if not r.thought]
        if not finals:
            return None
        bad = finals[0]
        which = f"final image {bad.index + 1}" if self.n_finals > 1 else "the final image"
        more = f" ({len(finals) - 1} more like it)" if len(finals) > 1 else ""
        return EngineError("bad_image", f"The server sent {which} but it is not a valid image: {bad.reason}{more}. "
                           "The turn does not count as done; retry to generate it again.", retryable=True)

    def _maybe_base64_image(self, part: Part) -> Part:
        text = part.text or ""
        if part.thought or len(text) < BASE64_TEXT_MIN or not _BASE64_TEXT.fullmatch(text):
            return part
        try:
            data = b64decode_any("".join(text.split()))
        except ValueError:
            self.base64_text_failed = True
            return part
        mime = sniff_image_mime(data)
        if mime is None:
            self.base64_text_failed = True
            return part
        self.warnings.append("The image arrived as base64 text instead of image data; it was decoded and kept.")
        return Part(thought_signature=part.thought_signature, mime_type=mime, data=data, extra=dict(part.extra))

    def _add(self, part: Part) -> list[Event]:
        if part.text is not None and not part.is_image:
            part = self._maybe_base64_image(part)
        if part.thought_signature is not None and len(part.thought_signature) == 0:
            self.warnings.append(f"The API sent an empty thought signature (part {len(self.parts)}); it was kept as "
                                 "received, but editing from this turn may be rejected.")
        events: list[Event] = []
        if part.is_image:
            image: DraftImage | FinalImage
            if part.thought:
                image = DraftImage(part.data or b"", part.mime_type or "", self.n_drafts)
                self.n_drafts += 1
            else:
                image = FinalImage(part.data or b"", part.mime_type or "", self.n_finals)
                self.n_finals += 1
            self._image_parts[id(image)] = part
            events.append(image)
            self.parts.append(part)
            return events
        if part.text:
            events.append(ThoughtText(part.text) if part.thought else AnswerText(part.text))
        prev = self.parts[-1] if self.parts else None
        mergeable = (part.text is not None and part.thought_signature is None and not part.extra
                     and part.mime_type is None)
        if (mergeable and prev is not None and prev.text is not None and prev.thought_signature is None
                and not prev.extra and not prev.is_image and prev.mime_type is None
                and prev.thought == part.thought):
            prev.text = self.clean((prev.text or "") + (part.text or ""))  # a key split across chunks
        else:
            self.parts.append(part)
        return events

    def finish(self) -> list[Event]:
        """Events that close a stream which ended normally (no exception)."""
        content = self.content()
        events: list[Event] = []
        if self.grounding is not None:
            events.append(self.grounding)
        if self.usage is not None:
            events.append(self.usage)
        common: dict[str, Any] = {"model_version": self.model_version, "response_id": self.response_id}
        if not self.saw_candidates:
            if self.block_reason:
                err = blocked_error(self.block_reason, self.block_message)
                events.append(Finished(content, self.block_reason, self.block_message, ok=False, error=err,
                                       warnings=self.warnings, rejected=self.rejected, **common))
            elif self.n_chunks == 0:
                events.append(Failed(EngineError("truncated", "The API closed the stream without sending anything. "
                                                 "Retry.", retryable=True), rejected=self.rejected))
            else:
                err = EngineError("no_image", "The API returned an empty answer (no candidates, no reason given). "
                                  "Try again.", retryable=True)
                events.append(Finished(content, "", "", ok=False, error=err, warnings=self.warnings,
                                       rejected=self.rejected, **common))
            return events
        if not self.finish_reason:
            err = EngineError("truncated", "The answer stream ended before the model finished (no finish reason): "
                              "the image may be missing or incomplete. Retry to generate it again.", retryable=True)
            events.append(Failed(err, partial=content if content.parts else None, rejected=self.rejected))
            return events
        rejected = self.rejected_error()
        if rejected is not None:
            events.append(Finished(content, self.finish_reason, self.finish_message, ok=False, error=rejected,
                                   warnings=self.warnings, rejected=self.rejected, **common))
            return events
        finals = content.final_images()
        bad = self.finish_reason not in ("STOP", "FINISH_REASON_UNSPECIFIED", "MAX_TOKENS", "OTHER")
        if finals and not bad:
            if self.n_finals == 0:
                p = finals[-1]
                self.warnings.append("The model flagged its only image as a thought; it is used as the final image.")
                events.append(FinalImage(p.data or b"", p.mime_type or "", 0))
            events.append(Finished(content, self.finish_reason, self.finish_message, ok=True,
                                   warnings=self.warnings, rejected=self.rejected, **common))
            return events
        if not content.parts and self.finish_reason == "STOP":
            err = EngineError("no_image", "The model finished (STOP) but returned no content at all (parts: null). "
                              "Try again.", retryable=True)
        elif self.base64_text_failed and self.finish_reason == "STOP":
            err = EngineError("no_image", "The model returned base64-looking text that does not decode to an image. "
                              "Try again.", retryable=True)
        else:
            err = finish_error(self.finish_reason, self.finish_message, answer_text=content.answer_text())
        events.append(Finished(content, self.finish_reason, self.finish_message, ok=False, error=err,
                               warnings=self.warnings, rejected=self.rejected, **common))
        return events
