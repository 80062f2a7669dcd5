"""The open-loop search on the toy world, where the best act is known (no LLM involved)."""

from __future__ import annotations

import random
from collections.abc import Awaitable
from typing import TypeVar

import pytest

from gdp_zero.mcts.config import SearchConfig
from gdp_zero.mcts.model import Evaluation, Transition
from gdp_zero.mcts.search import new_tree, search
from gdp_zero.mcts.scoring import play_dialogue
from gdp_zero.mcts.toy import BEST_ACT, PRIOR_ACT, ToyEnvironment, ToyState
from gdp_zero.mcts.tree import Node, Realization, SearchTree
from tests.reference_mcts import ReferenceOpenLoopMCTS

T = TypeVar("T")


async def run(seed: int, **config) -> tuple[SearchTree, ToyEnvironment]:
    latency = config.pop("latency_s", 0.0)
    env = ToyEnvironment(seed=seed, latency_s=latency)
    tree = await search(env, ToyState(), SearchConfig.published(**({"q0": 0.0} | config)), rng=random.Random(seed))
    return tree, env


async def test_search_finds_the_best_act_the_prior_misses():
    assert PRIOR_ACT != BEST_ACT
    seeds = range(50)
    hits = 0
    for seed in seeds:
        tree, _ = await run(seed, simulations=50)
        hits += tree.chosen_act() == BEST_ACT
        assert max(tree.root.prior, key=tree.root.prior.get) == PRIOR_ACT
    assert hits >= 0.9 * len(seeds), f"picked {BEST_ACT!r} in {hits}/{len(seeds)} seeds"


@pytest.mark.parametrize("concurrency", [1, 6])
async def test_visit_counts_add_up(concurrency):
    tree, _ = await run(3, simulations=40, concurrency=concurrency, latency_s=0.001)
    assert sum(tree.root.child_visits.values()) == 40 == len(tree.simulations)
    for node in tree.root.iter_nodes():
        if node.expanded:
            assert node.visits == sum(node.child_visits.values())
            assert all(v == 0 for v in node.pending_visits.values())
            for act, child in node.children.items():
                assert node.child_visits[act] == sum(r.visits for r in child.realizations)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("concurrency", [1, 8])
async def test_no_node_holds_more_than_k_realizations(k, concurrency):
    tree, _ = await run(5, simulations=60, realizations=k, concurrency=concurrency, latency_s=0.001)
    sizes = [len(node.realizations) for node in tree.root.iter_nodes() if node.path]
    assert max(sizes) == k  # the limit is reached somewhere ...
    assert all(size <= k for size in sizes)  # ... and never exceeded


async def test_q_is_the_mean_of_the_values_backed_up_through_it():
    tree, _ = await run(11, simulations=50, q0=0.25)
    for node in tree.root.iter_nodes():
        for act in node.prior:
            prefix = node.path + (act,)
            values = [s.value for s in tree.simulations if s.path[: len(prefix)] == prefix]
            if values:
                assert node.q(act, tree.q0) == pytest.approx(sum(values) / len(values))
            else:
                assert node.q(act, tree.q0) == 0.25


def test_response_selection_returns_the_realization_with_the_highest_mean_value():
    node = Node(("greeting",))
    node.realizations = [
        Realization(None, "often but mediocre", "", "", visits=10, value_sum=3.0),
        Realization(None, "best mean", "", "", visits=2, value_sum=1.6),
        Realization(None, "never scored", "", "", visits=0, value_sum=0.0),
        Realization(None, "worst", "", "", visits=3, value_sum=-1.5),
    ]
    assert node.best_realization().utterance == "best mean"


async def test_concurrency_one_reproduces_the_sequential_search_exactly():
    for seed in range(5):
        tree, _ = await run(seed, simulations=30, realizations=2, q0=0.25)
        env = ToyEnvironment(seed=seed)
        reference = ReferenceOpenLoopMCTS(env, k=2, q0=0.25, c_puct=1.0, rng=random.Random(seed))
        await reference.run(ToyState(), 30)
        for node in tree.root.iter_nodes():
            if not node.expanded:
                continue
            key = node.path
            assert node.prior == pytest.approx(reference.P[key])
            assert node.value == reference.V[key]
            assert node.child_visits == reference.Nsa[key]
            for act in node.prior:
                assert node.q(act, tree.q0) == pytest.approx(reference.Q[key][act])
        for node in tree.root.iter_nodes():
            if node.path:
                stored = reference.realizations[node.path]
                assert [r.utterance for r in node.realizations] == [t.utterance for t in stored]
                assert [r.visits for r in node.realizations] == [s[0] for s in reference.realization_stats[node.path]]


async def test_concurrent_simulations_overlap_and_cut_wall_time():
    latency = 0.02
    sequential, _ = await run(2, simulations=20, latency_s=latency)
    concurrent, _ = await run(2, simulations=20, concurrency=8, latency_s=latency)
    assert sum(concurrent.root.child_visits.values()) == 20
    # 8 simulations in flight share the latency: well under half of the sequential wall time.
    assert concurrent.seconds < 0.5 * sequential.seconds


