"""The read-only web gallery: a small HTTP server on 127.0.0.1 behind a random token in the URL.

Built on the standard library's ``ThreadingHTTPServer``: the surface is a handful of GET routes that
this module answers in full (headers included), so a framework would add a dependency and more code
paths than it saves.  Rules, in the order a request meets them:

* only ``GET`` and ``HEAD``; every other method — known or made up — gets 405 (``Allow: GET, HEAD``)
  and its body is never read;
* the ``Host`` header must name the loopback (DNS rebinding: a page at ``evil.example`` that resolves
  to 127.0.0.1 gets 403);
* the first path segment must be the token (compared in constant time); anything else is a bare 404,
  the same answer as for a page that does not exist, so a wrong token learns nothing;
* projects are looked up by name in the folder listing; files are served only when the project's index
  records them and they lie inside the project (:meth:`store.readonly.ProjectView.recorded_file`).

Every answer carries a strict Content-Security-Policy (no script, nothing from elsewhere),
``nosniff``, ``no-referrer`` and ``frame-ancestors 'none'``.  The access log is off: URLs hold the token.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import secrets
import shutil
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from banana_studio import __version__
from banana_studio.domain.imagetype import sniff_image_mime
from banana_studio.store.readonly import ProjectReader, ProjectView, ReadError
from banana_studio.web import pages
from banana_studio.web.thumbs import Thumbnails

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
CSP = ("default-src 'none'; img-src 'self'; style-src 'self'{extra}; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif", "image/heic", "image/heif",
                          "image/avif"})


class Reply(Exception):
    """Stop handling and answer with ``code`` and a short page (never details of the failure)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


NOT_FOUND = Reply(404, "Not found.")


def host_name(value: str) -> str:
    h = value.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


