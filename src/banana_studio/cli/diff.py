"""``banana-studio diff TURN_A TURN_B -o heatmap.png`` — where turn B differs from turn A.

Writes a heat map (B's picture in grey, changed pixels yellow-red, B's region outlined) and prints
the changed share of the image, inside and outside B's region.  TURN_A may be left out: B's parent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from banana_studio.cli.exits import EXIT_FAILED, EXIT_INVALID, EXIT_OK, error, warning
from banana_studio.config import load_config
from banana_studio.domain.region import RegionError
from banana_studio.domain.safetext import display_text


def _turn_id(text: str) -> int:
    try:
        return int(str(text).lstrip("#"))
    except ValueError:
        raise RegionError(f"{text!r} is not a turn id (a number).") from None


def run(args: argparse.Namespace) -> int:
    from banana_studio.cli.history import _open
    from banana_studio.services.region import change_map
    from banana_studio.store import ProjectError
    from banana_studio.store.project import check_outside_project

    cfg = load_config()
    for problem in cfg.problems:
        warning(problem)
    try:
        ids = [_turn_id(t) for t in args.turns]
    except RegionError as exc:
        return error(str(exc))
    if len(ids) not in (1, 2):
        return error("diff takes TURN_B (compared with its parent) or TURN_A TURN_B.")
    before, after = (None, ids[0]) if len(ids) == 1 else (ids[0], ids[1])
    try:
        with _open(args, cfg) as store:
            cmap = asyncio.run(change_map(store, after, before))
            out = Path(args.output).expanduser() if args.output else None
            if out is not None:
                check_outside_project(store.path, out)
    except (ProjectError, RegionError) as exc:
        return error(str(exc), EXIT_INVALID)
    except OSError as exc:
        return error(f"cannot read the images: {exc.strerror or exc}", EXIT_FAILED)
    s = cmap.stats
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(cmap.png)
        except OSError as exc:
            return error(f"cannot write {out}: {exc.strerror or exc}", EXIT_FAILED)
    if getattr(args, "json", False):
        print(json.dumps({"before": cmap.before, "source": cmap.source or None, "after": cmap.after,
                          "size": list(s.size),
                          "changed": round(s.changed, 5),
                          "inside": None if s.inside is None else round(s.inside, 5),
                          "outside": None if s.outside is None else round(s.outside, 5),
                          "region": [b.to_json() for b in cmap.boxes], "heatmap": str(out) if out else None}))
    else:
        print(display_text(f"{cmap.against} → #{cmap.after}: {s.text()}", one_line=True))
        if out is not None:
            print(out)
    return EXIT_OK
