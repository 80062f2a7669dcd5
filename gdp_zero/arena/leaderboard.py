"""The arena's leaderboard: Bradley–Terry ratings by maximum likelihood, bootstrap intervals, win rates.

Ties are handled as Chatbot Arena's `elo_analysis.compute_mle_elo` handles them: a win counts twice,
a tie (and a "both bad") once for each side, so a tie is half a win for each. Ratings are on the Elo
scale Arena reports (P(i beats j) = 1 / (1 + 10^((R_j - R_i) / 400))), centred on a mean of 1000
(only differences are identified). The 95% intervals are percentiles of the ratings refitted on votes
resampled with replacement, as Arena's `get_bootstrap_result` does; a seed makes them reproducible.

When some group of contestants has never lost (or never won) against the rest, the likelihood keeps
rising as the gap grows: there is no finite estimate. Ratings are then held within RATING_BOUND of the
mean and `Leaderboard.separated` names the groups, so nobody reads such a number as an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

WINNERS = ("a", "b", "tie", "both_bad")  # a vote: A better, B better, tie, both bad
VOTE_COLUMNS = ("model_a", "model_b", "winner")
ELO_SCALE = 400 / math.log(10)  # rating points per natural-log unit of strength
MEAN_RATING = 1000.0
RATING_BOUND = 3000.0  # no rating strays further from the mean (see the module's docstring)
BOOTSTRAP_ROUNDS = 1000
CONFIDENCE = 0.95
MAX_NEWTON_STEPS = 100
STEP_HALVINGS = 20  # the shortest Newton step tried is 2^-19 of the full one


class VotesError(ValueError):
    """A vote table the leaderboard cannot read; the message says what is wrong with it."""


def check_votes(votes: pd.DataFrame) -> pd.DataFrame:
    """The votes' three columns, checked: two different contestants and a known winner per row."""
    missing = [c for c in VOTE_COLUMNS if c not in votes.columns]
    if missing:
        raise VotesError(f"the votes have no column {', '.join(missing)} (expected {', '.join(VOTE_COLUMNS)})")
    table = votes.loc[:, list(VOTE_COLUMNS)].astype(str).reset_index(drop=True)
    unknown = sorted(set(table["winner"]) - set(WINNERS))
    if unknown:
        raise VotesError(f"winner {unknown[0]!r} is not one of {', '.join(WINNERS)}")
    same = table[table["model_a"] == table["model_b"]]
    if len(same):
        raise VotesError(f"row {same.index[0] + 1}: a contestant ({same['model_a'].iloc[0]}) cannot face itself")
    return table


def contestants_of(votes: pd.DataFrame) -> list[str]:
    return sorted(set(votes["model_a"]) | set(votes["model_b"]))


