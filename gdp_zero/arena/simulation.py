"""Votes of a simulated crowd with known strengths: to check the leaderboard, and to plan how many votes a study needs.

Pairs are drawn as the arena draws them (gdp_zero.arena.pairing); each vote is won with the
Bradley–Terry probability of the true ratings (Elo scale), or is a tie with probability `tie_share`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

import pandas as pd

from gdp_zero.arena.leaderboard import VOTE_COLUMNS
from gdp_zero.arena.pairing import draw_pair, pair_key


def simulated_votes(true_ratings: Mapping[str, float], votes: int, seed: int, tie_share: float = 0.0) -> pd.DataFrame:
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    rows = []
    for _ in range(votes):
        draw = draw_pair(list(true_ratings), counts, rng)
        key = pair_key(draw.a, draw.b)
        counts[key] = counts.get(key, 0) + 1
        p_a = 1 / (1 + 10 ** ((true_ratings[draw.b] - true_ratings[draw.a]) / 400))
        winner = "tie" if rng.random() < tie_share else ("a" if rng.random() < p_a else "b")
        rows.append((draw.a, draw.b, winner))
    return pd.DataFrame(rows, columns=list(VOTE_COLUMNS))
