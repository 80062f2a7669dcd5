"""Sequential vs concurrent GDP-Zero search, against the fake LLM server with a fixed latency L.

Prints one table: wall time per turn in units of L, LLM calls and tokens per turn, for the
published sequential search and the concurrent one, in the same run; decision quality on the
toy world (how often each picks the known best act); a time-budget line; tree reuse over a
5-turn self-play; and the memory of a 200-simulation tree.

    python benchmarks/search_speed.py --latency 0.2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import subprocess
import sys
import urllib.request
import json
import platform
import random
import statistics
import time
import tracemalloc
from dataclasses import replace

from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.settings import load_llm_settings
from gdp_zero.mcts.search import search
from gdp_zero.mcts.scoring import play_dialogue
from gdp_zero.mcts.toy import BEST_ACT, ToyEnvironment, ToyState
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.wording import plural

USER_MESSAGE = "I'm fine. What is this about?"
SECOND_MESSAGE = "I have heard of them. Why should I give money?"


@contextlib.contextmanager
def fake_server_process(latency_s: float):
    """The fake server in its own process, as a real server would be: it must not share our GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "gdp_zero.cli", "fake-server", "--port", str(port), "--latency", str(latency_s)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base_url}/models", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def settings_for(base_url: str, seed: int = 0):
    return load_llm_settings(None, {}, base_url=base_url, api_key="bench", model="fake-model", seed=seed)


async def one_turn(base_url: str, config: GDPZeroConfig, seed: int = 0) -> dict:
    """Wall time, calls and tokens of the turn that answers the person's second message.

    The second, because the first answer can reuse nearly all of the greeting's search (the
    greeting is the only legal opening act), which would flatter tree reuse.
    """
    session = build_session(settings_for(base_url, seed), ChatOptions(search=replace(config, seed=seed)))
    await session.open()
    await session.send(USER_MESSAGE)
    ledger = session.client.ledger
    started = time.monotonic()
    planned = await session.send(SECOND_MESSAGE)
    wall = time.monotonic() - started
    usage = ledger.total(session.log[-1].ledger_turn)
    await session.aclose()
    return {"wall": wall, "planner_wall": planned.seconds, "calls": usage.calls, "prompt": usage.prompt_tokens,
            "completion": usage.completion_tokens, "stopped_by": planned.stopped_by, "simulations": planned.simulations,
            "reused": planned.reused_simulations}


async def mean_turn(base_url: str, config: GDPZeroConfig, repeats: int) -> dict:
    """`one_turn` averaged over dialogues with different seeds: tree shapes vary with the replies."""
    runs = [await one_turn(base_url, config, seed) for seed in range(repeats)]
    keys = ("wall", "calls", "prompt", "completion", "reused")
    return {key: statistics.mean(run[key] for run in runs) for key in keys}


async def selfplay_reuse(base_url: str, config: GDPZeroConfig, turns: int = 5) -> dict:
    """A persona-free self-play: the LLM user simulator answers; the planner reuses its tree."""
    session = build_session(settings_for(base_url), ChatOptions(search=config))
    await session.open()
    saved, walls = [], []
    for _ in range(turns):
        (reply,) = await session.roles.user_simulator.reply(session.dialogue)
        started = time.monotonic()
        planned = await session.send(reply.text or "ok")
        if planned is None:  # the simulated persuadee's reply ended the dialogue
            break
        walls.append(time.monotonic() - started)
        saved.append(planned.reused_simulations)
    await session.aclose()
    return {"saved": saved, "wall": statistics.mean(walls)}


async def toy_quality(config: GDPZeroConfig, seeds: int) -> int:
    """How many seeds pick the toy world's best act, with the search settings of `config`."""
    hits = 0
    search_config = replace(config.search_config(), q0=0.0)
    for seed in range(seeds):
        env = ToyEnvironment(seed=seed, latency_s=0.0005)
        tree = await search(env, ToyState(), search_config, rng=random.Random(seed))
        hits += tree.chosen_act() == BEST_ACT
    return hits


async def toy_reuse(config: GDPZeroConfig, seeds: int, turns: int = 3) -> dict:
    """Toy self-play with and without tree reuse: best-act picks and simulations carried over."""
    search_config = replace(config.search_config(), q0=0.0)
    result = {}
    for reuse in (False, True):
        hits, saved = 0, 0
        for seed in range(seeds):
            played = await play_dialogue(ToyEnvironment(seed=seed, turns=turns), search_config, reuse_tree=reuse, seed=seed)
            hits += played.chosen.count(BEST_ACT)
            saved += sum(played.reused)
        result[reuse] = (hits, saved)
    return result


