"""The web gallery over plain HTTP: the token, read-only methods, escaping, headers, file serving."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from gallery_data import HOSTILE_FOLDER, HOSTILE_LABEL, HOSTILE_PROMPT, Projects, snapshot

from banana_studio.web import Gallery


def request(g: Gallery, method: str, path: str, *, host: str | None = None, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host or f"127.0.0.1:{g.port}")
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def get(g: Gallery, path: str, **kw: object) -> tuple[int, dict[str, str], bytes]:
    return request(g, "GET", path, **kw)  # type: ignore[arg-type]


def t(g: Gallery, rest: str = "") -> str:
    return f"/{g.token}/{rest}"


def test_the_token_is_random_and_long() -> None:
    a, b = Gallery(Path("/nonexistent")), Gallery(Path("/nonexistent"))
    try:
        assert a.token != b.token and len(a.token) >= 32
        assert a.url.startswith("http://127.0.0.1:") and a.url.endswith(f"/{a.token}/")
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("path", ["/", "/index.html", "/p/shots/", "/favicon.ico", "/wrong-token/",
                                  "/wrong-token/p/shots/", "/wrong-token/style.css", "/%ff/", "//", "/../"])
def test_a_missing_or_wrong_token_gets_a_bare_404(gallery: Gallery, path: str) -> None:
    status, _headers, body = get(gallery, path)
    assert status == 404
    assert b"shots" not in body and b"Projects" not in body and gallery.token.encode() not in body
    assert len(body) < 300


def test_a_token_that_differs_only_at_the_end_gets_nothing(gallery: Gallery, projects: Projects) -> None:
    near = gallery.token[:-1] + ("A" if gallery.token[-1] != "A" else "B")
    for rest in ("", "p/shots/", f"p/shots/t/{projects.turns[0]}", f"p/shots/f/{projects.final_rel}"):
        status, _, body = get(gallery, f"/{near}/{rest}")
        assert status == 404 and b"shots" not in body and not body.startswith(b"\xff\xd8")


def test_other_hosts_are_refused(gallery: Gallery) -> None:
    status, _, body = get(gallery, t(gallery), host="evil.example")
    assert status == 403 and b"shots" not in body
    assert get(gallery, t(gallery), host=f"localhost:{gallery.port}")[0] == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "MKCOL",
                                    "BREW"])
def test_no_method_but_get_and_head_is_accepted(gallery: Gallery, projects: Projects, method: str) -> None:
    before = snapshot(projects.root)
    for rest in ("", "p/shots/", f"p/shots/t/{projects.turns[0]}", f"p/shots/f/{projects.final_rel}"):
        status, headers, body = request(gallery, method, t(gallery, rest), body=b"x" * 100)
        assert status == 405, (method, rest)
        assert headers["allow"] == "GET, HEAD"
        assert b"shots" not in body
    assert snapshot(projects.root) == before


def test_browsing_everything_changes_no_file(gallery: Gallery, projects: Projects) -> None:
    before = snapshot(projects.root)
    a, b, c = projects.turns
    for rest in ("", "p/shots/", *(f"p/shots/t/{n}" for n in (a, b, c)), f"p/shots/t/{c}/storyboard",
                 f"p/shots/t/{c}/storyboard.png", f"p/shots/f/{projects.final_rel}"):
        assert get(gallery, t(gallery, rest))[0] == 200, rest
    assert snapshot(projects.root) == before
    assert not (projects.root / "shots" / ".thumbs").exists() or before == snapshot(projects.root)


def test_pages_escape_hostile_text_and_folder_names(gallery: Gallery, projects: Projects) -> None:
    status, _headers, body = get(gallery, t(gallery))
    page = body.decode()
    assert status == 200 and "shots" in page
    assert "<script>" not in page
    assert "evil&quot;&#x27;&gt;&lt;img src=x" in page and "<img src=x" not in page
    assert f"/p/{quote(HOSTILE_FOLDER, safe='')}/" in page
    for name in ("shots", HOSTILE_FOLDER):
        tree = get(gallery, t(gallery, f"p/{quote(name, safe='')}/"))[2].decode()
        assert "<script>" not in tree and "&lt;script&gt;alert(&#x27;label&#x27;)" in tree
        turn = get(gallery, t(gallery, f"p/{quote(name, safe='')}/t/{projects.turns[0]}"))[2].decode()
        assert "<script>" not in turn and "<img src=x" not in turn
        assert "&lt;img src=x onerror=alert(1)&gt;" in turn
        # the model's terminal escapes (hostile_text) are shown as visible escapes, never raw
        assert "\x1b" not in turn and "\x9b" not in turn and "\u202e" not in turn
        assert "\\x1b]52;c;" in turn
    assert HOSTILE_PROMPT not in page and HOSTILE_LABEL not in page


def test_every_answer_carries_the_security_headers(gallery: Gallery, projects: Projects) -> None:
    for rest in ("", f"p/shots/t/{projects.turns[0]}", f"p/shots/f/{projects.final_rel}", "style.css"):
        _, h, _ = get(gallery, t(gallery, rest))
        assert "default-src 'none'" in h["content-security-policy"]
        assert "script-src" not in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in h["content-security-policy"]
    _, h, _ = get(gallery, "/nope")
    assert "default-src 'none'" in h["content-security-policy"]


def test_pages_link_no_external_asset(gallery: Gallery, projects: Projects) -> None:
    a, _, c = projects.turns
    for rest in ("", "p/shots/", f"p/shots/t/{a}", f"p/shots/t/{c}/storyboard"):
        page = get(gallery, t(gallery, rest))[2].decode()
        assert "<script" not in page and "<iframe" not in page and "<object" not in page
        for m in re.finditer(r"(src|href)='([^']*)'", page):
            attr, url = m.groups()
            if attr == "src" or url.endswith(".css"):  # everything the page loads comes from the gallery
                assert url.startswith(f"/{gallery.token}/") or not re.match(r"^[a-z]+:|^//", url), url
            else:  # links: the gallery's own pages, or plain http(s) sources for the reader to follow
                assert url.startswith((f"/{gallery.token}/", "http://", "https://")), url


def test_images_are_served_whole_with_their_real_type(gallery: Gallery, projects: Projects) -> None:
    path = projects.root / "shots" / projects.final_rel
    status, h, body = get(gallery, t(gallery, f"p/shots/f/{projects.final_rel}"))
    assert status == 200 and body == path.read_bytes()
    assert h["content-type"] == ("image/png" if body.startswith(b"\x89PNG") else "image/jpeg")
    assert h["content-disposition"].startswith("inline")
    _, h, body = get(gallery, t(gallery, f"p/shots/f/{projects.final_rel}?download=1"))
    assert h["content-disposition"].startswith("attachment;") and path.name in h["content-disposition"]
    status, h, body = request(gallery, "HEAD", t(gallery, f"p/shots/f/{projects.final_rel}"))
    assert status == 200 and body == b"" and int(h["content-length"]) == path.stat().st_size


def test_the_turn_page_links_full_size_images_and_downloads(gallery: Gallery, projects: Projects) -> None:
    page = get(gallery, t(gallery, f"p/shots/t/{projects.turns[0]}"))[2].decode()
    src = f"/{gallery.token}/p/shots/f/{quote(projects.final_rel)}"
    assert f"<img src='{src}'" in page and f"href='{src}?download=1' download" in page
    assert "Recipe" in page and "aspect_ratio" in page and "16:9" in page


@pytest.mark.parametrize("rest", ["p/shots/f/project.db", "p/shots/f/../shots/project.db", "p/shots/f/%2e%2e/x",
                                  "p/shots/f/blobs", "p/shots/f//etc/passwd", "p/shots/f/images",
                                  "p/..%2f..%2fetc/", "p/%2e%2e/", "p/shots/f/images/%2e%2e/project.db",
                                  "p/shots/f/images/..%2fproject.db", "p/shots/t/99999", "p/shots/t/-1",
                                  "p/shots/t/1x", "p/shots/t/%EF%BC%91", "p/nope/"])
def test_no_path_escapes_the_recorded_files(gallery: Gallery, rest: str) -> None:
    status, _, body = get(gallery, t(gallery, rest))
    assert status == 404, rest
    assert b"SQLite" not in body and b"root:" not in body


def test_a_recorded_path_that_became_a_link_out_is_refused(tmp_path: Path, projects: Projects) -> None:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(projects.root / "shots", root / "shots")
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    img = root / "shots" / projects.final_rel
    img.unlink()
    img.symlink_to(secret)
    with Gallery(root) as g:
        status, _, body = get(g, t(g, f"p/shots/f/{projects.final_rel}"))
    assert status == 404 and b"top secret" not in body


def test_a_lying_file_is_not_served_as_an_image(tmp_path: Path, projects: Projects) -> None:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(projects.root / "shots", root / "shots")
    (root / "shots" / projects.final_rel).write_bytes(b"<html><script>alert(1)</script></html>")
    with Gallery(root) as g:
        status, h, _body = get(g, t(g, f"p/shots/f/{projects.final_rel}"))
    assert status == 200 and h["content-type"] == "application/octet-stream"
    assert h["content-disposition"].startswith("attachment")


def test_a_damaged_project_shows_an_error_not_a_crash(tmp_path: Path, projects: Projects) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "project.db").write_bytes(b"not a database at all" * 10)
    with Gallery(tmp_path) as g:
        status, _, body = get(g, t(g))
        assert status == 200 and b"broken" in body
        status, _, body = get(g, t(g, "p/broken/"))
        assert status == 503 and b"Traceback" not in body and str(tmp_path).encode() not in body


def test_the_storyboard_page_and_sheet(gallery: Gallery, projects: Projects) -> None:
    a, b, c = projects.turns
    status, h, body = get(gallery, t(gallery, f"p/shots/t/{c}/storyboard"))
    page = body.decode()
    assert status == 200 and all(f"Turn {n}" in page for n in (a, b, c))
    assert "<script>" not in page
    assert "\x1b" not in page and "\u202e" not in page and "\\x1b]52;c;" in page  # hostile_text thoughts
    assert "'sha256-" in h["content-security-policy"]  # its inline stylesheet, allowed by hash only
    assert "unsafe-inline" not in h["content-security-policy"]
    status, h, body = get(gallery, t(gallery, f"p/shots/t/{c}/storyboard.png"))
    assert status == 200 and h["content-type"] == "image/png" and body.startswith(b"\x89PNG")


def test_a_port_in_use_is_reported(gallery: Gallery) -> None:
    with pytest.raises(OSError):
        Gallery(Path("."), port=gallery.port)


def test_the_project_page_shows_the_latest_pictures_as_previews(gallery: Gallery, projects: Projects) -> None:
    import io

    from PIL import Image

    page = get(gallery, t(gallery, "p/shots/"))[2].decode()
    thumb = f"/{gallery.token}/p/shots/thumb/{quote(projects.final_rel)}"
    assert f"src='{thumb}'" in page and "Branch tree" in page
    status, h, body = get(gallery, thumb)
    assert status == 200 and h["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(body)) as im:
        assert max(im.size) <= 360
    assert get(gallery, t(gallery, "p/shots/thumb/project.db"))[0] == 404


def test_a_decompression_bomb_gets_no_preview(tmp_path: Path, projects: Projects) -> None:
    import shutil

    from banana_studio.fakeserver.hostile import huge_png

    root = tmp_path / "root"
    shutil.copytree(projects.root / "shots", root / "shots")
    (root / "shots" / projects.final_rel).write_bytes(huge_png())
    with Gallery(root) as g:
        assert get(g, t(g, f"p/shots/thumb/{projects.final_rel}"))[0] == 404
        assert get(g, t(g, f"p/shots/t/{projects.turns[-1]}/storyboard.png"))[0] == 200


def test_a_recorded_image_linked_to_the_index_is_refused(tmp_path: Path, projects: Projects) -> None:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(projects.root / "shots", root / "shots")
    img = root / "shots" / projects.final_rel
    img.unlink()
    img.symlink_to(root / "shots" / "project.db")
    with Gallery(root) as g:
        status, _, body = get(g, t(g, f"p/shots/f/{projects.final_rel}"))
    assert status == 404 and b"SQLite" not in body


def test_an_images_folder_moved_to_another_disk_still_serves(tmp_path: Path, projects: Projects) -> None:
    import shutil

    root = tmp_path / "root"
    shutil.copytree(projects.root / "shots", root / "shots")
    shutil.move(root / "shots" / "images", tmp_path / "elsewhere")
    (root / "shots" / "images").symlink_to(tmp_path / "elsewhere")
    with Gallery(root) as g:
        status, _, body = get(g, t(g, f"p/shots/f/{projects.final_rel}"))
    assert status == 200 and body == (tmp_path / "elsewhere" / projects.final_rel.split("/", 1)[1]).read_bytes()


def test_a_folder_name_that_is_not_utf8_is_listed_and_browsable(tmp_path: Path, projects: Projects) -> None:
    import os
    import shutil

    root = tmp_path / "root"
    root.mkdir()
    bad = os.fsencode(root) + b"/bad\xff\xfename"
    shutil.copytree(os.fsencode(projects.root / "shots"), bad)
    with Gallery(root) as g:
        status, _, body = get(g, t(g))
        page = body.decode()
        assert status == 200 and "bad\\udcff\\udcfename" in page  # shown with visible escapes
        href = re.search(r"href='(/[^']*/p/bad[^']*)'", page)
        assert href is not None and "%FF%FE" in href.group(1)
        status, _, body = get(g, href.group(1))
        assert status == 200 and b"lighthouse" in body
        status, _, body = get(g, href.group(1) + f"t/{projects.turns[2]}/storyboard")
        assert status == 200


def test_a_branch_downloads_as_one_zip_of_its_pictures_and_recipes(gallery: Gallery, projects: Projects) -> None:
    import io
    import json
    import zipfile

    a, b, c = projects.turns
    page = get(gallery, t(gallery, f"p/shots/t/{c}"))[2].decode()
    assert f"href='/{gallery.token}/p/shots/t/{c}/branch.zip' download" in page
    status, h, body = get(gallery, t(gallery, f"p/shots/t/{c}/branch.zip"))
    assert status == 200 and h["content-type"] == "application/zip"
    assert h["content-disposition"].startswith('attachment; filename="shots-branch-3.zip"')
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        shots = projects.root / "shots"
        finals = [p for p in names if p != "recipes.json"]
        assert len(finals) == 2  # the failed turn has no picture
        for n in finals:
            assert zf.read(n) == (shots / "images" / n).read_bytes()
        recipes = json.loads(zf.read("recipes.json"))
    assert [r["turn_id"] for r in recipes] == [a, b, c] and recipes[1]["prompt"] == "make it night with stars"
    status, h, body = request(gallery, "HEAD", t(gallery, f"p/shots/t/{c}/branch.zip"))
    assert status == 200 and body == b""


def test_a_turn_made_by_an_agent_says_so_with_its_client_name_escaped(gallery: Gallery, projects: Projects) -> None:
    page = get(gallery, t(gallery, f"p/shots/t/{projects.turns[1]}"))[2].decode()
    assert "made by an agent over MCP (&lt;script&gt;alert(&#x27;client&#x27;)&lt;/script&gt; agent 1.0)" in page
    assert "<script>" not in page
    assert "made by an agent" not in get(gallery, t(gallery, f"p/shots/t/{projects.turns[0]}"))[2].decode()


def test_a_region_edit_shows_both_its_pictures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The protected composite is the turn's picture; the model's untouched output is a file of the turn
    too, and the gallery offers it (it offered the shown one only)."""
    import asyncio

    from banana_studio.config import load_config
    from banana_studio.domain.events import TurnSaved
    from banana_studio.domain.region import Box, RegionSpec
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.fakeserver import FakeGemini
    from banana_studio.services import GenerateRequest, Studio

    monkeypatch.setenv("BANANA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BANANA_STUDIO_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("GOOGLE_API_KEY", "k-gallery")
    with FakeGemini(small=True) as srv:
        (tmp_path / "config.toml").write_text(f'base_url = "{srv.base_url}"\n', encoding="utf-8")

        async def go() -> tuple[Path, int, str, str]:
            studio = Studio.open(load_config(), project="edits")
            ids = []
            for req in (GenerateRequest("a harbour"),
                        GenerateRequest("a red boat", parent_id=1, kind="region", settings=GenerationSettings(
                            region=RegionSpec((Box(0.2, 0.2, 0.3, 0.3),)).to_json()))):
                async for ev in studio.generate(req):
                    if isinstance(ev, TurnSaved):
                        ids.append(ev.turn.id)
            edit = studio.store.get_turn(ids[-1])
            shown = edit.final_images[0].path
            model = next(i.path for i in edit.images if i.kind == "model")
            await studio.target.aclose()
            studio.store.close()
            return studio.store.path.parent, edit.id, shown, model

        root, tid, shown, model = asyncio.run(go())
    with Gallery(root) as g:
        status, _, body = get(g, t(g, f"p/edits/t/{tid}"))
        page = body.decode()
        assert status == 200 and shown.endswith("-protected.png")
        for rel in (shown, model):
            src = f"/{g.token}/p/edits/f/{quote(rel)}"
            assert f"<img src='{src}'" in page and f"href='{src}?download=1' download" in page
            assert get(g, src)[0] == 200
        assert "untouched output" in page and "missing" not in page
