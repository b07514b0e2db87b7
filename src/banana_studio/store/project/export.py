"""Exports never change a project: a saved copy, a branch's images and ``branch.json``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from banana_studio import __version__
from banana_studio.domain.catalogue import round_money
from banana_studio.domain.content import Content
from banana_studio.store.files import atomic_write, temp_name
from banana_studio.store.names import ProjectError
from banana_studio.store.project.reads import Reads


class Export(Reads):
    """Copies out of the project: "save image as" and a branch's images + ``branch.json``."""

    def _check_export_dir(self, out_dir: Path) -> None:
        check_outside_project(self.path, out_dir, self.name)

    def save_copy(self, src: Path, dest: Path) -> Path:
        """Save a copy of one of the project's files at ``dest`` ("save image as"): never inside the
        project, never through a symlink or hard link at ``dest``."""
        dest = Path(dest).expanduser()
        check_outside_project(self.path, dest, self.name)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"Cannot create folder {dest.parent}: {exc.strerror}.") from exc
        copy_out(Path(src), dest)
        return dest

    def export_branch(self, turn_id: int, out_dir: Path) -> Path:
        """Copy the branch's images into ``out_dir`` and write ``branch.json``; returns the JSON path."""
        out_dir = Path(out_dir).expanduser()
        self._check_export_dir(out_dir)
        path = self.path_to(turn_id)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ProjectError(f"Cannot create export folder {out_dir}: {exc.strerror}.") from exc
        self._check_export_dir(out_dir)  # again, now that any symlink on the way exists
        turns_out: list[dict[str, Any]] = []
        for t in path:
            images_out = []
            for im in t.images:
                sub = "drafts/" if im.kind == "draft" else ""
                dest_rel = sub + Path(im.path).name
                dest = out_dir / dest_rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    copy_out(self.abs_path(im.path), dest)
                except OSError:
                    atomic_write(dest, self.blob_bytes(im.sha256))
                images_out.append({"kind": im.kind, "index": im.index, "file": dest_rel, "sha256": im.sha256,
                                   "mime_type": im.mime_type, "width": im.width, "height": im.height})
            turns_out.append({
                "id": t.id,
                "parent_id": t.parent_id,
                "prompt": t.prompt,
                "kind": t.kind,
                "status": t.status,
                "settings": t.settings.to_json(),
                "references": [{"sha256": r.sha256, "name": r.name, "mime_type": r.mime_type,
                                **({"named": r.named} if r.named else {})} for r in t.references],
                "images": images_out,
                "usage": t.usage,
                "grounding": t.grounding,
                "cost": round_money(t.cost) if t.cost is not None else None,
                "finish_reason": t.finish_reason,
                "finish_message": t.finish_message,
                "error": t.error,
                "model_version": t.model_version,
                "target": t.target,
                **({"source": t.source, "source_client": t.source_client} if t.source else {}),
                "demo": t.is_demo,
                "response_id": t.response_id,
                "starred": t.starred,
                "label": t.label,
                "created_at": datetime.fromtimestamp(t.created_at).astimezone().isoformat(timespec="seconds"),
                "user_content": _export_content(t.user_content),
                "model_content": _export_content(t.model_content),
            })
        doc = {
            "app": "banana-studio",
            "app_version": __version__,
            "project": self.name,
            "project_uuid": self.uuid,
            "turn_id": turn_id,
            "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "costs": {k: round_money(v) for k, v in self.costs(turn_id).items()},
            "turns": turns_out,
        }
        target = out_dir / "branch.json"
        atomic_write(target, json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8"))
        return target


def check_outside_project(project: Path, target: Path, name: str = "") -> None:
    """Exports never modify a project: refuse a ``target`` inside it, or inside a folder it links to."""
    resolved = Path(target).expanduser().resolve()
    roots = {project.resolve()}
    for sub in ("images", "blobs", "refs", ".thumbs", ".tmp", ".locks"):
        with contextlib.suppress(OSError):
            roots.add((project / sub).resolve())
    for root in roots:
        if resolved == root or root in resolved.parents:
            raise ProjectError(f"Cannot write to {target}: it is inside the project {name or project.name!r} "
                               f"({root}), and an export never changes a project. Choose a place outside it.")
    for folder in (resolved, *resolved.parents):  # nor any other project (its images/ holds only its record)
        if (folder / "project.db").is_file():
            raise ProjectError(f"Cannot write to {target}: it is inside the project {folder.name!r} ({folder}), "
                               "and an export never changes a project. Choose a place outside it.")


def copy_out(src: Path, dest: Path) -> None:
    """Copy via a temp file + rename: a ``dest`` that is a symlink or hard link is replaced, never
    written through (so no file it points to can be changed)."""
    tmp = temp_name(dest)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _export_content(content: Content | None) -> dict[str, Any] | None:
    """Parts without inline bytes; signatures summarised by length (they are opaque and huge)."""
    if content is None:
        return None
    obj = content.to_json()
    for pobj, part in zip(obj["parts"], content.parts, strict=True):
        if "thought_signature" in pobj:
            pobj.pop("thought_signature")
            pobj["thought_signature_bytes"] = len(part.thought_signature or b"")
    return obj


