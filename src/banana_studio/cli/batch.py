"""``banana-studio batch``: the half-price lane.

    banana-studio batch prompts.txt --aspect 16:9 --size 2K     submit, wait (progress), import as turns
    banana-studio batch prompts.jsonl --no-wait                 submit and return; the job id is kept
    banana-studio batch --resume                                resume every unfinished job of the project
    banana-studio batch --list                                  the project's jobs
    banana-studio batch --cancel batches/abc123                 cancel a job

Exit codes: 0 ok, 1 API/job failure, 2 bad input or no key, 3 over budget (pass ``--yes``), 130 stopped
waiting (the job keeps running on the server; ``--resume`` picks it up).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from banana_studio.cli.exits import error, warning
from banana_studio.config import Config, load_config
from banana_studio.domain.settings import GenerationSettings
from banana_studio.domain.words import plural
from banana_studio.services.batch import (
    VERTEX_BATCH_TEXT,
    BatchError,
    BatchLane,
    BatchProgress,
    BatchRecord,
    parse_prompts,
)
from banana_studio.services.batch_input import search_price_note
from banana_studio.services.batch_results import cancel_outcome_text
from banana_studio.services.budget import check_studio_budget
from banana_studio.store import ProjectError

EXIT_BUDGET = 3


def settings_from_args(args: argparse.Namespace, base: GenerationSettings) -> GenerationSettings:
    changes: dict[str, Any] = {}
    for attr, field_name in (("model", "model"), ("aspect", "aspect_ratio"), ("size", "image_size"),
                             ("temperature", "temperature"), ("seed", "seed"), ("system", "system_instruction")):
        value = getattr(args, attr, None)
        if value is not None:
            changes[field_name] = value
    if getattr(args, "search", None):
        changes["google_search"] = True
    if getattr(args, "no_thoughts", False):
        changes["include_thoughts"] = False
    if getattr(args, "output_mime", None):  # Vertex-only options: refused at submit with the reason
        changes["output_mime_type"] = f"image/{args.output_mime}"
    if getattr(args, "quality", None) is not None:
        changes["output_quality"] = args.quality
    if getattr(args, "person_generation", None):
        changes["person_generation"] = args.person_generation.upper()
    return base.copy(**changes)


class ProgressPrinter:
    """One status line on stderr: rewritten in place on a terminal, a new line per change otherwise."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = ""
        self._width = 0

    def __call__(self, p: BatchProgress) -> None:
        self._latest = p
        self._latest_at = time.monotonic()
        self._draw(p)

    def tick(self) -> None:
        """Redraw the latest line with the clock advanced (terminals only; between polls)."""
        p = getattr(self, "_latest", None)
        if not self.tty or p is None or p.phase != "waiting":
            return
        elapsed = p.elapsed + (time.monotonic() - self._latest_at)
        self._draw(BatchProgress(p.record, p.state, elapsed, p.total, p.succeeded, p.failed, p.pending,
                                 p.imported, p.phase, p.note))

    def _draw(self, p: BatchProgress) -> None:
        line = p.line()
        if self.tty:
            pad = max(0, self._width - len(line))
            self.stream.write("\r" + line + " " * pad)
            self._width = len(line)
            if p.phase == "done":
                self.stream.write("\n")
                self._width = 0
            self.stream.flush()
        else:
            # Without a terminal (a log), print only meaningful changes: state, counts, phase, and what
            # Google answered -- not the clock, nor the countdown to the next check.
            sig = repr((p.record.name, p.state, p.succeeded, p.failed, p.pending, p.imported, p.phase,
                        p.note.split(", checking again in", 1)[0]))
            if sig != self._last:
                self.stream.write(line + "\n")
                self.stream.flush()
                self._last = sig

    def finish(self) -> None:
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M") if ts else "-"


def _print_list(lane: BatchLane) -> int:
    records = lane.records()
    if not records:
        print(f"No batch jobs in project {lane.store.name!r}.")
        return 0
    for r in records:
        n_done = sum(1 for i in r.items if i.status == "done")
        n_failed = sum(1 for i in r.items if i.status == "failed")
        print(f"{r.name:<28} {r.short_state:<10} {_when(r.created_at)}  {plural(len(r.items), 'prompt'):>12}  "
              f"~${r.estimate:.3f}  imported {n_done} ok / {n_failed} failed  [{r.target}]")
        if r.error:
            print(f"    {r.error}")
    return 0


def _report(lane: BatchLane, record: BatchRecord) -> int:
    """Print imported turns (stdout: image paths) and return the exit code for this job."""
    store = lane.store
    if record.state == "LOST" or not record.imported:
        if record.state == "LOST":
            print(f"{record.name}: {record.error}", file=sys.stderr)
        else:
            print(f"{record.name} ended {record.short_state}. {record.error}".rstrip(), file=sys.stderr)
        return 1
    failed = 0
    cost = simulated = 0.0
    for item in record.items:
        if item.turn_id is None:
            continue
        turn = store.get_turn(item.turn_id)
        if turn.is_demo:
            simulated += turn.cost
        else:
            cost += turn.cost
        if turn.status != "done":
            failed += 1
            print(f"turn {turn.id} [{item.key}] failed: {turn.error}", file=sys.stderr)
            continue
        for im in turn.final_images:
            print(store.abs_path(im.path))
    ok = len(record.items) - failed
    price = f"demo: ${simulated:.3f} simulated" if simulated and not cost else f"cost ${cost:.3f} (batch price)"
    print(f"{record.name}: imported {plural(ok, 'image turn')}, {failed} failed, {price} "
          f"into project {store.name!r}.", file=sys.stderr)
    return 0 if failed == 0 else 1


