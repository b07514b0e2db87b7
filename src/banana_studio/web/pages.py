"""The gallery's HTML pages: the project list, a project's branch tree, a turn (its pictures, download
links and recipe) and a branch's storyboard.

Every string that came from outside — prompts, labels, model text, grounding titles, settings values,
project (folder) names, error texts — goes through :func:`esc` (HTML-escaped, and C0/C1/bidi controls
made visible by the one sanitising boundary, :mod:`domain.safetext`).  URLs are built from
percent-encoded parts (:func:`seg`) and only plain http(s) links leave the gallery (``safe_uri``).
No script, no external asset: the one stylesheet is served by the gallery itself.
"""

from __future__ import annotations

import hashlib
import html
import re
from base64 import b64encode
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from banana_studio.domain.safetext import display_text, dumps_json
from banana_studio.domain.words import plural
from banana_studio.store import ProjectInfo
from banana_studio.store.readonly import ImageRow, TreeRow, TurnView
from banana_studio.store.storyboard import html_page, safe_uri

CSS = (
    "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:72em;padding:1em;background:#18181b;color:#eee}"
    "a{color:#9cf}nav{color:#aaa;margin-bottom:1em}h1{font-size:1.5em}table{border-collapse:collapse}"
    "td,th{border-bottom:1px solid #333;padding:.3em .6em;text-align:left;vertical-align:top}"
    "ul.tree{list-style:none;padding-left:1.2em;border-left:1px solid #333}ul.tree.top{border:0;padding:0}"
    ".st-failed,.st-cancelled,.st-interrupted,.error{color:#f88}.st-running,.st-pending{color:#fc6}"
    ".dim,.meta{color:#aaa;font-size:.9em}.star{color:#f5c518}"
    "blockquote{border-left:3px solid #f5c518;margin:0;padding:.2em 1em;white-space:pre-wrap}"
    "figure{margin:1em 0}figure img{max-width:100%;max-height:85vh;width:auto;height:auto;border-radius:4px}"
    ".drafts img{max-width:30%;margin-right:1%;opacity:.85}pre{white-space:pre-wrap;background:#222;padding:.6em}"
    ".grid{display:flex;flex-wrap:wrap;gap:6px}.grid img{height:160px;width:auto;border-radius:3px}"
    ".thoughts{white-space:pre-wrap;color:#ccc}.badge{background:#345;border-radius:3px;padding:0 .3em}"
)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def esc(value: Any, *, one_line: bool = False) -> str:
    return html.escape(display_text(value, one_line=one_line), quote=True)


def seg(value: Any) -> str:
    """One URL path segment (every reserved character percent-encoded)."""
    # a folder name that is not valid UTF-8 holds surrogate escapes: its original bytes go in the URL
    return quote(str(value).encode("utf-8", "surrogateescape"), safe="")


def rel_url(rel: str) -> str:
    return quote(rel, safe="/")


def _page(title: str, base: str, body: Sequence[str], crumbs: Sequence[tuple[str, str]] = ()) -> str:
    nav = " › ".join([f"<a href='{base}/'>Projects</a>", *(f"<a href='{href}'>{label}</a>" for href, label in crumbs)])
    return "\n".join([
        "<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        "<meta name='referrer' content='no-referrer'>",
        f"<title>{esc(title, one_line=True)} · Banana Studio</title>",
        f"<link rel='stylesheet' href='{base}/style.css'></head><body>",
        f"<nav>{nav}</nav>", *body, "<p class='dim'>Banana Studio gallery · read-only</p></body></html>",
    ])


def _when(ts: float) -> str:
    try:
        return datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return ""


def projects_page(base: str, projects: Sequence[ProjectInfo]) -> str:
    rows = []
    for p in projects:
        href = f"{base}/p/{seg(p.name)}/"
        if p.error:
            rows.append(f"<tr><td>{esc(p.name, one_line=True)}</td><td colspan='3' class='error'>"
                        f"{esc(p.error, one_line=True)}</td></tr>")
            continue
        rows.append(f"<tr><td><a href='{href}'>{esc(p.name, one_line=True)}</a></td><td>{p.n_turns} turns</td>"
                    f"<td>${p.cost:.3f}</td><td class='dim'>{_when(p.updated_at)}</td></tr>")
    table = ("<table><tr><th>Project</th><th>Turns</th><th>Spent</th><th>Updated</th></tr>"
             + "".join(rows) + "</table>") if rows else "<p>No projects yet.</p>"
    return _page("Projects", base, ["<h1>Projects</h1>", table])


