"""The known-answer persuasion world, its exact solution, the scorer and the virtual clock."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from gdp_zero.mcts.known_world import (
    ACTS,
    PRIOR_ACT,
    PROPOSITION,
    START_WARMTH,
    TURN_LIMIT,
    WARMEST,
    KnownPersuasionWorld,
    PersuadeeState,
    optimal_act_values,
    optimal_value,
    outcomes,
)
from gdp_zero.mcts.scoring import play_dialogue, score_setting
from gdp_zero.mcts.config import SearchConfig
from gdp_zero.mcts.virtual_clock import run_with_virtual_clock

STATES = [(w, t) for w in range(WARMEST + 1) for t in range(TURN_LIMIT)]


def play(world: KnownPersuasionWorld, policy, rng: random.Random) -> bool:
    state = world.start_state()
    while not world.finished(state):
        state = world.respond(state, policy(state), rng).state
    return world.succeeded(state)


def optimal_policy(state: PersuadeeState) -> str:
    values = optimal_act_values(state.warmth, state.turn)
    return max(values, key=values.__getitem__)


@pytest.mark.parametrize("warmth", range(WARMEST + 1))
@pytest.mark.parametrize("act", ACTS)
def test_every_answer_distribution_sums_to_one_and_only_warm_persuadees_donate(warmth, act):
    answers = outcomes(warmth, act)
    assert sum(o.probability for o in answers) == pytest.approx(1.0)
    assert all(0 <= o.warmth <= WARMEST for o in answers)
    donates = sum(o.probability for o in answers if o.donated)
    assert donates == 0 or (act == PROPOSITION and warmth >= 3)


def test_value_iteration_matches_the_success_rate_of_the_optimal_policy():
    world, rng, dialogues = KnownPersuasionWorld(), random.Random(0), 20000
    successes = sum(play(world, optimal_policy, rng) for _ in range(dialogues))
    assert successes / dialogues == pytest.approx(optimal_value(START_WARMTH, 0), abs=0.015)


def test_no_simple_policy_beats_the_optimum():
    world, rng = KnownPersuasionWorld(), random.Random(1)
    best = optimal_value(START_WARMTH, 0)
    for act in ACTS:
        rate = sum(play(world, lambda s, act=act: act, rng) for _ in range(3000)) / 3000
        assert rate < best - 0.1  # always the same act is far from optimal
    ask_when_warm = sum(play(world, lambda s: PROPOSITION if s.warmth >= 3 else PRIOR_ACT, rng) for _ in range(3000))
    assert ask_when_warm / 3000 < best - 0.1


def test_the_prior_favours_an_act_that_is_rarely_best():
    best_in = [(w, t) for w, t in STATES if optimal_policy(PersuadeeState(w, t)) == PRIOR_ACT]
    assert len(best_in) <= 0.15 * len(STATES)
    assert all(optimal_value(w, t) < 0.15 for w, t in best_in)  # only where the dialogue is nearly lost


def test_values_seen_by_the_search_are_the_optimal_value_plus_noise():
    world = KnownPersuasionWorld(seed=3, value_noise=0.3)
    state = PersuadeeState(warmth=2, turn=3)  # a value near 0: clipping to [-1, 1] does not bias it
    values = [run_with_virtual_clock(world.evaluate(state)).value for _ in range(2000)]
    assert sum(values) / len(values) == pytest.approx(2 * optimal_value(2, 3) - 1, abs=0.03)
    assert max(values) - min(values) > 1.0  # noisy, as an LLM judge is


def test_a_dialogue_ends_by_donation_or_turn_limit_and_regret_is_measured_against_the_optimum():
    config = SearchConfig.published(simulations=20, q0=0.25, concurrency=4)
    for seed in range(10):
        played = run_with_virtual_clock(play_dialogue(KnownPersuasionWorld(seed=seed, latency_s=1.0), config,
                                                      reuse_tree=True, seed=seed))
        assert 1 <= len(played.chosen) <= TURN_LIMIT
        assert played.succeeded or len(played.chosen) == TURN_LIMIT
        assert all(r >= 0 for r in played.regrets)
        assert all(s > 0 for s in played.decision_seconds)


def test_a_bigger_search_scores_better_and_the_intervals_hold_the_estimates():
    def world(seed: int) -> KnownPersuasionWorld:
        return KnownPersuasionWorld(seed=seed, latency_s=1.0)

    small = run_with_virtual_clock(score_setting(world, SearchConfig.published(simulations=1, q0=0.0), reuse_tree=False, dialogues=150))
    large = run_with_virtual_clock(score_setting(world, SearchConfig.published(simulations=60, q0=0.25), reuse_tree=False,
                                                 dialogues=150))
    for score in (small, large):
        assert score.dialogues == 150
        assert score.success.low <= score.success.mean <= score.success.high
        assert score.regret_per_turn.low < score.regret_per_turn.mean < score.regret_per_turn.high
    assert large.regret_per_turn.high < small.regret_per_turn.low
    # The published search waits for each call: 60 simulations take far longer than one.
    assert large.seconds_per_decision > 20 * small.seconds_per_decision


def test_the_virtual_clock_keeps_concurrency_and_does_not_sleep():
    async def overlapped() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(asyncio.sleep(d) for d in (3.0, 1.0, 2.0)))
        parallel = loop.time()
        for d in (1.0, 2.0):
            await asyncio.sleep(d)
        return parallel, loop.time()

    started = time.monotonic()
    assert run_with_virtual_clock(overlapped()) == (3.0, 6.0)
    assert time.monotonic() - started < 1.0
