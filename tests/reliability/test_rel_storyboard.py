"""storyboard.md / .html with hostile labels, names and grounding: rendered by a real CommonMark renderer
(markdown-it, raw HTML enabled, as GitHub-like viewers do) nothing the model or a label says becomes a tag."""

from __future__ import annotations

import re
from typing import Any

import pytest
from markdown_it import MarkdownIt

from banana_studio.store.storyboard import html_page, markdown_page, safe_uri

EVIL_IMG = "<img src=x onerror=alert(1)>"


def _doc() -> dict[str, Any]:
    return {
        "project": f"p{EVIL_IMG}", "turn_id": 1, "app_version": "0.1", "exported_at": "now", "costs": {},
        "turns": [{
            "id": 1, "status": "done", "label": f"hero ](javascript:alert(1)) {EVIL_IMG}\n# not a heading",
            "prompt": f"a cat {EVIL_IMG}", "settings": {"model": "m"}, "cost": 0.1,
            "references": [{"name": f"ref`{EVIL_IMG}`.png", "sha256": "ab" * 32}],
            "images": [{"kind": "final", "index": 0, "file": "0001-cat.jpg"}],
            "grounding": {"sources": [
                {"title": "ok", "uri": "https://example.com/a b" + EVIL_IMG},
                {"title": f"title {EVIL_IMG} ]", "uri": "https://example.com/page_(1)"},
                {"title": "js", "uri": "javascript:alert(1)"},
                {"title": "quote", "uri": "https://example.com/\"onmouseover=alert(1)"},
            ]},
            "error": f"bad {EVIL_IMG}", "usage": {},
        }],
    }


def _tags(rendered: str) -> list[str]:
    return re.findall(r"<\s*([a-zA-Z][a-zA-Z0-9]*)[^>]*>", rendered)


def test_markdown_page_renders_no_injected_tag_or_link() -> None:
    md = markdown_page(_doc())
    rendered = MarkdownIt("commonmark", {"html": True}).render(md)
    assert "onerror" not in re.sub(r"&lt;img src=x onerror=alert\(1\)&gt;|&lt;img src=x onerror=alert\(1\)>", "",
                                   rendered), rendered
    assert "javascript:" not in " ".join(re.findall(r'href="([^"]*)"', rendered))
    assert set(_tags(rendered)) <= {"h1", "h2", "p", "blockquote", "em", "img", "a", "ul", "li", "strong", "sub",
                                    "code", "details", "summary"}
    imgs = re.findall(r"<img[^>]*>", rendered)
    assert all("onerror" not in i for i in imgs) and len(imgs) == 2  # the contact sheet and the final image
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert hrefs == ["https://example.com/page_%281%29"]
    assert "# not a heading" not in md.splitlines()  # a label cannot start a new line / heading


def test_html_page_shows_only_safe_links() -> None:
    page = html_page(_doc())
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page.replace("&lt;", "<").split("<body>")[0]
    assert re.findall(r"href='([^']*)'", page) == ["https://example.com/page_(1)"]


@pytest.mark.parametrize("uri", ["https://a.example/x y", "https://a.example/<b>", "javascript:alert(1)",
                                 "https://a.example/\x1b]52", "http:///nohost", "https://a.example/\"x", "data:x"])
def test_safe_uri_refuses(uri: str) -> None:
    assert safe_uri(uri) is None


def test_safe_uri_keeps_ordinary_links() -> None:
    for uri in ("https://en.wikipedia.org/wiki/Fox_(disambiguation)", "http://example.com/?q=a&b=c#frag"):
        assert safe_uri(uri) == uri
