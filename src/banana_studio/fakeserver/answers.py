"""Answers of the fake Gemini server (no I/O here): the thoughts, answer text, usage and grounding it
makes up for a parsed request, and the streamed event sequence (thought text → drafts → signed answer
text → signed final image → closing ``{"text": ""}`` event with usage, as real streams end).
Request parsing and validation live in :mod:`banana_studio.fakeserver.protocol`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from banana_studio.domain.content import b64encode
from banana_studio.fakeserver.faults import Fault
from banana_studio.fakeserver.protocol import GenRequest, Signer


def _excerpt(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def thought_texts(req: GenRequest) -> list[str]:
    subject = _excerpt(req.prompt) or "an image"
    w, h = req.pixel_size
    out = [f"**Interpreting the request**\n\nI'm reading the brief, \"{subject}\", and deciding what the "
           "image must show first and what can stay in the background.\n\n"]
    if req.search:
        out.append(f"**Searching for references**\n\nI'm looking up current facts about \"{_excerpt(req.prompt, 40)}\" "
                   "so the details in the picture are accurate.\n\n")
    out.append(f"**Planning the composition**\n\nI'm laying out a {req.aspect_ratio} frame ({w}x{h}), placing the "
               "main subject and balancing colour and negative space.\n\n")
    if req.base_image is not None:
        out.append("**Applying the edit**\n\nI'm keeping the previous image as the base and changing only what "
                   "was asked, so the rest of the scene stays consistent.\n\n")
    elif req.references:
        n = len(req.references)
        out.append(f"**Blending the references**\n\nI'm taking subjects and style cues from the {n} reference "
                   f"image{'s' if n != 1 else ''} and combining them into one scene.\n\n")
    else:
        out.append("**Refining the details**\n\nI'm checking lighting, edges and text legibility before "
                   "rendering the final image.\n\n")
    return out


def answer_text(req: GenRequest) -> str:
    subject = _excerpt(req.prompt, 80)
    if req.base_image is not None:
        return f"Here is the edited image: {subject}." if subject else "Here is the edited image."
    return f"Here is your image: {subject}." if subject else "Here is your image."


def _tokens(chars: int) -> int:
    return max(1, (chars + 3) // 4)


def usage(req: GenRequest, *, final: bool, answer: str = "", image: bool = True,
          thoughts_chars: int = 0) -> dict[str, Any]:
    prompt_text = _tokens(req.input_text_chars)
    prompt_img = req.input_images * req.input_image_tokens
    prompt = prompt_text + prompt_img
    details = [{"modality": "TEXT", "tokenCount": prompt_text}]
    if prompt_img:
        details.append({"modality": "IMAGE", "tokenCount": prompt_img})
    out: dict[str, Any] = {"promptTokenCount": prompt, "promptTokensDetails": details}
    if not final:
        out["totalTokenCount"] = prompt
        return out
    cand_details = []
    cand = 0
    if image:
        cand += req.image_tokens
        cand_details.append({"modality": "IMAGE", "tokenCount": req.image_tokens})
    if answer:
        t = _tokens(len(answer))
        cand += t
        cand_details.append({"modality": "TEXT", "tokenCount": t})
    thoughts = (160 + _tokens(thoughts_chars)) if req.thinks else 0
    tool = 0
    if cand:
        out["candidatesTokenCount"] = cand
        out["candidatesTokensDetails"] = cand_details
    if req.search:
        tool = 64 + _tokens(len(req.prompt))
        out["toolUsePromptTokenCount"] = tool
        out["toolUsePromptTokensDetails"] = [{"modality": "TEXT", "tokenCount": tool}]
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    out["totalTokenCount"] = prompt + cand + thoughts + tool
    return out


def grounding(req: GenRequest, answer: str) -> dict[str, Any]:
    subject = _excerpt(req.prompt, 50) or "image"
    digest = hashlib.sha256(req.prompt.encode("utf-8", "surrogatepass")).hexdigest()
    sites = ("en.wikipedia.org", "www.nationalgeographic.com", "www.britannica.com")
    chunks = [{"web": {"uri": "https://vertexaisearch.cloud.google.com/grounding-api-redirect/"
                              f"AUZIY{digest[i * 8:(i + 1) * 8]}fake{i}", "title": site}}
              for i, site in enumerate(sites)]
    queries = [subject, f"{subject} reference photos"]
    visible = queries
    queries = [*queries, ""]  # real answers carry an empty query too; it is neither run nor billed
    chips = "".join(f'<a class="chip" href="https://www.google.com/search?q={q.replace(" ", "+")}">{q}</a>'
                    for q in visible)
    meta: dict[str, Any] = {
        "webSearchQueries": queries,
        "searchEntryPoint": {"renderedContent": "<style>.container{display:flex}.chip{border-radius:16px;"
                                                "padding:4px 12px;border:1px solid #ccc}</style>"
                                                f'<div class="container"><div class="carousel">{chips}</div></div>'},
        "groundingChunks": chunks,
    }
    if answer:
        meta["groundingSupports"] = [{"segment": {"startIndex": 0, "endIndex": len(answer.encode()),
                                                  "text": answer},
                                      "groundingChunkIndices": [0, 1, 2]}]
    else:
        meta["groundingSupports"] = []
    return meta


@dataclass(slots=True)
class Step:
    """One streamed event (a GenerateContentResponse chunk) plus what it contains."""

    kind: str
    """thought | draft | final | answer | close | special"""
    event: dict[str, Any]


def build_steps(req: GenRequest, *, response_id: str, signer: Signer, mime: str, final: bytes,
                drafts: tuple[bytes, ...], fault: Fault | None) -> list[Step]:
    """The streamed sequence for ``req`` (a non-stream answer merges it with :func:`merge_steps`)."""
    name = fault.name if fault else ""
    head = {"modelVersion": req.model, "responseId": response_id}

    def event(parts: list[dict[str, Any]] | None, extra: dict[str, Any] | None = None,
              use: dict[str, Any] | None = None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if extra:
            cand.update(extra)
        ev: dict[str, Any] = {"candidates": [cand], "usageMetadata": use or usage(req, final=False)}
        ev.update(head)
        return ev

    steps: list[Step] = []
    thoughts = thought_texts(req) if (req.include_thoughts and req.thinks) else []
    thought_chars = sum(len(t) for t in thought_texts(req)) if req.thinks else 0

    if name == "blocked_prompt":
        ev = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": usage(req, final=False)}
        ev.update(head)
        return [Step("special", ev)]
    if name == "candidates_null":
        ev = {"candidates": None, "usageMetadata": usage(req, final=False)}
        ev.update(head)
        return [Step("special", ev)]

    for t in thoughts:
        steps.append(Step("thought", event([{"text": t, "thought": True}])))

    if name in ("image_safety", "image_prohibited", "no_image", "parts_null"):
        reason = {"image_safety": "IMAGE_SAFETY", "image_prohibited": "IMAGE_PROHIBITED_CONTENT",
                  "no_image": "NO_IMAGE", "parts_null": "STOP"}[name]
        cand: dict[str, Any] = {"finishReason": reason, "index": 0}
        if name == "no_image":
            cand["content"] = {}
        elif name == "parts_null":
            cand["content"] = {"role": "model", "parts": None}
        else:
            cand["content"] = {"role": "model"}
            what = "safety" if name == "image_safety" else "prohibited content"
            cand["finishMessage"] = (f"Unable to show the generated image. The image was filtered out because it "
                                     f"violated Google's Generative AI Prohibited Use policy ({what}). You will not "
                                     "be charged for blocked images. Try rephrasing the prompt. If you think this "
                                     "was an error, send feedback. Support codes: 62787640")
        use = usage(req, final=True, image=False, thoughts_chars=thought_chars)
        ev = {"candidates": [cand], "usageMetadata": use}
        ev.update(head)
        steps.append(Step("close", ev))
        return steps

    if name == "text_only" or (req.text_only and not name):
        subject = _excerpt(req.prompt, 80) or "an image"
        if name == "text_only":
            text = f"I can describe it instead: {subject} — but I won't draw this one."
        else:  # responseModalities without IMAGE
            text = f"A short description, as requested in text only: {subject}."
        # Like the real stream of a text answer, the signature arrives on the closing empty text part.
        sig = b64encode(signer.sign(response_id, len(thoughts)))
        steps.append(Step("answer", event([{"text": text}])))
        use = usage(req, final=True, answer=text, image=False, thoughts_chars=thought_chars)
        steps.append(Step("close", event([{"text": "", "thoughtSignature": sig}], {"finishReason": "STOP"}, use)))
        return steps

    if thoughts:
        for d in drafts[:2]:
            draft = {"inlineData": {"mimeType": mime, "data": b64encode(d)}, "thought": True}
            steps.append(Step("draft", event([draft])))

    index = sum(1 for s in steps if s.kind in ("thought", "draft"))
    # The answer text leads and, as the first part after the thoughts, carries a signature; the
    # final image carries its own (docs: thought-signatures, image generation and editing).
    answer = "" if req.image_only else answer_text(req)
    if answer:
        steps.append(Step("answer", event([{"text": answer,
                                            "thoughtSignature": b64encode(signer.sign(response_id, index))}])))
        index += 1
    sig_text = "" if name == "empty_signature" else b64encode(signer.sign(response_id, index))
    data_text = b64encode(final)
    if name == "bad_base64":
        data_text = "!!not*base64!!" + data_text[:64].replace("+", "*")
    final_part: dict[str, Any]
    if name == "text_base64":
        final_part = {"text": data_text, "thoughtSignature": sig_text}
    else:
        final_part = {"inlineData": {"mimeType": mime, "data": data_text}, "thoughtSignature": sig_text}
    steps.append(Step("final", event([final_part])))

    use = usage(req, final=True, answer=answer, thoughts_chars=thought_chars)
    extra: dict[str, Any] = {"finishReason": "STOP"}
    if req.search:
        extra["groundingMetadata"] = grounding(req, answer)
    steps.append(Step("close", event([{"text": ""}], extra, use)))
    return steps


def merge_steps(steps: list[Step]) -> dict[str, Any]:
    """One non-stream GenerateContentResponse from the streamed steps."""
    last = steps[-1].event
    if steps[-1].kind == "special":
        return last
    parts: list[dict[str, Any]] = []
    for s in steps:
        cand = (s.event.get("candidates") or [{}])[0]
        for p in (cand.get("content") or {}).get("parts") or []:
            if p.get("text") == "" and set(p) <= {"text", "thoughtSignature"}:
                if "thoughtSignature" in p and parts and "thoughtSignature" not in parts[-1]:
                    parts[-1] = {**parts[-1], "thoughtSignature": p["thoughtSignature"]}
                continue
            parts.append(p)
    out = dict(last)
    cand = dict((last.get("candidates") or [{}])[0])
    content = cand.get("content")
    if isinstance(content, dict) and content.get("parts") is not None:
        cand["content"] = {"role": "model", "parts": parts}
    elif content == {"role": "model"} or content == {}:
        pass  # safety / NO_IMAGE shapes carry no parts, even when thoughts were streamed
    out["candidates"] = [cand]
    return out
