"""In demo mode (the fake LLM server), the act the planner takes was tried more than once.

Issue 18: with every simulation in flight at once and the highest Q winning, the demo's chosen act
had N <= 1 in 16 of 44 planned turns. Twenty self-play dialogues of up to ten persuader turns run
the whole pipeline (the real `openai` client against the fake server over HTTP) with the default
rule and in-flight cap; at n = 10, a third of the default's simulations, since fewer simulations
make a second visit harder to come by, not easier.
"""

from __future__ import annotations

from pathlib import Path

from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import PlannerTurn, load_records
from gdp_zero.selfplay import SelfPlayRun, run_selfplay

DIALOGUES, TURNS = 20, 10


async def planned_turns(config: GDPZeroConfig, make_settings, out: Path) -> list[PlannerTurn]:
    with FakeLLMServer() as server:
        client = LLMClient(make_settings(server.base_url))
        run = SelfPlayRun("demo", out, tuple(load_personas([PERSONAS_DIR])), DIALOGUES,
                          ChatOptions(search=config, max_exchanges=TURNS), concurrency=10)
        try:
            await run_selfplay(run, client)
        finally:
            await client.aclose()
    return [t.planned for r in load_records(out) for t in r.turns if t.planned is not None and t.planned.tree]


async def test_the_chosen_act_has_at_least_two_visits_in_nine_turns_of_ten(make_settings, tmp_path: Path):
    config = GDPZeroConfig(simulations=10, seed=0)
    turns = await planned_turns(config, make_settings, tmp_path / "demo.jsonl")
    visits = [turn.tree["root"]["child_visits"].get(turn.act, 0) for turn in turns]
    assert len(turns) >= DIALOGUES
    assert all(turn.tree["choose_by"] == config.choose_by for turn in turns)
    assert sum(n >= 2 for n in visits) >= 0.9 * len(visits), f"{sum(n >= 2 for n in visits)} of {len(visits)}"
