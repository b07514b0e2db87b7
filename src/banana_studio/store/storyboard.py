"""A storyboard for an exported branch: a contact-sheet PNG plus Markdown and HTML pages.

Works from the ``branch.json`` written by :meth:`ProjectStore.export_branch` and the image files
next to it, so it needs no database access.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

from banana_studio.store.files import atomic_write

TILE = 320
CAPTION_H = 54
PAD = 12


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width and line:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    if line:
        lines.append(line)
    return lines


def _finals(doc: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(t, im) for t in doc.get("turns", []) for im in t.get("images", []) if im.get("kind") == "final"]


def write_storyboard(branch_json: Path, *, columns: int = 4) -> list[Path]:
    """Write ``storyboard.png``, ``storyboard.md`` and ``storyboard.html`` next to ``branch_json``."""
    from PIL import Image, ImageDraw, ImageFont

    out_dir = branch_json.parent
    doc = json.loads(branch_json.read_text(encoding="utf-8"))
    finals = _finals(doc)
    cols = max(1, min(columns, len(finals) or 1))
    rows = max(1, -(-len(finals) // cols))
    sheet = Image.new("RGB", (PAD + cols * (TILE + PAD), PAD + rows * (TILE + CAPTION_H + PAD)), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for n, (turn, im) in enumerate(finals):
        x = PAD + (n % cols) * (TILE + PAD)
        y = PAD + (n // cols) * (TILE + CAPTION_H + PAD)
        try:
            with Image.open(out_dir / im["file"]) as src:
                src.draft("RGB", (TILE, TILE))
                tile = src.convert("RGB")
                tile.thumbnail((TILE, TILE))
            sheet.paste(tile, (x + (TILE - tile.width) // 2, y + (TILE - tile.height) // 2))
        except OSError:
            draw.rectangle((x, y, x + TILE, y + TILE), outline=(120, 60, 60))
        st = turn.get("settings", {})
        caption = [f"#{turn['id']}  {st.get('aspect_ratio', '')} {st.get('image_size', '')}"]
        caption += _wrap(turn.get("prompt", ""), 48)[:2]
        for i, line in enumerate(caption):
            draw.text((x, y + TILE + 4 + i * 15), line, fill=(230, 230, 230), font=font)
    png = out_dir / "storyboard.png"
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write(png, buf.getvalue())

    title = f"{doc.get('project', '')} — branch to turn {doc.get('turn_id')}"
    md = [f"# {title}", "", "![contact sheet](storyboard.png)", ""]
    page = [f"<!doctype html><meta charset='utf-8'><title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:60em;margin:auto;background:#181818;color:#eee}"
            "img{max-width:100%}figure{margin:2em 0}</style>", f"<h1>{html.escape(title)}</h1>"]
    for turn in doc.get("turns", []):
        s = turn.get("settings", {})
        meta = (f"{s.get('model', '')} · {s.get('aspect_ratio', '')} · {s.get('image_size', '')} · "
                f"${turn.get('cost', 0):.3f}")
        md += [f"## Turn {turn['id']} ({turn.get('status', '')})", "", turn.get("prompt", ""), "", f"*{meta}*", ""]
        page.append(f"<h2>Turn {turn['id']} ({html.escape(turn.get('status', ''))})</h2>")
        page.append(f"<p>{html.escape(turn.get('prompt', ''))}</p><p><em>{html.escape(meta)}</em></p>")
        for im in turn.get("images", []):
            if im.get("kind") != "final":
                continue
            md += [f"![turn {turn['id']}]({im['file']})", ""]
            page.append(f"<figure><img src='{html.escape(im['file'])}' alt='turn {turn['id']}'></figure>")
    md_path, html_path = out_dir / "storyboard.md", out_dir / "storyboard.html"
    atomic_write(md_path, "\n".join(md).encode("utf-8"))
    atomic_write(html_path, "\n".join(page).encode("utf-8"))
    return [png, md_path, html_path]