def win_weights(votes: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """W[i, j]: twice the wins of i over j, plus the ties between them (Arena's weighting)."""
    index = {name: i for i, name in enumerate(names)}
    a = votes["model_a"].map(index).to_numpy()
    b = votes["model_b"].map(index).to_numpy()
    winner = votes["winner"].to_numpy()
    weights = np.zeros((len(names), len(names)))
    np.add.at(weights, (a[winner == "a"], b[winner == "a"]), 2.0)
    np.add.at(weights, (b[winner == "b"], a[winner == "b"]), 2.0)
    tied = (winner == "tie") | (winner == "both_bad")
    np.add.at(weights, (a[tied], b[tied]), 1.0)
    np.add.at(weights, (b[tied], a[tied]), 1.0)
    return weights


def fit_strengths(weights: np.ndarray) -> np.ndarray:
    """Maximum-likelihood log-strengths (natural units, mean 0) for weighted win matrices.

    `weights` is one matrix (p × p) or a stack of them (r × p × p, fitted at once: the bootstrap).
    Newton's method on the concave log-likelihood sum_ij W_ij log sigmoid(s_i - s_j), the first
    strength held at 0 while fitting (the rest are its differences), each step shortened until the
    likelihood rises; then the strengths are centred.
    """
    stack = np.asarray(weights, dtype=float)
    single = stack.ndim == 2
    stack = stack[None] if single else stack
    rounds, count = stack.shape[0], stack.shape[1]
    bound = RATING_BOUND / ELO_SCALE
    free = np.zeros((rounds, max(count - 1, 0)))
    scales = 0.5 ** np.arange(STEP_HALVINGS)
    tolerance = 1e-12 * np.maximum(1.0, stack.sum(axis=(1, 2)))
    current = _loss(stack, free)
    for _ in range(MAX_NEWTON_STEPS):
        s = _with_reference(free)
        diff = s[:, :, None] - s[:, None, :]
        pull = stack * expit(-diff)  # W_ij * sigmoid(-(s_i - s_j))
        gradient = (pull.sum(axis=1) - pull.sum(axis=2))[:, 1:]
        active = np.abs(gradient).max(axis=1, initial=0.0) > tolerance
        if not active.any():
            break
        curvature = (stack + stack.transpose(0, 2, 1)) * expit(diff) * expit(-diff)
        hessian = (np.eye(count)[None] * curvature.sum(axis=2)[:, :, None] - curvature)[:, 1:, 1:]
        step = np.einsum("rij,rj->ri", np.linalg.pinv(hessian), gradient)
        # The likelihood at every shortened step; each matrix takes the longest step that improves it.
        trials = np.clip(free[:, None, :] - scales[None, :, None] * step[:, None, :], -2 * bound, 2 * bound)
        values = np.stack([_loss(stack, trials[:, k]) for k in range(len(scales))], axis=1)
        better = values < current[:, None]
        moves = active & better.any(axis=1)
        if not moves.any():
            break  # at the optimum, or at the bound of a rating with no finite estimate
        chosen = better.argmax(axis=1)
        free = np.where(moves[:, None], trials[np.arange(rounds), chosen], free)
        current = np.where(moves, values[np.arange(rounds), chosen], current)
    strengths = _with_reference(free)
    centred = np.clip(strengths - strengths.mean(axis=1, keepdims=True), -bound, bound)
    return centred[0] if single else centred


def _with_reference(free: np.ndarray) -> np.ndarray:
    return np.concatenate((np.zeros((free.shape[0], 1)), free), axis=1)


def _loss(stack: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Minus the log-likelihood of each matrix of the stack at its strengths."""
    s = _with_reference(free)
    return np.sum(stack * np.logaddexp(0.0, -(s[:, :, None] - s[:, None, :])), axis=(1, 2))


def ratings_from(weights: np.ndarray) -> np.ndarray:
    return MEAN_RATING + ELO_SCALE * fit_strengths(weights)


def separated_groups(weights: np.ndarray, names: Sequence[str]) -> list[list[str]]:
    """The groups the votes split the contestants into when some group never lost (or never won) against
    another; empty when every rating has a finite estimate.

    The maximum-likelihood ratings are finite exactly when the "won at least once against" graph is
    strongly connected (Zermelo 1929; Ford 1957); its strongly connected components are the groups.
    """
    from scipy.sparse.csgraph import connected_components

    if len(names) < 2:
        return []
    parts, labels = connected_components(weights > 0, directed=True, connection="strong")
    if parts == 1:
        return []
    return [[name for name, label in zip(names, labels) if label == part] for part in range(parts)]


def bootstrap_ratings(votes: pd.DataFrame, names: Sequence[str], rounds: int, seed: int) -> np.ndarray:
    """Ratings refitted on `rounds` resamples of the votes (rows drawn with replacement): rounds × contestants."""
    rng = np.random.default_rng(seed)
    # Resampling rows only changes how often each distinct (a, b, winner) row occurs: count them once.
    kinds = votes.groupby(list(VOTE_COLUMNS), sort=True).size().reset_index(name="count")
    per_kind = np.stack([win_weights(kinds.iloc[[k]], names) for k in range(len(kinds))])
    drawn = rng.multinomial(len(votes), kinds["count"].to_numpy() / len(votes), size=rounds)
    return ratings_from(np.einsum("rk,kij->rij", drawn, per_kind))


@dataclass(frozen=True)
class Leaderboard:
    """Ratings with intervals, pairwise win rates and battle counts, for one vote table."""

    names: list[str]
    ratings: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    battles: pd.DataFrame  # battles[i][j]: votes between i and j (ties included), symmetric
    win_rate: pd.DataFrame  # win_rate.loc[i, j]: (wins of i over j + half the ties) / battles; NaN without battles
    votes: int
    rounds: int
    seed: int
    separated: list[list[str]] = field(default_factory=list)  # see separated_groups: no finite ratings if any

    def table(self) -> pd.DataFrame:
        """One row per contestant, best first: rank, rating, interval, battles and wins."""
        order = np.argsort(-self.ratings, kind="stable")
        rows = []
        for rank, i in enumerate(order, start=1):
            name = self.names[i]
            rows.append({
                "rank": rank, "contestant": name, "rating": round(float(self.ratings[i]), 1),
                "lower_95": round(float(self.lower[i]), 1), "upper_95": round(float(self.upper[i]), 1),
                "battles": int(self.battles.loc[name].sum()),
                "finite": not self.separated,
            })
        return pd.DataFrame(rows)


def leaderboard(votes: pd.DataFrame, *, rounds: int = BOOTSTRAP_ROUNDS, seed: int = 0) -> Leaderboard:
    """The leaderboard of a vote table (columns model_a, model_b, winner), intervals seeded by `seed`."""
    table = check_votes(votes)
    if not len(table):
        raise VotesError("there are no votes yet")
    everyone = contestants_of(table)
    weights = win_weights(table, everyone)
    ratings = ratings_from(weights)
    fits = bootstrap_ratings(table, everyone, rounds, seed)
    tail = (1 - CONFIDENCE) / 2
    lower, upper = np.quantile(fits, tail, axis=0), np.quantile(fits, 1 - tail, axis=0)
    battles = pd.DataFrame((weights + weights.T) / 2, index=everyone, columns=everyone).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(battles.to_numpy() > 0, weights / (weights + weights.T), np.nan)
    return Leaderboard(
        names=everyone, ratings=ratings, lower=lower, upper=upper, battles=battles,
        win_rate=pd.DataFrame(rate, index=everyone, columns=everyone), votes=len(table), rounds=rounds, seed=seed,
        separated=separated_groups(weights, everyone),
    )