async def test_time_budget_stops_launching_and_answers_with_what_it_has():
    latency = 0.05
    tree, _ = await run(1, simulations=500, concurrency=4, latency_s=latency, time_budget_s=6 * latency)
    assert tree.stopped_by == "time_budget"
    assert 0 < len(tree.simulations) < 500
    assert tree.root.child_visits[tree.chosen_act()] >= 1
    assert tree.seconds <= 6 * latency + 3 * latency  # generous: shared CI machines are noisy


async def test_tree_reuse_keeps_statistics_and_saves_simulations():
    env = ToyEnvironment(seed=4)
    config = SearchConfig.published(simulations=40, q0=0.0)
    tree = await search(env, ToyState(), config, rng=random.Random(4))
    act = tree.chosen_act()
    child_visits = tree.root.children[act].visits
    real = Realization(ToyState((act,)), "what the bot said", "what the person said", "positive")
    reused = tree.advance(act, real)
    assert reused is not None and reused.reused_simulations == child_visits > 0
    assert reused.root.path == () and reused.root.realizations == [real]
    assert all(not n.realizations for n in reused.root.iter_nodes() if n.path)  # stale texts dropped
    calls_before = env.evaluations + env.transition_calls
    next_tree = await search(env, real.state, config, rng=random.Random(5), tree=reused)
    assert len(next_tree.simulations) == 40 - child_visits
    assert sum(next_tree.root.child_visits.values()) == 40
    assert env.evaluations + env.transition_calls > calls_before


async def test_a_failing_model_call_propagates_and_leaves_no_phantom_visits():
    class Flaky(ToyEnvironment):
        async def transition(self, state, act):
            if act == "steady":
                raise RuntimeError("endpoint down")
            return await super().transition(state, act)

    tree = new_tree(ToyState(), SearchConfig.published(q0=0.0))
    with pytest.raises(RuntimeError, match="endpoint down"):
        await search(Flaky(seed=0, latency_s=0.001), ToyState(), SearchConfig.published(simulations=30, concurrency=3, q0=0.0),
                     rng=random.Random(0), tree=tree)
    for node in tree.root.iter_nodes():
        assert all(v == 0 for v in node.pending_visits.values())
        assert node.realizations_in_flight == 0


async def test_a_budget_shorter_than_one_simulation_still_waits_for_one():
    latency = 0.03
    tree, _ = await run(2, simulations=50, concurrency=8, latency_s=latency, time_budget_s=0.001)
    assert tree.stopped_by == "time_budget"
    assert len(tree.simulations) >= 1
    assert tree.root.child_visits[tree.chosen_act()] >= 1
    assert all(v == 0 for node in tree.root.iter_nodes() for v in node.pending_visits.values())


@pytest.mark.parametrize("choose_by", ["visits", "value"])
async def test_final_choice_rules(choose_by):
    tree, _ = await run(8, simulations=30, choose_by=choose_by)
    root = tree.root
    visited = [a for a in root.prior if root.child_visits[a]]
    if choose_by == "visits":
        assert root.child_visits[tree.chosen_act()] == max(root.child_visits.values())
    else:
        assert root.q(tree.chosen_act(), tree.q0) == max(root.q(a, tree.q0) for a in visited)


async def test_tree_reuse_over_a_toy_self_play_saves_simulations_and_keeps_the_choice():
    config = SearchConfig.published(simulations=50, q0=0.0)
    fresh_hits = reused_hits = saved = 0
    for seed in range(20):
        fresh = await play_dialogue(ToyEnvironment(seed=seed, turns=3), config, reuse_tree=False, seed=seed)
        fresh_hits += fresh.chosen.count(BEST_ACT)
        carried = await play_dialogue(ToyEnvironment(seed=seed, turns=3), config, reuse_tree=True, seed=seed)
        reused_hits += carried.chosen.count(BEST_ACT)
        saved += sum(carried.reused)
        assert carried.reused[0] == 0 and all(r > 0 for r in carried.reused[1:])
    assert saved > 20 * 2 * 5  # several simulations carried into every later turn
    assert reused_hits >= fresh_hits - 6  # same decisions up to seed noise (60 decisions each)


class CrowdedToy(ToyEnvironment):
    """The toy world, counting the model calls in progress at once: a simulation makes one at a time."""

    busy = peak = 0

    async def _counted(self, call: Awaitable[T]) -> T:
        self.busy += 1
        self.peak = max(self.peak, self.busy)
        try:
            return await call
        finally:
            self.busy -= 1

    async def evaluate(self, state: ToyState) -> Evaluation:
        return await self._counted(super().evaluate(state))

    async def transition(self, state: ToyState, act: str) -> Transition[ToyState]:
        return await self._counted(super().transition(state, act))


@pytest.mark.parametrize("waves, cap", [(1, 30), (2, 15), (3, 10)])
async def test_waves_cap_the_simulations_in_flight_at_n_over_waves(waves, cap):
    config = SearchConfig(simulations=30, concurrency=32, waves=waves, q0=0.0)
    assert config.in_flight == cap
    env = CrowdedToy(seed=1, latency_s=0.005)
    tree = await search(env, ToyState(), config, rng=random.Random(1))
    assert tree.root.visits >= 30
    assert cap // 2 < env.peak <= cap, env.peak  # the first values return before the later simulations are placed
