"""Does the reflection memory learn? Self-play success by pass, memory on against off.

Both conditions play the same personas with the same seeds: R replicate runs, each 3 passes over
the persona set (a pass = one dialogue per persona, pass p+1 starting after pass p has written
its lessons). With the memory on, each replicate starts from an empty memory file. The fake world's
personas each warm to one appeal and resent another, drawn from a hash of their description
(gdp_zero.llm.fake_world.taste): outcomes reveal it, nothing in a prompt states it. Prints one
table: success by pass and condition, with Wilson 95% intervals over the dialogues of that cell
(the unit sampled).

    python benchmarks/memory_learning.py --replicates 5 --sims 6 --max-turns 5
    python benchmarks/memory_learning.py --llm local --replicates 1 --sims 1 --samples 2 --max-turns 2

`--llm local` plays on the embedded Gemma 270M instead (its own embedding server gives the memory's
vectors); its personas are the shipped ones, whose tastes the tiny model may or may not act out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from search_speed import fake_server_process, settings_for

from gdp_zero.backends import open_backend
from gdp_zero.domain import SUCCESS
from gdp_zero.factory import ChatOptions
from gdp_zero.intervals import wilson_interval
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import load_records
from gdp_zero.selfplay import SelfPlayRun, run_selfplay

PASSES = 3


async def replicate(settings: LLMSettings, memory_on: bool, seed: int, args: argparse.Namespace, folder: Path) -> list[int]:
    """Successes by pass for one replicate (personas in file order, dialogue i = persona i mod P)."""
    personas = tuple(load_personas([PERSONAS_DIR]))
    search = GDPZeroConfig(simulations=args.sims, prior_samples=args.samples, value_samples=args.samples,
                           realizations=2, seed=seed)
    memory = folder / f"memory-{seed}.sqlite" if memory_on else None
    options = ChatOptions(search=search, max_exchanges=args.max_turns, memory=memory)
    out = folder / f"{'on' if memory_on else 'off'}-{seed}.jsonl"
    client = LLMClient(replace(settings, seed=seed * 7919))
    try:
        for p in range(1, PASSES + 1):  # each pass resumes the run: the earlier passes' lessons are in the memory
            run = SelfPlayRun(f"s{seed}", out, personas, p * len(personas), options, concurrency=len(personas))
            await run_selfplay(run, client)
    finally:
        await client.aclose()
    by_pass = [0] * PASSES
    for record in load_records(out):
        by_pass[record.meta["index"] // len(personas)] += record.end_reason == SUCCESS
    return by_pass


@contextlib.contextmanager
def llm_settings(args: argparse.Namespace) -> Iterator[LLMSettings]:
    """The fake world in a process of its own, or the local model with its embedding server."""
    if args.llm == "local":
        backend = open_backend("local", embeddings=True)
        try:
            yield backend.settings
        finally:
            backend.stop()
        return
    with fake_server_process(args.latency) as base_url:
        yield replace(settings_for(base_url), max_concurrency=32)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1, help="seed 0 was the pilot the memory's settings were chosen on")
    parser.add_argument("--sims", type=int, default=10)
    parser.add_argument("--samples", type=int, default=5, help="prior and value samples")
    parser.add_argument("--max-turns", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--llm", choices=("fake", "local"), default="fake")
    args = parser.parse_args()
    personas = len(load_personas([PERSONAS_DIR]))
    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}, {os.cpu_count()} cores; "
          f"{'fake world' if args.llm == 'fake' else 'local Gemma 3 270M'}; {args.replicates} replicates x {PASSES} passes x {personas} personas; {args.sims} simulations, "
          f"{args.samples} prior/value samples, k = 2, at most {args.max_turns} persuader turns")
    started = time.monotonic()
    totals = {False: [0] * PASSES, True: [0] * PASSES}
    with llm_settings(args) as settings, tempfile.TemporaryDirectory() as folder:
        for seed in range(args.first_seed, args.first_seed + args.replicates):
            for memory_on in (False, True):
                for p, wins in enumerate(await replicate(settings, memory_on, seed, args, Path(folder))):
                    totals[memory_on][p] += wins
    n = args.replicates * personas
    print("| memory | " + " | ".join(f"pass {p + 1} success [95% CI]" for p in range(PASSES)) + " |")
    print("|---|" + "---|" * PASSES)
    for memory_on in (False, True):
        cells = []
        for wins in totals[memory_on]:
            low, high = wilson_interval(wins, n)
            cells.append(f"{wins}/{n} = {wins / n:.0%} [{low:.0%}, {high:.0%}]")
        print(f"| {'on' if memory_on else 'off'} | " + " | ".join(cells) + " |")
    print(f"wall: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