async def tree_memory(base_url: str, simulations: int) -> tuple[float, float, int]:
    session = build_session(settings_for(base_url), ChatOptions(search=GDPZeroConfig(simulations=simulations, reuse_tree=False)))
    await session.open()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    planned = await session.send(USER_MESSAGE)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    # What the turn left allocated: the tree (kept by the planner for reuse) and its record.
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    nodes = _count_nodes(planned.tree["root"])
    await session.aclose()
    return grown / 2**20, len(json.dumps(planned.tree)) / 2**20, nodes


def _count_nodes(node: dict) -> int:
    return 1 + sum(_count_nodes(c) for c in node["children"])


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the fake server waits per call (L)")
    parser.add_argument("--sims", type=int, nargs="+", default=[10, 30, 50])
    parser.add_argument("--concurrency", type=int, default=GDPZeroConfig().concurrency)
    parser.add_argument("--seeds", type=int, default=100, help="toy-world seeds for decision quality")
    parser.add_argument("--repeats", type=int, default=3, help="dialogues (LLM seeds) averaged per cell")
    parser.add_argument("--skip-sequential", action="store_true", help="only the concurrent rows (the sequential ones take minutes)")
    args = parser.parse_args()
    L = args.latency
    fast = GDPZeroConfig(concurrency=args.concurrency)
    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}; "
          f"L = {L} s per call; k = 3; sequential = the published search (act = most visited); concurrent: "
          f"at most ceil(n / {fast.waves}) and {args.concurrency} simulations in flight, virtual loss 1, act by "
          f"{fast.choose_by} Q (min {fast.min_visits} visits), k utterances per call, prior and value together")
    print()
    print(f"(LLM columns: the reply to the person's second message, mean of {args.repeats} dialogues; a turn includes "
          f"tagging the person's message)")
    print(row("n", "search", "wall / turn (L)", "LLM calls / turn", "prompt tokens / turn", "completion tokens / turn", f"toy: best act picked (of {args.seeds})"))
    print(row(*["---"] * 7))
    with fake_server_process(L) as base_url:
        for n in args.sims:
            variants = (
                ("sequential (published)", GDPZeroConfig.sequential(simulations=n)),
                ("concurrent", replace(fast, simulations=n, reuse_tree=False)),
                ("concurrent + tree reuse" + (" (the default)" if replace(fast, simulations=n) == GDPZeroConfig() else ""),
                 replace(fast, simulations=n)),
            )
            for label, config in variants:
                if args.skip_sequential and not config.concurrency > 1:
                    continue
                result = await mean_turn(base_url, config, args.repeats)
                quality = await toy_quality(config, args.seeds) if "reuse" not in label else "(as above)"
                label += f", {result['reused']:.1f} reused" if config.reuse_tree else ""
                print(row(n, label, f"{result['wall'] / L:.1f}", f"{result['calls']:.0f}", f"{result['prompt']:.0f}",
                          f"{result['completion']:.0f}", quality), flush=True)
        print()
        budget = 3 * L
        result = await one_turn(base_url, replace(fast, simulations=50, time_budget_s=budget))
        print(f"time budget 3 L (n = 50 asked): the planner answered after {result['planner_wall'] / L:.1f} L "
              f"({result['wall'] / L:.1f} L with the tagging of the message before it), "
              f"{plural(result['simulations'], 'simulation')}, stopped by {result['stopped_by']}")
        reuse = await selfplay_reuse(base_url, replace(fast, simulations=20))
        print(f"tree reuse, 5-turn LLM self-play at n = 20: simulations carried over per turn {reuse['saved']} "
              f"(total {sum(reuse['saved'])} of {5 * 20}); mean wall {reuse['wall'] / L:.1f} L per turn")
    for label, config in (("sequential", GDPZeroConfig.sequential(simulations=50)), ("concurrent", replace(fast, simulations=50))):
        toy = await toy_reuse(config, args.seeds)
        turns = 3 * args.seeds
        print(f"tree reuse on the toy world, {label} search, n = 50, 3 turns x {args.seeds} seeds: best act picked "
              f"{toy[False][0]}/{turns} without reuse, {toy[True][0]}/{turns} with reuse, "
              f"which carried over {toy[True][1]} of {turns * 50} simulations")
    with fake_server_process(0.0) as base_url:
        traced, record, nodes = await tree_memory(base_url, 200)
        print(f"memory of one turn's tree at n = 200: {nodes} nodes, {traced:.1f} MiB allocated (tracemalloc), "
              f"{record:.2f} MiB as JSON")


if __name__ == "__main__":
    asyncio.run(main())
