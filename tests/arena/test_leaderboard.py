"""Bradley–Terry ratings: the fit equals independent computations, the bootstrap is seeded, a simulated crowd is ranked right."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from gdp_zero.arena.leaderboard import (
    ELO_SCALE,
    MEAN_RATING,
    RATING_BOUND,
    VotesError,
    leaderboard,
)
from gdp_zero.arena.report import unbounded_text
from gdp_zero.arena.simulation import simulated_votes

# A fixed vote table: four contestants, every pair met, wins, ties and "both bad" in it.
FIXED = [
    ("x", "y", "a", 7), ("x", "y", "b", 3), ("y", "x", "a", 2), ("x", "y", "tie", 2),
    ("x", "z", "a", 9), ("z", "x", "a", 3), ("x", "z", "both_bad", 1),
    ("x", "w", "a", 6), ("w", "x", "a", 4), ("w", "x", "tie", 3),
    ("y", "z", "a", 5), ("y", "z", "b", 5), ("z", "y", "tie", 1),
    ("y", "w", "a", 4), ("w", "y", "a", 6),
    ("z", "w", "a", 3), ("z", "w", "b", 8), ("w", "z", "both_bad", 2),
]


def fixed_votes() -> pd.DataFrame:
    rows = [(a, b, winner) for a, b, winner, count in FIXED for _ in range(count)]
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


def statsmodels_ratings(votes: pd.DataFrame) -> dict[str, float]:
    """The same model as a logistic regression without intercept, fitted by statsmodels on duplicated rows:
    a win is one row (winner +1, loser -1, outcome 1); a tie is two rows of weight 1/2, one won by each side.
    The first contestant is the reference (its column dropped); ratings are then centred on 1000."""
    names = sorted(set(votes["model_a"]) | set(votes["model_b"]))
    design, outcome, weight = [], [], []
    for a, b, winner in votes.itertuples(index=False):
        row = np.zeros(len(names))
        row[names.index(a)], row[names.index(b)] = 1.0, -1.0
        if winner in ("a", "b"):
            design.append(row), outcome.append(1.0 if winner == "a" else 0.0), weight.append(1.0)
        else:
            design += [row, row]
            outcome += [1.0, 0.0]
            weight += [0.5, 0.5]
    x = np.array(design)[:, 1:]
    fit = sm.GLM(np.array(outcome), x, family=sm.families.Binomial(), freq_weights=np.array(weight)).fit(tol=1e-12)
    strengths = np.concatenate(([0.0], fit.params))
    return dict(zip(names, MEAN_RATING + ELO_SCALE * (strengths - strengths.mean())))


def test_the_fit_equals_statsmodels_logistic_regression_on_the_same_design():
    board = leaderboard(fixed_votes(), rounds=10)
    expected = statsmodels_ratings(fixed_votes())
    got = dict(zip(board.names, board.ratings))
    assert got.keys() == expected.keys()
    for name, rating in got.items():
        assert rating == pytest.approx(expected[name], abs=1e-4), name
    assert board.separated == []
    assert sum(got.values()) == pytest.approx(4 * MEAN_RATING)


def test_two_contestants_have_the_closed_form_rating():
    # x beats y 3 times, y beats x once, one tie: x wins 3.5 of 5, so 10^(d/400) = 3.5 / 1.5.
    votes = pd.DataFrame([("x", "y", "a")] * 3 + [("y", "x", "a"), ("y", "x", "tie")], columns=["model_a", "model_b", "winner"])
    board = leaderboard(votes, rounds=10)
    difference = board.ratings[board.names.index("x")] - board.ratings[board.names.index("y")]
    assert difference == pytest.approx(400 * math.log10(3.5 / 1.5), abs=1e-6)
    assert board.win_rate.loc["x", "y"] == pytest.approx(0.7)
    assert board.battles.loc["x", "y"] == board.battles.loc["y", "x"] == 5


def test_win_rates_and_battle_counts_follow_the_votes():
    board = leaderboard(fixed_votes(), rounds=10)
    # x against y: 7 wins, 3 + 2 losses (y won as B and as A), 2 ties in 14 battles.
    assert board.battles.loc["x", "y"] == 14
    assert board.win_rate.loc["x", "y"] == pytest.approx((7 + 1) / 14)
    assert board.win_rate.loc["y", "x"] == pytest.approx((5 + 1) / 14)
    assert board.battles.to_numpy().sum() == 2 * len(fixed_votes())
    table = board.table()
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert (table["lower_95"] <= table["rating"]).all() and (table["rating"] <= table["upper_95"]).all()


def test_the_bootstrap_interval_is_reproducible_with_its_seed():
    first = leaderboard(fixed_votes(), rounds=300, seed=7)
    again = leaderboard(fixed_votes(), rounds=300, seed=7)
    other = leaderboard(fixed_votes(), rounds=300, seed=8)
    assert np.array_equal(first.lower, again.lower) and np.array_equal(first.upper, again.upper)
    assert not np.array_equal(first.lower, other.lower)
    # The intervals are of the width the vote counts allow: tens of points, not zero, not thousands.
    width = first.upper - first.lower
    assert (width > 20).all() and (width < 600).all()


def test_a_contestant_that_never_lost_is_named_not_rated():
    votes = pd.DataFrame([("x", "y", "a"), ("x", "y", "a"), ("y", "z", "a"), ("z", "y", "a")],
                         columns=["model_a", "model_b", "winner"])
    board = leaderboard(votes, rounds=20)
    assert sorted(board.separated) == [["x"], ["y", "z"]]
    assert not board.table()["finite"].any()
    assert (abs(board.ratings - 1000) <= RATING_BOUND).all()
    assert "groups (" in unbounded_text(board) and "x" in unbounded_text(board)
    assert leaderboard(fixed_votes(), rounds=5).separated == []


@pytest.mark.parametrize("rows, problem", [
    ([("x", "x", "a")], "cannot face itself"),
    ([("x", "y", "A")], "winner 'A' is not one of"),
    ([], "no votes yet"),
])
def test_bad_vote_tables_are_refused_with_one_line(rows, problem):
    with pytest.raises(VotesError, match=problem):
        leaderboard(pd.DataFrame(rows, columns=["model_a", "model_b", "winner"]), rounds=5)


# --- a simulated crowd --------------------------------------------------------------------------

TRUE_RATINGS = {"gdpzero_n30": 1150.0, "gdpzero_n10": 1050.0, "prompting": 950.0, "random": 850.0}


def simulated_crowd(seed: int, votes: int = 600) -> pd.DataFrame:
    return simulated_votes(TRUE_RATINGS, votes, seed)


def test_600_votes_from_known_strengths_give_the_true_order_inside_the_intervals():
    board = leaderboard(simulated_crowd(seed=2024), rounds=1000, seed=1)
    table = board.table().set_index("contestant")
    print("\n" + board.table().to_string(index=False))
    assert list(table.index) == list(TRUE_RATINGS)  # best first, as the true strengths are
    for name, truth in TRUE_RATINGS.items():  # the true ratings already have mean 1000
        assert table.loc[name, "lower_95"] <= truth <= table.loc[name, "upper_95"], name
    assert board.battles.to_numpy().sum() == 2 * 600
    # Pairs with few votes are drawn more often: every pair gets about a sixth of the votes.
    pair_counts = [int(board.battles.loc[a, b]) for a in TRUE_RATINGS for b in TRUE_RATINGS if a < b]
    print(f"votes per pair: {pair_counts}")
    assert all(90 <= n <= 110 for n in pair_counts)


def test_the_intervals_cover_the_truth_across_simulated_crowds():
    covered, total = 0, 0
    for seed in range(20):
        board = leaderboard(simulated_crowd(seed), rounds=200, seed=seed)
        for name, truth in TRUE_RATINGS.items():
            i = board.names.index(name)
            covered += board.lower[i] <= truth <= board.upper[i]
            total += 1
    print(f"\n95% intervals covered the true rating in {covered} of {total} cases")
    assert covered / total >= 0.85