class GalleryHandler(BaseHTTPRequestHandler):
    server: GalleryHTTPServer
    server_version = f"BananaStudioGallery/{__version__}"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 60  # a client that stops sending mid-request releases its thread

    # -- methods ---------------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def __getattr__(self, name: str) -> Callable[[], None]:
        # BaseHTTPRequestHandler dispatches to do_<METHOD>: every method but GET/HEAD is refused.
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def _refuse_method(self) -> None:
        self.close_connection = True  # the body (if any) is never read
        self._send_page(405, "This gallery is read-only: only GET and HEAD.", head=False,
                        extra={"Allow": "GET, HEAD"})

    def log_message(self, format: str, *args: Any) -> None:  # URLs carry the token: no access log
        return

    # -- answering -------------------------------------------------------------------------------
    def _answer(self, *, head: bool) -> None:
        try:
            values = self.headers.get_all("Host") or []
            if len(values) != 1 or host_name(values[0]) not in LOOPBACK_HOSTS:
                raise Reply(403, "Forbidden.")
            self._route(head)
        except Reply as r:
            self._send_page(r.code, r.message, head=head)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:
            log.exception("gallery request failed")
            with contextlib.suppress(OSError):
                self._send_page(500, "Internal error.", head=head)

    def _route(self, head: bool) -> None:
        split = urlsplit(self.path)
        raw = split.path.split("/")
        if len(raw) < 2 or raw[0] != "":
            raise NOT_FOUND
        try:
            parts = [unquote(p, errors="surrogateescape") if "%" in p else p for p in raw[1:]]
        except UnicodeDecodeError:
            raise NOT_FOUND from None
        if not hmac.compare_digest(parts[0].encode("utf-8", "surrogateescape"), self.server.token.encode()):
            raise NOT_FOUND
        base = "/" + self.server.token
        rest = parts[1:]
        download = "download=1" in split.query.split("&")
        srv = self.server
        if rest == []:
            self._redirect(base + "/", head)
        elif rest == [""]:
            self._send_html(pages.projects_page(base, srv.reader.projects()), head)
        elif rest == ["style.css"]:
            self._send_bytes(pages.CSS.encode(), "text/css; charset=utf-8", head)
        elif len(rest) >= 2 and rest[0] == "p":
            project = srv.reader.project_dir(rest[1])
            if project is None:
                raise NOT_FOUND
            self._project_route(base, project, rest[2:], head, download)
        else:
            raise NOT_FOUND

    def _project_route(self, base: str, project: Path, rest: list[str], head: bool, download: bool) -> None:
        name = project.name
        try:
            with self.server.reader.open(project) as view:
                if rest == []:
                    self._redirect(f"{base}/p/{pages.seg(name)}/", head)
                elif rest == [""]:
                    rows, total = view.tree()
                    recent = view.recent_images()
                    self._send_html(pages.project_page(base, name, rows, total, recent), head)
                elif rest[0] == "f" and len(rest) >= 2:
                    path = view.recorded_file("/".join(rest[1:]))
                    if path is None:
                        raise NOT_FOUND
                    self._send_file(path, head, download)
                elif rest[0] == "thumb" and len(rest) >= 2:
                    path = view.recorded_file("/".join(rest[1:]))
                    data = self.server.thumbs.get(path) if path is not None else None
                    if data is None:
                        raise NOT_FOUND
                    self._send_bytes(data, "image/jpeg", head, extra={"Cache-Control": "private, max-age=3600"})
                elif rest[0] == "t" and len(rest) in (2, 3, 4) and rest[1].isdigit() and rest[1].isascii():
                    self._turn_route(base, view, int(rest[1]), rest[2:], head)
                else:
                    raise NOT_FOUND
        except ReadError as exc:
            raise Reply(503, str(exc)) from exc

    def _turn_route(self, base: str, view: ProjectView, turn_id: int, rest: list[str], head: bool) -> None:
        name = view.name
        turn = view.turn(turn_id)
        if turn is None:
            raise NOT_FOUND
        if rest == []:
            ids = view.branch_ids(turn_id)
            sizes: dict[str, int | None] = {}
            for im in turn.finals() + turn.alternates():
                path = view.recorded_file(im.path)
                sizes[im.path] = path.stat().st_size if path is not None else None
            self._send_html(pages.turn_page(base, name, turn, ids, sizes), head)
        elif rest == ["storyboard"]:
            prefix = f"{base}/p/{pages.seg(name)}/f/"
            doc = view.branch_doc(turn_id, lambda im: prefix + pages.rel_url(im.path))
            self._send_html(pages.storyboard_page(base, name, doc), head)
        elif rest == ["storyboard.png"]:
            from banana_studio.store.storyboard import contact_sheet

            def file_of(im: Any) -> str:
                path = view.recorded_file(im.path)
                return str(path) if path is not None else "\x00missing"

            doc = view.branch_doc(turn_id, file_of)
            self._send_bytes(contact_sheet(doc, view.path), "image/png", head)
        elif rest == ["branch.zip"]:
            self._send_branch_zip(view, turn_id, head)
        else:
            raise NOT_FOUND

    # -- writing answers -------------------------------------------------------------------------
    def _common_headers(self, csp_extra: str = "", cache: str = "no-store") -> None:
        self.send_header("Content-Security-Policy", CSP.format(extra=csp_extra))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", cache)

    def _send_bytes(self, data: bytes, ctype: str, head: bool, code: int = 200, csp_extra: str = "",
                    extra: dict[str, str] | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        extra = dict(extra or {})
        self._common_headers(csp_extra, extra.pop("Cache-Control", "no-store"))
        for k, v in extra.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _send_html(self, page: str, head: bool) -> None:
        extra = "".join(" " + h for h in pages.style_hashes(page))
        self._send_bytes(page.encode("utf-8", "replace"), "text/html; charset=utf-8", head, csp_extra=extra)

    def _send_page(self, code: int, message: str, head: bool, extra: dict[str, str] | None = None) -> None:
        self._send_bytes(pages.error_page(code, message).encode(), "text/html; charset=utf-8", head, code=code,
                         extra=extra)

    def _redirect(self, location: str, head: bool) -> None:
        self._send_bytes(b"", "text/plain", head, code=301, extra={"Location": location})

    def _send_branch_zip(self, view: ProjectView, turn_id: int, head: bool) -> None:
        """Every picture of the branch to ``turn_id`` (finals, in branch order) and a ``recipes.json``, as
        one ZIP streamed as it is written (see :mod:`web.archive`)."""
        import json

        from banana_studio.web.archive import write_zip

        turns = view.branch(turn_id)
        files = [(im.path.rsplit("/", 1)[-1], view.recorded_file(im.path)) for t in turns for im in t.finals()]
        recipes = json.dumps([t.recipe(view.name) for t in turns], indent=2, ensure_ascii=False)
        name = f"{view.name}-branch-{turn_id}.zip"
        ascii_name = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name)
        self.close_connection = True  # the length is not known in advance: the end of the body is the close
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Disposition",
                         f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}")
        self._common_headers()
        self.send_header("Connection", "close")
        self.end_headers()
        if head:
            return
        write_zip(self.wfile, [(n, p) for n, p in files if p is not None], {"recipes.json": recipes})

    def _send_file(self, path: Path, head: bool, download: bool) -> None:
        try:
            fh = path.open("rb")
        except OSError as exc:
            raise NOT_FOUND from exc
        with fh:
            magic = fh.read(32)
            size = path.stat().st_size
            mime = sniff_image_mime(magic)  # by the bytes: a stored MIME type may lie
            ctype = mime if mime in _IMAGE_TYPES else "application/octet-stream"
            filename = path.name
            ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
            disposition = "attachment" if download or ctype == "application/octet-stream" else "inline"
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Disposition",
                             f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}")
            self._common_headers(cache="private, max-age=3600")
            self.end_headers()
            if head:
                return
            self.wfile.write(magic)
            shutil.copyfileobj(fh, self.wfile, 1 << 20)


class GalleryHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], reader: ProjectReader, token: str) -> None:
        super().__init__(address, GalleryHandler)
        self.reader = reader
        self.token = token
        self.thumbs = Thumbnails()


class Gallery:
    """The gallery of the projects under ``root``, served from a background thread."""

    def __init__(self, root: Path, *, port: int = 0, host: str = "127.0.0.1", token: str | None = None) -> None:
        self.root = Path(root).expanduser()
        self.token = token or secrets.token_urlsafe(24)
        self._httpd = GalleryHTTPServer((host, port), ProjectReader(self.root), self.token)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def project_url(self, name: str) -> str:
        return f"{self.url}p/{pages.seg(name)}/"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Gallery:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="gallery", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Gallery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
