"""A storyboard for an exported branch: a contact-sheet PNG plus Markdown and HTML pages to share.

Works from the ``branch.json`` written by :meth:`ProjectStore.export_branch` and the image files
next to it, so it needs no database access.  The pages tell the branch's story turn by turn: the
prompt, settings, references, the model's thought summaries, draft and final images, the answer
text, grounding sources, usage and cost, and what went wrong for failed turns.

The HTML page is self-contained apart from the image files (relative links), escapes every text,
and only links to ``http(s)`` sources.  Images are never inlined, so the pages stay small.
"""

from __future__ import annotations

import html
import io
import json
import re
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

from banana_studio.domain.limits import RECEIVED_IMAGE_MAX_PIXELS
from banana_studio.domain.words import plural
from banana_studio.store.files import atomic_write

TILE = 320
CAPTION_H = 62
PAD = 12
HEADER_H = 44
BG = (24, 24, 28)
FG = (232, 232, 232)
DIM = (150, 150, 160)
FAIL = (200, 90, 90)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        while len(w) > width:  # very long words (URLs, base64) are hard-wrapped
            if line:
                lines.append(line)
                line = ""
            lines.append(w[:width])
            w = w[width:]
        if len(line) + len(w) + 1 > width and line:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(line)
    return lines


def _images(turn: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [im for im in turn.get("images", []) if im.get("kind") == kind]


def _finals(doc: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(t, im) for t in doc.get("turns", []) for im in _images(t, "final")]


def _tiles(doc: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """One tile per final image, and one placeholder tile per turn that produced none."""
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for t in doc.get("turns", []):
        finals = _images(t, "final")
        if finals:
            out.extend((t, im) for im in finals)
        else:
            out.append((t, None))
    return out


def _parts(turn: dict[str, Any]) -> list[dict[str, Any]]:
    mc = turn.get("model_content") or {}
    return [p for p in (mc.get("parts") or []) if isinstance(p, dict)]


def thoughts_of(turn: dict[str, Any]) -> str:
    return "".join(p.get("text") or "" for p in _parts(turn) if p.get("thought") and p.get("text")).strip()


def answer_of(turn: dict[str, Any]) -> str:
    return "".join(p.get("text") or "" for p in _parts(turn) if not p.get("thought") and p.get("text")).strip()


_URI_BAD = re.compile(r"[\s<>\"'`\\\x00-\x1f\x7f-\x9f]")


def safe_uri(uri: str) -> str | None:
    """``uri`` if it is a plain absolute http(s) URI that cannot break out of a link in HTML or
    Markdown (no whitespace, quotes, angle brackets, backslashes or control characters), else None."""
    if not uri or len(uri) > 4096 or _URI_BAD.search(uri):
        return None
    try:
        parsed = urlparse(uri)
    except ValueError:
        return None
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc:
        return None
    return uri


def sources_of(turn: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, uri) of grounding sources with a safe http(s) URI (see :func:`safe_uri`)."""
    out = []
    for s in (turn.get("grounding") or {}).get("sources") or []:
        uri = safe_uri(str(s.get("uri") or ""))
        if uri is not None:
            out.append((str(s.get("title") or uri), uri))
    return out


def _settings_line(turn: dict[str, Any]) -> str:
    s = turn.get("settings", {})
    bits = [s.get("model", ""), s.get("aspect_ratio", ""), s.get("image_size", "")]
    if s.get("google_search"):
        bits.append("Google Search")
    if s.get("seed") is not None:
        bits.append(f"seed {s['seed']}")
    if s.get("temperature") is not None:
        bits.append(f"temperature {s['temperature']}")
    bits.append(f"${float(turn.get('cost') or 0):.3f}")
    return " · ".join(b for b in bits if b)


def _usage_line(turn: dict[str, Any]) -> str:
    u = turn.get("usage") or {}
    if not u:
        return ""
    return (f"tokens: prompt {u.get('prompt_tokens', 0)}, output {u.get('candidates_tokens', 0)} "
            f"(image {u.get('image_tokens', 0)}), thoughts {u.get('thoughts_tokens', 0)}")


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # pragma: no cover - very old Pillow
        return ImageFont.load_default()


def _tile_image(path: Path) -> Any:
    """The tile for one image, or why it cannot be drawn (damaged, missing, or too many pixels: an
    image over the limit — a decompression bomb — is never decoded)."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as src:
                if src.width * src.height > RECEIVED_IMAGE_MAX_PIXELS:
                    return f"image too large to draw ({src.width}×{src.height})"
                src.draft("RGB", (TILE, TILE))
                tile = src.convert("RGB")
                tile.thumbnail((TILE, TILE))
                return tile
    except Image.DecompressionBombError:
        return "image too large to draw"
    except (OSError, ValueError, KeyError):
        return "image missing or damaged"


def contact_sheet(doc: dict[str, Any], out_dir: Path, *, columns: int = 4) -> bytes:
    """The contact sheet PNG bytes: a header, then one captioned tile per image (or failed turn)."""
    from PIL import Image, ImageDraw

    tiles = _tiles(doc)
    cols = max(1, min(columns, len(tiles) or 1))
    rows = max(1, -(-len(tiles) // cols))
    width = max(PAD + cols * (TILE + PAD), 480)
    sheet = Image.new("RGB", (width, HEADER_H + PAD + rows * (TILE + CAPTION_H + PAD)), BG)
    draw = ImageDraw.Draw(sheet)
    title_font, font, small = _font(18), _font(13), _font(11)
    costs = doc.get("costs") or {}
    title = f"{doc.get('project', '')} · branch to turn #{doc.get('turn_id')}"
    draw.text((PAD, 10), title, fill=FG, font=title_font)
    n_turns = plural(len(doc.get('turns', [])), 'turn')
    sub = f"{n_turns} · ${float(costs.get('branch') or 0):.3f} · {doc.get('exported_at', '')}"
    draw.text((PAD, 30), sub, fill=DIM, font=small)
    for n, (turn, im) in enumerate(tiles):
        x = PAD + (n % cols) * (TILE + PAD)
        y = HEADER_H + PAD + (n // cols) * (TILE + CAPTION_H + PAD)
        drawn = False
        if im is not None:
            tile = _tile_image(out_dir / im["file"])
            if isinstance(tile, str):
                turn = {**turn, "error": tile}
            else:
                sheet.paste(tile, (x + (TILE - tile.width) // 2, y + (TILE - tile.height) // 2))
                drawn = True
        if not drawn:
            draw.rectangle((x, y, x + TILE - 1, y + TILE - 1), outline=FAIL if im is None else DIM, width=2)
            status = str(turn.get("status", ""))
            msg = str(turn.get("error") or ("image missing" if im is not None else f"no image ({status})"))
            for i, line in enumerate([status.upper(), *_wrap(msg, 40)[:6]]):
                draw.text((x + 12, y + 12 + i * 16), line, fill=FAIL if i == 0 else DIM, font=font)
        st = turn.get("settings", {})
        cost = float(turn.get("cost") or 0)
        head = f"#{turn['id']}  {st.get('aspect_ratio', '')} {st.get('image_size', '')}  ${cost:.3f}"
        draw.text((x, y + TILE + 4), head, fill=FG, font=font)
        for i, line in enumerate(_wrap(str(turn.get("prompt", "")), 46)[:3]):
            draw.text((x, y + TILE + 21 + i * 13), line, fill=DIM, font=small)
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _md_text(text: str) -> str:
    """Prompt/model text for Markdown: no raw HTML gets through to the renderer."""
    return text.replace("&", "&amp;").replace("<", "&lt;")


_MD_PUNCT = re.compile(r"([\\`*\[\]()])")


def _md_inline(text: str) -> str:
    """One-line text (headings, link titles, names) for Markdown: HTML escaped, Markdown punctuation
    backslash-escaped, line breaks flattened, so it can neither open a tag nor end the construct."""
    flat = " ".join(str(text).split())
    return _MD_PUNCT.sub(r"\\\1", _md_text(flat))


def _md_path(rel: str) -> str:
    """A relative file link for Markdown (percent-encoded, so no character of it can end the link)."""
    return quote(str(rel), safe="/")


def _md_quote(text: str) -> list[str]:
    return ["> " + _md_text(line) if line else ">" for line in text.splitlines()] or [">"]


def markdown_page(doc: dict[str, Any]) -> str:
    title = f"{doc.get('project', '')} — branch to turn {doc.get('turn_id')}"
    costs = doc.get("costs") or {}
    md = [f"# {_md_inline(title)}", "",
          f"{plural(len(doc.get('turns', [])), 'turn')} · branch cost ${float(costs.get('branch') or 0):.3f} · "
          f"exported {_md_inline(str(doc.get('exported_at', '')))} · Banana Studio "
          f"{_md_inline(str(doc.get('app_version', '')))}", "",
          "![contact sheet](storyboard.png)", ""]
    for turn in doc.get("turns", []):
        label = f" · {_md_inline(turn['label'])}" if turn.get("label") else ""
        md += [f"## Turn {int(turn['id'])} — {_md_inline(str(turn.get('status', '')))}{label}", "",
               *_md_quote(str(turn.get("prompt", ""))), "", f"*{_md_inline(_settings_line(turn))}*", ""]
        refs = turn.get("references") or []
        if refs:
            md += ["References: " + ", ".join(_md_inline(str(r.get("name") or r.get("sha256", "")[:12]))
                                              for r in refs), ""]
        thoughts = thoughts_of(turn)
        if thoughts:
            md += ["<details><summary>Thoughts</summary>", "", *_md_quote(thoughts), "", "</details>", ""]
        drafts = _images(turn, "draft")
        if drafts:
            md += ["Drafts: " + " ".join(f"![draft {int(d.get('index', 0)) + 1}]({_md_path(d['file'])})"
                                         for d in drafts), ""]
        for im in _images(turn, "final"):
            md += [f"![turn {int(turn['id'])}]({_md_path(im['file'])})", ""]
        answer = answer_of(turn)
        if answer:
            md += [_md_text(answer), ""]
        sources = sources_of(turn)
        if sources:
            md += ["Sources:", *[f"- [{_md_inline(t)}]({u.replace('(', '%28').replace(')', '%29')})"
                                 for t, u in sources], ""]
        if turn.get("error"):
            md += [f"**Error:** {_md_inline(str(turn['error']))}", ""]
        usage = _usage_line(turn)
        if usage:
            md += [f"<sub>{_md_text(usage)}</sub>", ""]
    return "\n".join(md)


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:62em;margin:auto;padding:1em;background:#18181b;color:#eee}"
    "img{max-width:100%;border-radius:4px}figure{margin:1em 0}.drafts img{max-width:30%;margin-right:1%;opacity:.85}"
    "blockquote{border-left:3px solid #f5c518;margin:0;padding:.2em 1em;white-space:pre-wrap}"
    ".meta,.usage{color:#aaa;font-size:.9em}.error{color:#f88}.thoughts{white-space:pre-wrap;color:#ccc}"
    "section{border-top:1px solid #333;margin-top:2em}a{color:#9cf}"
)


def html_page(doc: dict[str, Any]) -> str:
    e = html.escape
    title = f"{doc.get('project', '')} — branch to turn {doc.get('turn_id')}"
    costs = doc.get("costs") or {}
    page = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width,initial-scale=1'>",
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{e(title)}</h1>",
            f"<p class='meta'>{plural(len(doc.get('turns', [])), 'turn')} · branch cost "
            f"${float(costs.get('branch') or 0):.3f} · exported {e(str(doc.get('exported_at', '')))}</p>",
            "<figure><img src='storyboard.png' alt='contact sheet'></figure>"]
    for turn in doc.get("turns", []):
        label = f" · {e(turn['label'])}" if turn.get("label") else ""
        page.append(f"<section id='turn-{int(turn['id'])}'><h2>Turn {int(turn['id'])} — "
                    f"{e(str(turn.get('status', '')))}{label}</h2>")
        page.append(f"<blockquote>{e(str(turn.get('prompt', '')))}</blockquote>")
        page.append(f"<p class='meta'>{e(_settings_line(turn))}</p>")
        refs = turn.get("references") or []
        if refs:
            names = ", ".join(e(str(r.get("name") or r.get("sha256", "")[:12])) for r in refs)
            page.append(f"<p class='meta'>References: {names}</p>")
        thoughts = thoughts_of(turn)
        if thoughts:
            page.append(f"<details><summary>Thoughts</summary><div class='thoughts'>{e(thoughts)}</div></details>")
        drafts = _images(turn, "draft")
        if drafts:
            page.append("<div class='drafts'>" + "".join(
                f"<img src='{e(d['file'])}' alt='draft {int(d.get('index', 0)) + 1}' loading='lazy'>" for d in drafts)
                + "</div>")
        for im in _images(turn, "final"):
            page.append(f"<figure><img src='{e(im['file'])}' alt='turn {int(turn['id'])}' loading='lazy'></figure>")
        answer = answer_of(turn)
        if answer:
            page.append(f"<p>{e(answer)}</p>")
        sources = sources_of(turn)
        if sources:
            page.append("<p>Sources:</p><ul>" + "".join(
                f"<li><a href='{e(u)}' rel='noopener noreferrer'>{e(t)}</a></li>" for t, u in sources) + "</ul>")
        if turn.get("error"):
            page.append(f"<p class='error'>Error: {e(str(turn['error']))}</p>")
        usage = _usage_line(turn)
        if usage:
            page.append(f"<p class='usage'>{e(usage)}</p>")
        page.append("</section>")
    page.append("</body></html>")
    return "\n".join(page)


def write_storyboard(branch_json: Path, *, columns: int = 4) -> list[Path]:
    """Write ``storyboard.png``, ``storyboard.md`` and ``storyboard.html`` next to ``branch_json``."""
    out_dir = branch_json.parent
    doc = json.loads(branch_json.read_text(encoding="utf-8"))
    png = out_dir / "storyboard.png"
    atomic_write(png, contact_sheet(doc, out_dir, columns=columns))
    md_path, html_path = out_dir / "storyboard.md", out_dir / "storyboard.html"
    atomic_write(md_path, markdown_page(doc).encode("utf-8"))
    atomic_write(html_path, html_page(doc).encode("utf-8"))
    return [png, md_path, html_path]
