"""Debate value against the published value: which better predicts how the dialogue ends, at what cost.

1. Self-play on the fake world (published value, the persona set, a few passes) gives dialogues
   and their final outcomes (success = the persuadee donated).
2. At every state the planner decided in (the dialogue before each persuader turn after the
   opening), each value source is asked once: the published one (the simulated persuadee answers
   the value question `samples` times) and the debate (advocates for and against, R rounds, then
   the judge answers `samples` times).
3. How well each value predicts the final outcome over those states: AUC (the chance a state of
   a successful dialogue gets a higher value than one of a failed dialogue) and the Brier score of
   p = (value + 1) / 2, with 95% intervals from a bootstrap over dialogues (states of one dialogue
   are not independent). Nothing is tuned on these states: both sources run at their defaults.
4. Cost per decision: one planner turn with each value source (the same search otherwise) against
   the fake server answering every call after L seconds: LLM calls and wall time in units of L.

    python benchmarks/debate_value.py --dialogues 20 --rounds 1
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

import numpy as np
from search_speed import USER_MESSAGE, fake_server_process, settings_for

from gdp_zero.domain import SUCCESS, load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import load_records
from gdp_zero.roles.debate import DebateJudge
from gdp_zero.roles.judge import Judge
from gdp_zero.selfplay import SelfPlayRun, run_selfplay

BOOTSTRAP = 2000


def auc(values: np.ndarray, outcomes: np.ndarray) -> float:
    wins, losses = values[outcomes == 1], values[outcomes == 0]
    if not len(wins) or not len(losses):
        return float("nan")
    greater = (wins[:, None] > losses[None, :]).sum() + 0.5 * (wins[:, None] == losses[None, :]).sum()
    return float(greater / (len(wins) * len(losses)))


def brier(values: np.ndarray, outcomes: np.ndarray) -> float:
    return float(np.mean(((values + 1) / 2 - outcomes) ** 2))


def with_interval(metric, groups: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator) -> str:  # type: ignore[no-untyped-def]
    """The metric over all states, and its 95% bootstrap interval resampling dialogues."""
    point = metric(np.concatenate([g[0] for g in groups]), np.concatenate([g[1] for g in groups]))
    draws = []
    for _ in range(BOOTSTRAP):
        picked = [groups[i] for i in rng.integers(0, len(groups), len(groups))]
        draws.append(metric(np.concatenate([g[0] for g in picked]), np.concatenate([g[1] for g in picked])))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


async def play(base_url: str, dialogues: int, folder: Path, args: argparse.Namespace) -> list:
    search = GDPZeroConfig(simulations=args.sims, prior_samples=args.samples, value_samples=args.samples, seed=0)
    run = SelfPlayRun("states", folder / "states.jsonl", tuple(load_personas([PERSONAS_DIR])), dialogues,
                      ChatOptions(search=search, max_exchanges=args.max_turns), concurrency=5)
    client = LLMClient(settings_for(base_url, seed=11))
    try:
        await run_selfplay(run, client)
    finally:
        await client.aclose()
    return load_records(run.out)


async def values_at_states(base_url: str, records: list, args: argparse.Namespace) -> dict[str, list]:
    domain = load_domain()
    client = LLMClient(settings_for(base_url, seed=23), UsageLedger())
    judge = Judge(client, domain, samples=args.samples)
    debate = DebateJudge(client, domain, rounds=args.rounds, samples=args.samples)
    groups: dict[str, list] = {"published": [], "debate": []}
    try:
        for record in records:
            success = int(record.end_reason == SUCCESS)
            states = [replace(record, turns=record.turns[:i]).dialogue
                      for i, t in enumerate(record.turns) if t.speaker == "system" and i > 0]
            published = await asyncio.gather(*(judge.value(s) for s in states))
            debated = await asyncio.gather(*(debate.debate(s) for s in states))
            outcomes = np.full(len(states), success)
            groups["published"].append((np.array([p.value for p in published]), outcomes))
            groups["debate"].append((np.array([d.value for d in debated]), outcomes))
    finally:
        await client.aclose()
    return groups


async def cost_per_decision(latency: float, value: str, args: argparse.Namespace) -> tuple[float, float]:
    """LLM calls and wall time / L of the turn answering the person's second message (as search_speed)."""
    with fake_server_process(latency) as base_url:
        config = GDPZeroConfig(simulations=args.sims, prior_samples=args.samples, value_samples=args.samples, seed=0,
                               value=value, debate_rounds=args.rounds)
        session = build_session(settings_for(base_url), ChatOptions(search=config))
        try:
            await session.open()
            await session.send(USER_MESSAGE)
            mark = session.client.ledger.mark()
            started = time.monotonic()
            await session.send("Tell me more about what they do.")
            wall = time.monotonic() - started
            calls = sum(u.calls for u in session.client.ledger.since(mark).values())
        finally:
            await session.aclose()
    return calls, wall / latency


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dialogues", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=10, help="value samples (both sources) and prior samples")
    parser.add_argument("--sims", type=int, default=10)
    parser.add_argument("--max-turns", type=int, default=6)
    parser.add_argument("--latency", type=float, default=0.2, help="L for the cost rows")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.system()}, Python {platform.python_version()}, {os.cpu_count()} cores; "
          f"fake world; {args.dialogues} self-play dialogues, {args.sims} simulations, {args.samples} samples, "
          f"debate {args.rounds} round(s); intervals: bootstrap over dialogues ({BOOTSTRAP} draws)")
    rng = np.random.default_rng(0)
    with fake_server_process(0.0) as base_url, tempfile.TemporaryDirectory() as folder:
        records = await play(base_url, args.dialogues, Path(folder), args)
        groups = await values_at_states(base_url, records, args)
    states = sum(len(g[0]) for g in groups["published"])
    successes = sum(r.end_reason == SUCCESS for r in records)
    print(f"{len(records)} dialogues ({successes} successful), {states} states")
    costs = {value: await cost_per_decision(args.latency, value, args) for value in ("persuadee", "debate")}
    print("| value | AUC [95% CI] | Brier [95% CI] | LLM calls / decision | wall / decision (L) |")
    print("|---|---|---|---|---|")
    for name, value in (("published (persuadee)", "persuadee"), (f"debate, {args.rounds} round(s)", "debate")):
        key = "published" if value == "persuadee" else "debate"
        calls, wall = costs[value]
        print(f"| {name} | {with_interval(auc, groups[key], rng)} | {with_interval(brier, groups[key], rng)} "
              f"| {calls:.0f} | {wall:.1f} |")


if __name__ == "__main__":
    asyncio.run(main())