async def _wait(lane: BatchLane, record: BatchRecord, interval: float) -> int:
    printer = ProgressPrinter()

    async def ticker() -> None:
        while True:
            await asyncio.sleep(1.0)
            printer.tick()

    clock = asyncio.create_task(ticker())
    try:
        record = await lane.wait(record, interval=interval, progress=printer)
    finally:
        clock.cancel()
        printer.finish()
    return await asyncio.to_thread(_report, lane, record)


async def _main(args: argparse.Namespace, cfg: Config, studio: Any) -> int:
    lane = BatchLane(studio)
    interval = max(0.0, float(args.poll))
    if args.list:
        return await asyncio.to_thread(_print_list, lane)
    if studio.target.vertex:  # said before reading any prompts file
        return error(VERTEX_BATCH_TEXT)
    if args.cancel:
        record = await lane.cancel(lane.get(args.cancel))
        print(cancel_outcome_text(record.name, record.short_state, record.done))
        return 0
    if args.resume:
        pending = lane.unfinished()
        if not pending:
            print(f"No unfinished batch jobs in project {lane.store.name!r}.", file=sys.stderr)
            return 0
        code = 0
        for record in pending:
            print(f"Resuming {record.name} ({plural(len(record.items), 'prompt')}, submitted "
                  f"{_when(record.created_at)} to {record.target})", file=sys.stderr)
            code = max(code, await _wait(lane, record, interval))
        return code
    if not args.source:
        return error("give a prompts file (.txt: one prompt per line; .jsonl: {\"prompt\": ...} per line), "
                     "or --resume / --list.")
    if studio.demo and studio.demo_into_real and not getattr(args, "mix_demo", False):
        return error(f"project {studio.store.name!r} is a real project ({studio.demo_into_real}). Demo turns "
                     "belong in the demo projects folder (the default with --demo); pass --mix-demo to add them "
                     "here anyway (they are marked demo and cost nothing).")
    defaults = settings_from_args(args, cfg.defaults)
    prompts = parse_prompts(Path(args.source), defaults)
    estimate = lane.estimate(prompts)
    verdict = await asyncio.to_thread(check_studio_budget, studio, defaults, len(prompts), batch=True,
                                      estimate=estimate)
    if not verdict.ok and not args.yes:
        print(f"error: {verdict.message}", file=sys.stderr)
        print("Not submitted. Pass --yes to submit anyway, or raise [budget] in the config.", file=sys.stderr)
        return EXIT_BUDGET
    record = await lane.submit(prompts, display_name=args.name or "")
    print(f"Submitted {record.name}: {plural(len(prompts), 'prompt')}, ~${estimate:.3f} at the batch price "
          f"({record.mode_reason or record.input_mode}) to {record.target}. The job id is saved in project "
          f"{lane.store.name!r}.", file=sys.stderr)
    if note := search_price_note(prompts):
        print(f"Note: {note}", file=sys.stderr)
    if args.no_wait:
        if studio.demo:
            print("Note: demo batch jobs live in this process's local server and end with it.", file=sys.stderr)
        print(f"Resume later with: banana-studio batch --resume --project {lane.store.name}", file=sys.stderr)
        print(record.name)
        return 0
    try:
        return await _wait(lane, record, interval)
    except asyncio.CancelledError:
        raise


def run(args: argparse.Namespace) -> int:
    from banana_studio.services import Studio

    cfg = load_config()
    for problem in cfg.problems:
        warning(problem)
    project_dir = Path(args.project_dir).expanduser() if getattr(args, "project_dir", None) else None
    try:
        studio = Studio.open(cfg, project=args.project, project_dir=project_dir, demo=bool(args.demo))
    except ProjectError as exc:
        return error(str(exc))
    if studio.needs_demo:
        from banana_studio.cli.gen import NO_KEY_MESSAGE

        print(NO_KEY_MESSAGE, file=sys.stderr)
        studio.store.close()
        return 2

    async def go() -> int:
        try:
            return await _main(args, cfg, studio)
        finally:
            await studio.aclose()

    started = time.monotonic()
    try:
        return asyncio.run(go())
    except BatchError as exc:
        return error(str(exc), exc.exit_code)
    except ProjectError as exc:
        return error(str(exc))
    except KeyboardInterrupt:
        waited = time.monotonic() - started
        print(f"\nStopped waiting after {waited:.0f} s. Any submitted job keeps running on the server; "
              "resume with: banana-studio batch --resume", file=sys.stderr)
        return 130
