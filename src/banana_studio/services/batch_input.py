"""Batch prompts files: ``.txt`` (one prompt per line) or ``.jsonl`` / ``.json`` (one object per line)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banana_studio.domain.settings import GenerationSettings

MAX_PROMPTS = 10_000


class BatchError(Exception):
    """A batch problem with a message meant for the user.  ``exit_code``: 2 bad input, 1 API/job failure."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


SEARCH_FULL_PRICE_NOTE = ("Google Search grounding is charged at the full price: only tokens get the batch "
                          "discount (neither Google's batch docs nor its pricing page say search is discounted).")


def search_price_note(prompts: list[BatchPrompt]) -> str:
    """Said at submit when any prompt is grounded with Google Search ("" otherwise)."""
    return SEARCH_FULL_PRICE_NOTE if any(p.settings.google_search for p in prompts) else ""


# -- input ------------------------------------------------------------------------------------------

@dataclass(slots=True)
class BatchPrompt:
    prompt: str
    settings: GenerationSettings
    references: list[Path] = field(default_factory=list)
    key: str = ""
    parent_id: int | None = None


_LINE_SETTING_KEYS = {"aspect": "aspect_ratio", "aspect_ratio": "aspect_ratio", "size": "image_size",
                      "image_size": "image_size", "seed": "seed", "temperature": "temperature",
                      "search": "google_search", "google_search": "google_search",
                      "system": "system_instruction", "system_instruction": "system_instruction"}


def parse_prompts(path: Path, defaults: GenerationSettings) -> list[BatchPrompt]:
    """Read a prompts file.

    ``.txt`` (or anything not ``.jsonl``/``.json``): one prompt per line; blank lines and lines starting
    with ``#`` are skipped.  ``.jsonl``: one JSON object per line, ``{"prompt": ..., "key": ...,
    "aspect": "16:9", "size": "2K", "seed": 1, "refs": ["a.png"], "parent": 12}`` (every field but
    ``prompt`` optional; a bare JSON string is a prompt too).  Relative ref paths are relative to the
    prompts file.  One model per job: a per-line ``model`` is refused.
    """
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BatchError(f"Prompts file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"Cannot read prompts file {path}: {exc}.") from None
    out: list[BatchPrompt] = []
    is_jsonl = path.suffix.lower() in (".jsonl", ".json", ".ndjson")
    keys: set[str] = set()
    rows: list[tuple[int, Any]] = []
    if is_jsonl and text.lstrip().startswith("["):  # a .json file holding one array of prompts
        try:
            array = json.loads(text)
        except ValueError as exc:
            raise BatchError(f"{path.name}: not valid JSON ({exc.msg}, line {exc.lineno}).") from None
        rows = [(i, obj) for i, obj in enumerate(array, 1)] if isinstance(array, list) else []
        where = "item"
    else:
        rows = [(n, raw) for n, raw in enumerate(text.splitlines(), 1)]
        where = "line"
    for n, raw in rows:
        if isinstance(raw, str):
            line = raw.strip()
            if not line or (not is_jsonl and line.startswith("#")):
                continue
        if not is_jsonl:
            item = BatchPrompt(prompt=line, settings=defaults.copy())
        else:
            if isinstance(raw, str) and where == "line":
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise BatchError(f"{path.name} line {n}: not valid JSON ({exc.msg}).") from None
            else:
                obj = raw
            item = _prompt_from_json(obj, defaults, path.parent, f"{path.name} {where} {n}")
        item.key = item.key or f"p{len(out) + 1:04d}"
        if item.key in keys:
            raise BatchError(f"{path.name} {where} {n}: duplicate key {item.key!r}.")
        keys.add(item.key)
        out.append(item)
        if len(out) > MAX_PROMPTS:
            raise BatchError(f"{path.name}: more than {MAX_PROMPTS} prompts; split it into several jobs.")
    if not out:
        raise BatchError(f"{path.name} has no prompts (one per line; # starts a comment).")
    return out


def _prompt_from_json(obj: Any, defaults: GenerationSettings, base: Path, where: str) -> BatchPrompt:
    if isinstance(obj, str):
        obj = {"prompt": obj}
    if not isinstance(obj, dict):
        raise BatchError(f"{where}: expected an object with a \"prompt\" or a string.")
    prompt = obj.get("prompt", obj.get("text"))
    if not isinstance(prompt, str) or not prompt.strip():
        raise BatchError(f"{where}: \"prompt\" is missing or empty.")
    if "model" in obj and obj["model"] != defaults.model:
        raise BatchError(f"{where}: a batch job uses one model ({defaults.model}); use --model for the whole "
                         "file instead of a per-line \"model\".")
    changes: dict[str, Any] = {}
    for k, v in obj.items():
        if k in _LINE_SETTING_KEYS:
            changes[_LINE_SETTING_KEYS[k]] = v
    refs_raw = obj.get("refs", obj.get("references", []))
    if isinstance(refs_raw, str):
        refs_raw = [refs_raw]
    if not isinstance(refs_raw, list) or not all(isinstance(r, str) for r in refs_raw):
        raise BatchError(f"{where}: \"refs\" must be a list of image paths.")
    refs = [(base / Path(r).expanduser()) if not Path(r).expanduser().is_absolute() else Path(r).expanduser()
            for r in refs_raw]
    parent = obj.get("parent")
    if parent is not None and (isinstance(parent, bool) or not isinstance(parent, int)):
        raise BatchError(f"{where}: \"parent\" must be a turn id (a number).")
    key = obj.get("key", "")
    if not isinstance(key, str):
        key = str(key)
    return BatchPrompt(prompt=prompt, settings=defaults.copy(**changes), references=refs, key=key,
                       parent_id=parent)
