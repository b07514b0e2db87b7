"""``banana-studio recipe IMAGE``: print the recipe the studio embedded in an image."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from banana_studio.cli.exits import error
from banana_studio.cli.output import print_json
from banana_studio.config import load_config, redact
from banana_studio.domain.region import RegionSpec
from banana_studio.domain.safetext import dumps_json
from banana_studio.domain.target import DEMO_BADGE, Target
from banana_studio.paths import demo_projects_root
from banana_studio.store import find_turn_for_image
from banana_studio.store.files import read_image_file
from banana_studio.store.recipe import read_recipe

_SETTING_NAMES = {
    "aspect_ratio": "Aspect ratio",
    "image_size": "Size",
    "include_thoughts": "Thoughts",
    "google_search": "Google Search",
    "temperature": "Temperature",
    "seed": "Seed",
    "thinking_level": "Thinking level",
    "image_only": "Image only",
    "system_instruction": "System instruction",
}


def format_recipe(recipe: dict[str, Any]) -> str:
    lines = [f"Prompt:   {recipe.get('prompt', '')}", f"Model:    {recipe.get('model', '')}"]
    target = Target.parse(recipe.get("target"))
    version = recipe.get("model_version") or "not recorded"
    lines.append(f"Made on:  {target.label}" + (f" ({DEMO_BADGE}: synthetic image, simulated cost)"
                                                if target is Target.LOCAL else "") + f" · model version {version}")
    settings = recipe.get("settings") or {}
    for key, label in _SETTING_NAMES.items():
        value = settings.get(key)
        if value not in (None, "", False) or key in ("aspect_ratio", "image_size"):
            lines.append(f"  {label}: {value}")
    region = RegionSpec.from_json(settings.get("region")) if isinstance(settings, dict) else RegionSpec()
    if region.active:
        lines.append(f"Region:   {region.describe()}")
    refs = recipe.get("references") or []
    lines.append(f"References: {len(refs)}" + "".join(f"\n  {r}" for r in refs))
    named = recipe.get("named_references")
    if isinstance(named, dict) and named:
        lines.append("Named:    " + ", ".join(f"{name} ({len(shas) if isinstance(shas, list) else '?'})"
                                              for name, shas in named.items()))
    lines.append(f"Project:  {recipe.get('project', '')} ({recipe.get('project_uuid', '')})")
    parent = recipe.get("parent_id")
    lines.append(f"Turn:     {recipe.get('turn_id')}" + (f" (parent {parent})" if parent else " (root)"))
    lines.append(f"Image:    {recipe.get('kind', 'final')} #{int(recipe.get('index', 0)) + 1}, "
                 f"sha256 {recipe.get('image_sha256', '')}")
    lines.append(f"Made:     {recipe.get('created_at', '')} with banana-studio {recipe.get('app_version', '')}")
    return redact("\n".join(lines))


def run(args: argparse.Namespace) -> int:
    path = Path(args.image).expanduser()
    try:
        data = read_image_file(path)
    except ValueError as exc:
        return error(str(exc))
    recipe = read_recipe(data)
    if recipe is None:
        # Metadata stripped?  The file may still be one of ours, found by its hash.
        cfg = load_config()
        # An image made in demo mode lives in the demo projects folder, next to the real one.
        found = find_turn_for_image(path, [cfg.projects_root(), demo_projects_root(cfg.projects_root())])
        if found is None:
            return error(f"No Banana Studio recipe in {path} (and no project holds an identical image).", 1)
        project, turn_id = found
        if args.json:
            print_json({"project_dir": str(project), "turn_id": turn_id, "recipe": None})
        else:
            print(f"No embedded recipe, but this image is turn {turn_id} of project {project.name} ({project}).")
            print(f"See: banana-studio history --project-dir {project.parent} --project {project.name}")
        return 0
    if args.json:
        print(redact(dumps_json(recipe, indent=2)))
    else:
        print(format_recipe(recipe))
    return 0
