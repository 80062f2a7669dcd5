"""The Gumbel root's defining properties, on the toy and known-answer worlds (no LLM involved).

Searches run on a virtual-clock loop: world latencies are exact, so round timings are checkable.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from gdp_zero.mcts.gumbel import completed_sigma, halving_schedule
from gdp_zero.mcts.known_world import KnownPersuasionWorld
from gdp_zero.mcts.scoring import play_dialogue
from gdp_zero.mcts.config import SearchConfig, checked
from gdp_zero.mcts.search import search
from gdp_zero.mcts.toy import BEST_ACT, QUALITY, ToyEnvironment
from gdp_zero.mcts.tree import Node
from gdp_zero.mcts.virtual_clock import run_with_virtual_clock

L = 1.0  # virtual seconds per LLM-like call


def gumbel_search(seed: int, world=None, **config):
    world = world or ToyEnvironment(seed=seed, latency_s=L)
    settings = SearchConfig.published(**({"q0": 0.0, "root": "gumbel"} | config))
    return run_with_virtual_clock(search(world, world.start_state(), settings, rng=random.Random(seed)))


def mctx_considered_visits(max_num_considered_actions: int, num_simulations: int) -> tuple[int, ...]:
    """mctx's seq_halving.get_sequence_of_considered_visits, transcribed as the oracle."""
    if max_num_considered_actions <= 1:
        return tuple(range(num_simulations))
    log2max = int(math.ceil(math.log2(max_num_considered_actions)))
    sequence = []
    visits = [0] * max_num_considered_actions
    num_considered = max_num_considered_actions
    while len(sequence) < num_simulations:
        num_extra_visits = max(1, int(num_simulations / (log2max * num_considered)))
        for _ in range(num_extra_visits):
            sequence.extend(visits[:num_considered])
            for i in range(num_considered):
                visits[i] += 1
        num_considered = max(2, num_considered // 2)
    return tuple(sequence[:num_simulations])


@pytest.mark.parametrize("considered", [2, 5])
def test_with_one_simulation_the_choice_is_the_argmax_of_gumbel_plus_log_prior(considered):
    for seed in range(30):
        tree = gumbel_search(seed, simulations=1, considered_acts=considered)
        root = tree.root
        expected = max(root.prior, key=lambda a: tree.gumbel[a] + math.log(root.prior[a]))
        assert tree.chosen_act() == expected
        assert sum(root.child_visits.values()) == 1 and root.child_visits[expected] == 1


def test_with_all_acts_and_enough_simulations_it_finds_the_best_act_the_prior_misses():
    hits = sum(
        gumbel_search(seed, simulations=1000, considered_acts=len(QUALITY), concurrency=16).chosen_act() == BEST_ACT
        for seed in range(50)
    )
    assert hits >= 45, f"picked {BEST_ACT!r} in {hits}/50 seeds"


@pytest.mark.parametrize("simulations", [1, 2, 3, 7, 10, 16, 20, 33, 50, 64, 100, 200])
@pytest.mark.parametrize("considered", [1, 2, 3, 4, 5, 8, 13, 16])
def test_rounds_follow_sequential_halving_as_mctx_schedules_it(simulations, considered):
    rounds = halving_schedule(simulations, considered)
    assert sum(r.simulations for r in rounds) == simulations
    assert [r.considered for r in rounds] == sorted({r.considered for r in rounds}, reverse=True)  # halving only
    # Per-act visits if each round gives its acts equal shares, spares to the best-ranked acts:
    visits = [0] * considered
    for r in rounds:
        for i in range(r.simulations):
            visits[i % r.considered] += 1
    # mctx's sequence says, for each visit level v, how many acts reach v + 1 visits.
    sequence = mctx_considered_visits(considered, simulations)
    for level in range(max(visits)):
        assert sum(v > level for v in visits) == sequence.count(level)


def test_known_schedules():
    assert [(r.considered, r.simulations) for r in halving_schedule(10, 4)] == [(4, 4), (2, 6)]
    assert [(r.considered, r.simulations) for r in halving_schedule(200, 16)] == [(16, 48), (8, 48), (4, 48), (2, 56)]


def test_search_runs_the_schedule_and_halves_by_score():
    tree = gumbel_search(3, simulations=50, considered_acts=4, concurrency=8)
    planned = halving_schedule(50, 4)
    assert [len(r.acts) for r in tree.rounds] == [r.considered for r in planned]
    assert [r.simulations for r in tree.rounds] == [r.finished for r in tree.rounds] == [r.simulations for r in planned]
    for earlier, later in zip(tree.rounds, tree.rounds[1:]):
        assert set(later.acts) <= set(earlier.acts)
        assert later.started_s >= earlier.ended_s  # a round starts when the last one has ended
    assert tree.chosen_act() in tree.rounds[-1].acts
    assert sum(tree.root.child_visits.values()) == 50


def test_sigma_is_mctx_completed_q_by_mixed_value():
    node = Node(())
    node.prior = {"a": 0.5, "b": 0.3, "c": 0.2}
    node.value = 0.1
    node.child_visits = {"a": 3, "b": 1, "c": 0}
    node.value_sums = {"a": 1.2, "b": -0.5, "c": 0.0}
    # mctx, vectorised: qtransform_completed_by_mix_value(value_scale=0.1, maxvisit_init=50, rescale_values=True).
    prior, visits = np.array([0.5, 0.3, 0.2]), np.array([3, 1, 0])
    q = np.array([0.4, -0.5, 0.0])
    visited = visits > 0
    weighted_q = np.sum(np.where(visited, prior * q / np.sum(np.where(visited, prior, 0.0)), 0.0))
    mixed = (0.1 + visits.sum() * weighted_q) / (visits.sum() + 1)
    completed = np.where(visited, q, mixed)
    completed = (completed - completed.min()) / max(completed.max() - completed.min(), 1e-8)
    expected = (50 + visits.max()) * 0.1 * completed
    assert list(completed_sigma(node).values()) == pytest.approx(list(expected))


@pytest.mark.parametrize("make_world", [lambda s: ToyEnvironment(seed=s, latency_s=L, horizon=6),
                                        lambda s: KnownPersuasionWorld(seed=s, latency_s=L)])
@pytest.mark.parametrize("budget", [5, 8, 12, 20])
def test_with_a_time_budget_no_round_is_launched_that_cannot_finish(make_world, budget):
    for seed in range(20):
        tree = gumbel_search(seed, world=make_world(seed), simulations=1000, considered_acts=6, concurrency=16,
                             time_budget_s=budget * L)
        assert tree.stopped_by == "time_budget"
        assert tree.seconds <= budget * L
        for r in tree.rounds:
            assert r.finished == r.simulations and r.ended_s <= budget * L  # launched, so finished in time
        assert sum(r.simulations for r in tree.rounds) < 1000  # the budget, not n, sized the rounds


def test_a_budget_that_is_never_reached_loses_no_simulation_to_the_round_that_times_the_calls():
    unbounded = gumbel_search(2, simulations=200, considered_acts=5, concurrency=4)
    budgeted = gumbel_search(2, simulations=200, considered_acts=5, concurrency=4, time_budget_s=1000 * L)
    assert budgeted.seconds < 1000 * L
    assert (len(budgeted.simulations), budgeted.stopped_by) == (len(unbounded.simulations), "simulations") == (200, "simulations")
    assert budgeted.rounds[0].simulations == 5  # one visit per act: the calls are timed


def test_a_budget_shorter_than_one_simulation_still_answers_after_one():
    tree = gumbel_search(1, simulations=100, considered_acts=4, concurrency=16, time_budget_s=0.5 * L)
    assert tree.stopped_by == "time_budget"
    assert sum(tree.root.child_visits.values()) >= 1
    assert tree.root.child_visits[tree.chosen_act()] >= 1
    assert all(v == 0 for node in tree.root.iter_nodes() for v in node.pending_visits.values())


def test_tree_reuse_carries_visits_into_the_next_gumbel_search():
    config = SearchConfig.published(simulations=40, root="gumbel", considered_acts=5, concurrency=8, q0=0.0)
    for seed in range(5):
        world = ToyEnvironment(seed=seed, latency_s=L, turns=3)
        played = run_with_virtual_clock(play_dialogue(world, config, reuse_tree=True, seed=seed))
        assert played.reused[0] == 0 and all(r > 0 for r in played.reused[1:])
        assert [s + r for s, r in zip(played.simulations, played.reused)] == [40, 40, 40]


def test_the_gumbel_root_is_rejected_with_bad_settings():
    with pytest.raises(ValueError, match="root: must be one of puct, gumbel"):
        checked(SearchConfig, root="ucb")
    with pytest.raises(ValueError, match="considered_acts"):
        checked(SearchConfig, root="gumbel", considered_acts=0)
    with pytest.raises(ValueError, match="gumbel_scale"):
        checked(SearchConfig, root="gumbel", gumbel_scale=-1)
