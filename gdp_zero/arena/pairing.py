"""Which two contestants meet next: every pair gets votes, the pairs with few votes more often.

A pair with n votes so far is drawn with weight 1 / (1 + n), then its sides are shuffled (which one
is "A" says nothing about it). The `Draw` keeps everything the choice depended on, so each vote can
say how likely its pair was (e.g. to weight votes by the inverse of that probability).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any


def pair_key(first: str, second: str) -> str:
    """One name for a pair, whichever side each contestant took: "x vs y", sorted."""
    low, high = sorted((first, second))
    return f"{low} vs {high}"


@dataclass(frozen=True)
class Draw:
    a: str  # shown as "A"
    b: str  # shown as "B"
    probability: float  # of drawing this pair (either side order)
    votes_before: dict[str, int]  # pair key -> votes when the draw was made
    weights: dict[str, float]  # pair key -> its weight in the draw

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pair_weights(names: Sequence[str], votes: Mapping[str, int]) -> dict[str, float]:
    """Each pair's weight in the next draw: 1 / (1 + its votes so far)."""
    return {pair_key(x, y): 1.0 / (1 + votes.get(pair_key(x, y), 0)) for x, y in itertools.combinations(sorted(names), 2)}


def draw_pair(names: Sequence[str], votes: Mapping[str, int], rng: random.Random) -> Draw:
    """Two different contestants; `votes` maps pair keys to their votes so far (missing: none)."""
    if len(set(names)) < 2:
        raise ValueError("an arena needs at least two contestants")
    weights = pair_weights(names, votes)
    keys = list(weights)
    key = rng.choices(keys, weights=[weights[k] for k in keys])[0]
    first, second = key.split(" vs ")
    if rng.random() < 0.5:
        first, second = second, first
    total = sum(weights.values())
    return Draw(first, second, weights[key] / total, {k: votes.get(k, 0) for k in keys}, weights)