def _node_line(base: str, project: str, row: TreeRow) -> str:
    tid, prompt, status, starred, label, n_final, kind, cost, target = (
        row.id, row.prompt, row.status, row.starred, row.label, row.n_final, row.kind, row.cost, row.target)
    bits = [f"<a href='{base}/p/{seg(project)}/t/{int(tid)}'>#{int(tid)}</a>"]
    if starred:
        bits.append("<span class='star'>★</span>")
    if label:
        bits.append(f"<span class='badge'>{esc(label, one_line=True)}</span>")
    bits.append(f"<span class='st-{esc(status)}'>{esc(status)}</span>")
    if kind and kind != "generate":
        bits.append(f"<span class='dim'>{esc(kind)}</span>")
    if target == "local":
        bits.append("<span class='badge'>DEMO</span>")
    bits.append(esc(prompt, one_line=True))
    bits.append(f"<span class='dim'>{plural(int(n_final), 'image')} · ${float(cost):.3f}</span>")
    return " ".join(bits)


def _grid(base: str, project: str, recent: Sequence[tuple[int, str, str]]) -> list[str]:
    if not recent:
        return []
    p = f"{base}/p/{seg(project)}"
    cells = [f"<a href='{p}/t/{tid}' title='{esc(prompt, one_line=True)}'><img src='{p}/thumb/{rel_url(rel)}' "
             f"alt='turn {tid}' loading='lazy'></a>" for tid, rel, prompt in recent]
    return ["<h2>Latest pictures</h2>", "<div class='grid'>" + "".join(cells) + "</div>", "<h2>Branch tree</h2>"]


def project_page(base: str, project: str, rows: Sequence[TreeRow], total: int,
                 recent: Sequence[tuple[int, str, str]] = ()) -> str:
    """The newest pictures, then the branch tree as nested lists (rows in depth-first order, each
    after its parent)."""
    out: list[str] = []
    depth_of: dict[int, int] = {}
    open_depth = -1
    for row in rows:
        tid, parent = row.id, row.parent_id
        depth = depth_of[parent] + 1 if parent in depth_of else 0
        depth_of[tid] = depth
        if depth > open_depth:
            out.append("<ul class='tree top'>" if open_depth < 0 else "<ul class='tree'>")
            open_depth += 1
        else:
            out.append("</li>")
            while open_depth > depth:
                out.append("</ul></li>")
                open_depth -= 1
        out.append("<li>" + _node_line(base, project, row))
    if open_depth >= 0:
        out.append("</li>")
        while open_depth > 0:
            out.append("</ul></li>")
            open_depth -= 1
        out.append("</ul>")
    more = f"<p class='dim'>{total - len(rows)} more turns are not listed.</p>" if total > len(rows) else ""
    body = [f"<h1>{esc(project, one_line=True)}</h1>", f"<p class='meta'>{plural(total, 'turn')}</p>",
            *_grid(base, project, recent), *(out or ["<p>No turns yet.</p>"]), more]
    return _page(project, base, body, [(f"{base}/p/{seg(project)}/", esc(project, one_line=True))])


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, n // 1000)} KB"


def _figure(base: str, project: str, im: ImageRow, nbytes: int | None, turn_id: int) -> str:
    src = f"{base}/p/{seg(project)}/f/{rel_url(im.path)}"
    name = esc(im.path.rsplit("/", 1)[-1], one_line=True)
    dims = f"{im.width}×{im.height}" if im.width and im.height else ""
    size = _size(nbytes) if nbytes is not None else "missing"
    return (f"<figure><a href='{src}'><img src='{src}' alt='turn {turn_id} image {im.index + 1}'></a>"
            f"<figcaption><a href='{src}?download=1' download>Download {name}</a> "
            f"<span class='dim'>{esc(dims)} · {esc(im.mime, one_line=True)} · {size}</span></figcaption></figure>")


