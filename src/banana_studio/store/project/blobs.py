"""Blobs: content-addressed bytes under ``blobs/``, and the paths a project records."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from banana_studio.domain.content import Content, sha256_hex
from banana_studio.store import files
from banana_studio.store.files import blob_rel
from banana_studio.store.names import ProjectError
from banana_studio.store.project.connection import StoreConnection

SIG_INLINE_MAX = 4096
"""Thought signatures longer than this (bytes) go to the blob store instead of the DB row."""
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_DIGESTS_MAX = 16
"""Bytes objects whose digest is remembered at most (a few turns' drafts, finals and signatures)."""


class Blobs(StoreConnection):
    """Content-addressed bytes: model images, large thought signatures, and the Content (de)serialisation
    that moves them out of the index rows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._digests: dict[int, tuple[bytes, str]] = {}

    # -- paths and blobs --------------------------------------------------------------------------
    def abs_path(self, rel: str) -> Path:
        """The file a recorded relative path names.  Checked lexically (no absolute path, no ``..``), so a
        folder the user replaced by a symlink (``images/`` moved to another disk) keeps working."""
        pure = PurePosixPath(str(rel).replace("\\", "/"))
        if not str(rel) or pure.is_absolute() or ".." in pure.parts or ":" in (pure.parts[0] if pure.parts else ""):
            raise ProjectError(f"Path {rel!r} points outside the project.")
        return self.path.joinpath(*pure.parts)

    def _write(self, target: Path, data: bytes | tuple[bytes | memoryview, ...]) -> None:
        """Atomic write whose temp file lives in ``.tmp/`` (swept on open), never beside the target."""
        files.atomic_write(target, data, tmp_dir=self.path / ".tmp")

    def _digest(self, data: bytes) -> str:
        """SHA-256 of ``data``, computed once per bytes object while a turn is being recorded: a draft
        hashed by ``save_draft`` is not hashed again when the answer that holds the same bytes object is
        completed (the cache is checked by identity, and forgotten when the turn finishes)."""
        hit = self._digests.get(id(data))
        if hit is not None and hit[0] is data:
            return hit[1]
        sha = sha256_hex(data)
        if len(self._digests) >= _DIGESTS_MAX:
            self._digests.pop(next(iter(self._digests)), None)
        self._digests[id(data)] = (data, sha)
        return sha

    def _forget_digests(self) -> None:
        self._digests.clear()

    def _put_blob(self, data: bytes) -> str:
        sha = self._digest(data)
        target = self.path / blob_rel(sha)
        if not target.exists() and self._ref_path(sha) is None:
            try:
                self._write(target, data)
            except OSError as exc:
                raise ProjectError(f"Cannot write to project {self.name!r}: {exc.strerror}.") from exc
        return sha

    def _ref_path(self, sha: str) -> Path | None:
        for ext in ("png", "jpg", "webp", "heic", "heif", "gif", "avif", "bin"):
            p = self.path / "refs" / f"{sha}.{ext}"
            if p.exists():
                return p
        return None

    def blob_bytes(self, sha256: str) -> bytes:
        if not _SHA_RE.match(sha256 or ""):
            raise ProjectError(f"Invalid blob id {sha256!r}.")
        p = self.path / blob_rel(sha256)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            ref = self._ref_path(sha256)
            if ref is not None:
                return ref.read_bytes()
        except OSError as exc:
            raise ProjectError(f"Cannot read blob {sha256[:12]}: {exc.strerror}.") from exc
        raise ProjectError(f"Project {self.name!r} is missing stored data {sha256[:12]}… (deleted by hand?).")

    def _content_json(self, content: Content | None) -> tuple[str | None, set[str], Content | None]:
        """Serialise a Content: image bytes and large signatures go to the blob store.  Returns the JSON,
        the blobs it references and the externalised Content (images as blob references)."""
        if content is None:
            return None, set(), None
        ext = content.externalise(self._put_blob)
        shas: set[str] = {p.blob for p in ext.parts if p.blob}
        parts: list[dict[str, Any]] = []
        for part in ext.parts:
            sig = part.thought_signature
            if sig is None and part.signature_blob is not None:  # a lazily loaded part: keep its reference
                pobj = part.to_json()
                shas.add(part.signature_blob)
            elif sig is not None and len(sig) > SIG_INLINE_MAX:
                sha = self._put_blob(sig)
                pobj = dataclasses.replace(part, thought_signature=None).to_json()  # no base64 of it
                pobj["thought_signature_blob"] = sha
                shas.add(sha)
            else:
                pobj = part.to_json()
            parts.append(pobj)
        return json.dumps({"role": ext.role, "parts": parts}, separators=(",", ":")), shas, ext

    def _load_content(self, text: str | None, *, lazy: bool = False) -> Content | None:
        """``lazy``: big thought signatures stay blob references (``Part.signature_blob``), not read."""
        if not text:
            return None
        obj = json.loads(text)
        if not lazy:
            for pobj in obj.get("parts") or []:
                sha = pobj.pop("thought_signature_blob", None)
                if sha:
                    pobj["thought_signature"] = self.blob_bytes(sha)
        return Content.from_json(obj)
