"""The generated family of worlds with known answers: its ranges, its exact solutions and its split."""

from __future__ import annotations

import asyncio
import random
import statistics

import pytest

from gdp_zero.mcts.worlds import (
    ACTS_RANGE,
    HORIZON_RANGE,
    NOISE_RANGE,
    OPTIMUM_RANGE,
    RandomWorld,
    WorldSpec,
    WorldState,
    draw_worlds,
    split,
)

WORLDS = draw_worlds(50)


def optimal_act(spec: WorldSpec, state: WorldState) -> str:
    values = spec.solution[state.warmth, state.turn]
    return max(values, key=values.__getitem__)


def play(world: RandomWorld, policy, rng: random.Random) -> bool:
    state = world.start_state()
    while not world.finished(state):
        state = world.respond(state, policy(state), rng).state
    return world.succeeded(state)


def test_the_generator_is_seeded_and_spans_the_ranges_it_promises():
    assert draw_worlds(50) == WORLDS
    assert draw_worlds(50, seed=1) != WORLDS
    acts = {len(w.acts) for w in WORLDS}
    horizons = {w.horizon for w in WORLDS}
    assert min(acts) == ACTS_RANGE[0] and max(acts) == ACTS_RANGE[1]
    assert min(horizons) == HORIZON_RANGE[0] and max(horizons) == HORIZON_RANGE[1]
    assert all(NOISE_RANGE[0] <= w.value_noise <= NOISE_RANGE[1] for w in WORLDS)
    assert max(w.value_noise for w in WORLDS) - min(w.value_noise for w in WORLDS) > 0.3
    assert min(w.misleading for w in WORLDS) < 0.2 and max(w.misleading for w in WORLDS) > 0.8
    assert all(OPTIMUM_RANGE[0] <= w.optimal_value(w.start, 0) <= OPTIMUM_RANGE[1] for w in WORLDS)
    assert len({w.dynamics for w in WORLDS}) == len(WORLDS)


def test_the_halves_are_disjoint_and_equal():
    tuning, held_out = split(WORLDS)
    assert len(tuning) == len(held_out) == 25
    assert not {w.index for w in tuning} & {w.index for w in held_out}


@pytest.mark.parametrize("spec", WORLDS[:10], ids=lambda w: f"world {w.index}")
def test_every_answer_distribution_sums_to_one_and_stays_in_range(spec: WorldSpec):
    for act in spec.acts:
        for warmth in range(spec.levels):
            answers = spec.outcomes(warmth, act)
            assert sum(o.probability for o in answers) == pytest.approx(1.0)
            assert all(o.probability > 0 and 0 <= o.warmth < spec.levels for o in answers)
            assert not any(o.donated for o in answers) or act.startswith("ask")


@pytest.mark.parametrize("index", [0, 7, 30])
def test_backward_induction_matches_the_success_rate_of_the_optimal_policy(index: int):
    spec = WORLDS[index]
    world, rng, dialogues = RandomWorld(spec), random.Random(index), 20000
    successes = sum(play(world, lambda s: optimal_act(spec, s), rng) for _ in range(dialogues))
    assert successes / dialogues == pytest.approx(spec.optimal_value(spec.start, 0), abs=0.012)
    # and no act repeated forever does better than the optimum
    for act in spec.acts:
        fixed = sum(play(world, lambda s, act=act: act, rng) for _ in range(2000)) / 2000
        assert fixed <= spec.optimal_value(spec.start, 0) + 0.03


def test_a_misleading_prior_favours_an_act_worse_than_the_best():
    misled = [w for w in WORLDS if w.misleading > 0.7]
    assert misled
    for spec in misled:
        prior, values = spec.prior(spec.start, 0), spec.solution[spec.start, 0]
        favourite = max(prior, key=prior.__getitem__)
        assert values[favourite] < max(values.values())


def test_the_search_sees_the_true_value_plus_noise_of_the_promised_size():
    # A world whose start is worth about 0 on the judge's scale, so clipping at ±1 hardly matters.
    spec = next(w for w in WORLDS if abs(2 * w.optimal_value(w.start, 0) - 1) < 0.15 and w.value_noise > 0.3)
    world = RandomWorld(spec, seed=5)
    state = world.start_state()

    async def values() -> list[float]:
        return [(await world.evaluate(state)).value for _ in range(4000)]

    seen = asyncio.run(values())
    true = 2 * spec.optimal_value(state.warmth, state.turn) - 1
    assert statistics.mean(seen) == pytest.approx(true, abs=0.03)
    assert statistics.stdev(seen) == pytest.approx(spec.value_noise, rel=0.2)