def _settings_rows(settings: dict[str, Any]) -> str:
    rows = []
    for key, value in settings.items():
        if value in (None, "", [], {}):
            continue
        shown = value if isinstance(value, str) else dumps_json(value)
        rows.append(f"<tr><th>{esc(key, one_line=True)}</th><td>{esc(shown)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>" if rows else ""


def turn_page(base: str, project: str, turn: TurnView, branch_ids: Sequence[int],
              sizes: dict[str, int | None]) -> str:
    p = f"{base}/p/{seg(project)}"
    body = [f"<h1>Turn #{turn.id} <span class='st-{esc(turn.status)}'>{esc(turn.status)}</span>"
            + (" <span class='star'>★</span>" if turn.starred else "")
            + (f" <span class='badge'>{esc(turn.label, one_line=True)}</span>" if turn.label else "") + "</h1>"]
    path = " → ".join(f"<a href='{p}/t/{i}'>#{i}</a>" for i in branch_ids)
    body.append(f"<p class='meta'>Branch: {path} · <a href='{p}/t/{turn.id}/storyboard'>storyboard of this "
                f"branch</a> · <a href='{p}/t/{turn.id}/branch.zip' download>all its pictures (ZIP)</a> · "
                f"{esc(_when(turn.created_at))} · ${turn.cost:.3f}"
                + (" (simulated, demo)" if turn.target == "local" else "")
                + (f" · made by an agent over {esc(turn.source.upper(), one_line=True)}"
                   + (f" ({esc(turn.source_client[:80], one_line=True)})" if turn.source_client else "")
                   if turn.source else "") + "</p>")
    body.append(f"<blockquote>{esc(turn.prompt)}</blockquote>")
    for im in turn.finals():
        body.append(_figure(base, project, im, sizes.get(im.path), turn.id))
    for im in turn.alternates():
        what = ("The model's untouched output (the studio shows the protected picture)" if im.kind == "model"
                else "The protected picture: outside the region every pixel is the source's")
        body.append(f"<p class='meta'>{what}:</p>" + _figure(base, project, im, sizes.get(im.path), turn.id))
    if turn.error:
        body.append(f"<p class='error'>Error: {esc(turn.error)}</p>")
    if turn.finish_reason or turn.finish_message:
        body.append(f"<p class='meta'>Finish: {esc(turn.finish_reason)} {esc(turn.finish_message)}</p>")
    answer = turn.answer()
    if answer:
        body.append(f"<h2>Answer</h2><p class='thoughts'>{esc(answer)}</p>")
    thoughts = turn.thoughts()
    if thoughts:
        body.append(f"<details><summary>Thoughts</summary><div class='thoughts'>{esc(thoughts)}</div></details>")
    drafts = turn.drafts()
    if drafts:
        body.append("<h2>Drafts</h2><div class='drafts'>" + "".join(
            f"<a href='{p}/f/{rel_url(d.path)}'><img src='{p}/f/{rel_url(d.path)}' alt='draft {d.index + 1}' "
            "loading='lazy'></a>" for d in drafts) + "</div>")
    sources = [(str(s.get("title") or ""), safe_uri(str(s.get("uri") or "")))
               for s in (turn.grounding.get("sources") or []) if isinstance(s, dict)]
    links = [f"<li><a href='{esc(u)}' rel='noopener noreferrer'>{esc(t or u, one_line=True)}</a></li>"
             for t, u in sources if u]
    if links:
        body.append("<h2>Sources</h2><ul>" + "".join(links) + "</ul>")
    body.append("<h2>Recipe</h2>" + _settings_rows(turn.settings))
    if turn.references:
        refs = []
        for r in turn.references:
            name = esc(r.get("name") or str(r.get("sha256", ""))[:12], one_line=True)
            rp = str(r.get("path") or "")
            refs.append(f"<li><a href='{p}/f/{rel_url(rp)}'>{name}</a></li>" if rp else f"<li>{name}</li>")
        body.append("<p>References:</p><ul>" + "".join(refs) + "</ul>")
    if turn.usage:
        body.append(f"<p class='meta'>Usage: {esc(dumps_json(turn.usage))}</p>")
    body.append(f"<details><summary>Recipe as JSON</summary><pre>{esc(dumps_json(turn.recipe(project), indent=2))}"
                "</pre></details>")
    if turn.children:
        body.append("<p>Continues in: " + ", ".join(f"<a href='{p}/t/{c}'>#{c}</a>" for c in turn.children) + "</p>")
    crumbs = [(f"{p}/", esc(project, one_line=True)), (f"{p}/t/{turn.id}", f"#{turn.id}")]
    return _page(f"{project} #{turn.id}", base, body, crumbs)


def style_hashes(page: str) -> list[str]:
    """CSP sources for the page's own inline stylesheets (the storyboard page carries one): each is
    allowed by its hash, so nothing else inline is."""
    return ["'sha256-" + b64encode(hashlib.sha256(m.group(1).encode("utf-8")).digest()).decode() + "'"
            for m in _STYLE.finditer(page)]


def _visible(value: Any, key: str = "") -> Any:
    """Every text of a branch document through the sanitising boundary (control and bidi characters as
    visible escapes) before the storyboard page HTML-escapes it; image URLs (``file``) stay as built."""
    if isinstance(value, str):
        return value if key == "file" else display_text(value)
    if isinstance(value, dict):
        return {k: _visible(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_visible(v) for v in value]
    return value


def storyboard_page(base: str, project: str, doc: dict[str, Any]) -> str:
    """The storyboard of :mod:`store.storyboard` (same page as an export), with a way back."""
    page = html_page(_visible(doc))
    back = (f"<nav><a href='{base}/'>Projects</a> › <a href='{base}/p/{seg(project)}/'>"
            f"{esc(project, one_line=True)}</a> › <a href='{base}/p/{seg(project)}/t/{int(doc['turn_id'])}'>"
            f"#{int(doc['turn_id'])}</a></nav>")
    return page.replace("<body>", "<body>" + back, 1)


def error_page(code: int, message: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{code}</title></head>"
            f"<body><h1>{code}</h1><p>{html.escape(message)}</p></body></html>")
