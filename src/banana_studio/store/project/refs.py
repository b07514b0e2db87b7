"""Reference images of a project: checked (see :mod:`banana_studio.store.references`), then stored."""

from __future__ import annotations

from pathlib import Path

from banana_studio.domain.content import sha256_hex
from banana_studio.domain.turn import Reference
from banana_studio.store import references
from banana_studio.store.files import ext_for
from banana_studio.store.names import ProjectError
from banana_studio.store.project.blobs import Blobs


class References(Blobs):
    """Reference images copied into ``refs/`` once checked completely."""

    def add_reference(self, path: Path) -> Reference:
        data = references.read_reference_file(Path(path).expanduser())
        return self.add_reference_bytes(data, "", Path(path).name)

    def add_reference_bytes(self, data: bytes, mime: str, name: str) -> Reference:
        """Check a reference completely (see :func:`references.check_reference`), then store it."""
        label = name or "reference"
        data, out_mime = references.check_reference(data, label)
        return self._store_reference(data, out_mime, label)

    def _store_reference(self, data: bytes, out_mime: str, label: str) -> Reference:
        sha = sha256_hex(data)
        rel = f"refs/{sha}.{ext_for(out_mime)}"
        target = self.path / rel
        if not target.exists():
            try:
                self._write(target, data)
            except OSError as exc:
                raise ProjectError(f"Cannot copy reference into project: {exc.strerror}.") from exc
        return Reference(sha256=sha, mime_type=out_mime, name=label, path=rel)

    def reference_bytes(self, ref: Reference) -> bytes:
        try:
            return self.abs_path(ref.path).read_bytes()
        except OSError:
            return self.blob_bytes(ref.sha256)

