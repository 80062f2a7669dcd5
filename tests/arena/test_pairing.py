"""Pair draws: weighted towards pairs with few votes, sides shuffled, the draw's probability recorded."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gdp_zero.arena.pairing import draw_pair, pair_key, pair_weights

NAMES = ["x", "y", "z"]


def test_a_pair_with_many_votes_is_drawn_less_often_with_the_recorded_probability():
    votes = {pair_key("x", "y"): 9}  # the other two pairs have none
    rng = random.Random(1)
    draws = [draw_pair(NAMES, votes, rng) for _ in range(4000)]
    drawn = Counter(pair_key(d.a, d.b) for d in draws)
    expected = 0.1 / (0.1 + 1 + 1)  # weights 1/(1+9), 1, 1
    assert drawn["x vs y"] / len(draws) == pytest.approx(expected, abs=0.015)
    assert all(d.probability == pytest.approx(expected) for d in draws if pair_key(d.a, d.b) == "x vs y")
    assert draws[0].votes_before == {"x vs y": 9, "x vs z": 0, "y vs z": 0}
    # Which contestant is A is a coin flip.
    first_is_x = sum(d.a == "x" for d in draws if pair_key(d.a, d.b) == "x vs z")
    assert first_is_x / drawn["x vs z"] == pytest.approx(0.5, abs=0.05)


def test_the_draw_is_reproducible_and_never_pairs_a_contestant_with_itself():
    first = [draw_pair(NAMES, {}, random.Random(7)) for _ in range(3)]
    again = [draw_pair(NAMES, {}, random.Random(7)) for _ in range(3)]
    assert first == again
    assert all(d.a != d.b for d in first)
    assert pair_weights(NAMES, {}) == {"x vs y": 1.0, "x vs z": 1.0, "y vs z": 1.0}
    with pytest.raises(ValueError, match="at least two contestants"):
        draw_pair(["x"], {}, random.Random(0))
