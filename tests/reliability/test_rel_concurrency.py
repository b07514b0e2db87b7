"""Concurrency: several processes generating into one project at once; 200 turns appended concurrently
(two processes × 100 overlapping generations, roots and edits); nothing lost, nothing mixed up."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from rel_common import KEY, check_project, child_env

from banana_studio.fakeserver import FakeGemini
from banana_studio.store import ProjectStore
from banana_studio.store.recipe import read_recipe

DRIVER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from banana_studio.config import Config
    from banana_studio.domain.settings import GenerationSettings
    from banana_studio.services import GenerateRequest, Studio

    root, tag, base_url, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])

    async def main() -> None:
        studio = Studio.open(Config(base_url=base_url, retry_attempts=1), project="shared", project_dir=root)
        settings = GenerationSettings(include_thoughts=False)
        out = []

        async def one(prompt, parent=None):
            events = [ev async for ev in studio.generate(GenerateRequest(prompt=prompt, parent_id=parent,
                                                                         settings=settings))]
            t = events[-1].turn
            out.append({"id": t.id, "prompt": t.prompt, "parent": t.parent_id, "status": t.status,
                        "error": t.error})
            return t

        roots = [await one(f"{tag} root {i}") for i in range(4)]
        sem = asyncio.Semaphore(24)

        async def limited(i):
            async with sem:
                await one(f"{tag} edit {i}", roots[i % 4].id if i % 2 else None)

        await asyncio.gather(*(limited(i) for i in range(n - 4)))
        await studio.aclose()
        print(json.dumps(out))

    asyncio.run(main())
    """
)


def test_two_processes_200_concurrent_turns(tmp_path: Path, fake: FakeGemini) -> None:
    root = tmp_path / "projects"
    ProjectStore.open(root, "shared").close()
    env = child_env(tmp_path, GOOGLE_API_KEY=KEY)
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", DRIVER, str(root), tag, fake.base_url, "100"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for tag in ("A", "B")]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        results.extend(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.monotonic() - t0
    assert len(results) == 200
    bad = [r for r in results if r["status"] != "done"]
    assert bad == []
    ids = sorted(r["id"] for r in results)
    assert ids == list(range(1, 201))  # every turn got its own id, none lost or doubled
    summary = check_project(root / "shared", turns=200)
    assert set(summary["turns"].values()) == {"done"}
    with ProjectStore.open(root, "shared") as store:
        assert store.recovered == []
        nodes = {n.id: n for n in store.tree_index()}
        assert len(nodes) == 200
        finals = set()
        for r in results:
            turn = store.get_turn(r["id"])
            assert turn.prompt == r["prompt"] and turn.parent_id == r["parent"]
            (img,) = turn.final_images
            finals.add(img.path)
            if r["id"] % 20 == 0:  # spot-check: every image knows its own turn
                assert read_recipe(store.abs_path(img.path).read_bytes())["turn_id"] == turn.id
            if r["parent"] is not None:
                # an edit's branch replays to exactly parent + itself, with the parent's signatures
                contents = store.replay_contents(turn.id)
                assert len(contents) == 4
                assert any(p.thought_signature for p in contents[1].parts)
        assert len(finals) == 200  # one distinct file per turn, none overwritten
        by_prompt = {t.prompt for t in (store.get_turn(i) for i in nodes)}
        expected = {f"{tag} root {i}" for tag in "AB" for i in range(4)} | \
                   {f"{tag} edit {i}" for tag in "AB" for i in range(96)}
        assert by_prompt == expected
    # The fake saw exactly 200 generations (no hidden retries), each answered.
    assert sum(1 for r in fake.requests if "enerateContent" in r.path) == 200
    assert elapsed < 90


def test_two_gen_cli_processes_at_once(tmp_path: Path) -> None:
    with FakeGemini(latency=0.25, small=True) as slow:
        env = child_env(tmp_path, GOOGLE_API_KEY=KEY, GOOGLE_GEMINI_BASE_URL=slow.base_url)
        cmd = [sys.executable, "-m", "banana_studio", "gen", "--project-dir", str(tmp_path / "p"), "--project", "two"]
        procs = [subprocess.Popen([*cmd, f"process {i} painting"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env) for i in range(2)]
        end = time.monotonic() + 30
        while sum(1 for r in slow.requests if "enerateContent" in r.path) < 2 and time.monotonic() < end:
            time.sleep(0.02)
        # both requests are in flight while both processes are still streaming: they really overlap
        overlapped = [p.poll() for p in procs] == [None, None]
        outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert Path(out.strip()).is_file()
    assert overlapped
    summary = check_project(tmp_path / "p" / "two", turns=2)
    assert set(summary["turns"].values()) == {"done"}
