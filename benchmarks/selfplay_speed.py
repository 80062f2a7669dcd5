"""Self-play throughput: dialogues per minute at 1, 8 and 32 dialogues at once.

Against the fake LLM server in its own process answering every call after a fixed latency L,
with the default GDP-Zero search (GDPZeroConfig(); the first line printed names its settings)
and the default client limit of 32 requests in flight shared by all dialogues; the last row
raises that limit to show what it costs. Prints one table.

    python benchmarks/selfplay_speed.py --latency 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from search_speed import fake_server_process, settings_for

from gdp_zero.evaluation.summary import summarize_run
from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import load_records
from gdp_zero.selfplay import SelfPlayRun, run_selfplay


async def measure(base_url: str, concurrency: int, dialogues: int, max_turns: int, limit: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bench.jsonl"
        run = SelfPlayRun(
            name="bench", out=out, personas=tuple(load_personas([PERSONAS_DIR])), dialogues=dialogues,
            options=ChatOptions(search=GDPZeroConfig(seed=0), max_exchanges=max_turns), concurrency=concurrency,
        )
        client = LLMClient(replace(settings_for(base_url), max_concurrency=limit))
        started = time.monotonic()
        try:
            await run_selfplay(run, client)
        finally:
            await client.aclose()
        wall = time.monotonic() - started
        summary = summarize_run("bench", load_records(out))
    return {"wall": wall, "per_minute": dialogues / wall * 60, "calls": summary.calls_per_dialogue,
            "turns": summary.average_turns}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the fake server waits per call (L)")
    parser.add_argument("--max-turns", type=int, default=5, help="persuader turns per dialogue at most")
    args = parser.parse_args()
    search = GDPZeroConfig()
    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} cores; L = {args.latency} s; at most {args.max_turns} persuader turns per dialogue; "
          f"search: {search.simulations} simulations, {search.concurrency} in flight, k = {search.realizations}, "
          f"{search.prior_samples} prior and {search.value_samples} value samples")
    print("| dialogues at once | client limit (requests in flight) | dialogues | wall (s) | dialogues / minute "
          "| planner LLM calls / dialogue | avg turns |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    with fake_server_process(args.latency) as base_url:
        for concurrency, limit in ((1, 32), (8, 32), (32, 32), (32, 128)):
            dialogues = max(4, 2 * concurrency)
            r = await measure(base_url, concurrency, dialogues, args.max_turns, limit)
            print(f"| {concurrency} | {limit} | {dialogues} | {r['wall']:.1f} | {r['per_minute']:.1f} "
                  f"| {r['calls']:.0f} | {r['turns']:.1f} |", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
