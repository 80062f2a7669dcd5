"""The Gumbel root (Danihelka et al., "Policy improvement by planning with Gumbel", ICLR 2022).

As in DeepMind's mctx (`gumbel_muzero_policy`): sample m root acts without replacement by
Gumbel-top-k over the log prior, split the simulations between them by Sequential Halving, keep
the better half after each round by g + log P + sigma(Q^), and take the act that survives. The
schedule and sigma are transcriptions of mctx's `seq_halving.get_sequence_of_considered_visits`
and `qtransforms.qtransform_completed_by_mix_value`; where the search differs (rounds run their
simulations concurrently, a time budget sizes them) the README says why.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from gdp_zero.mcts.tree import Node

# mctx's defaults for sigma: (C_VISIT + max_b N(b)) * C_SCALE * Q^ normalised to [0, 1].
C_VISIT = 50.0
C_SCALE = 0.1
_EPSILON = 1e-8  # mctx's smallest denominator when normalising Q^
_TINY = 1e-30  # keeps log P finite for an act the prior gave no mass


@dataclass(frozen=True)
class PlannedRound:
    considered: int  # acts that share this round
    simulations: int


def sample_gumbel(acts: list[str], rng: random.Random, scale: float = 1.0) -> dict[str, float]:
    """Independent Gumbel noise per act: scale * -log(-log U), U uniform (drawn even at scale 0)."""
    return {act: scale * -math.log(-math.log(rng.random() or _TINY)) for act in acts}


def gumbel_top_k(prior: dict[str, float], gumbel: dict[str, float], k: int) -> list[str]:
    """The k acts with the largest g + log P: a sample of k acts without replacement from P."""
    return sorted(prior, key=lambda act: gumbel[act] + _log(prior[act]), reverse=True)[:k]


def halving_schedule(simulations: int, considered: int) -> list[PlannedRound]:
    """Sequential Halving's rounds for a budget of `simulations` over `considered` acts.

    mctx's `get_sequence_of_considered_visits`, read as rounds: each phase gives every considered
    act max(1, floor(n / (ceil(log2 m) * considered))) visits, then halves the considered acts
    (never below 2) until the budget is spent; the last phase is cut to the budget. Phases after
    the acts are down to 2 keep the same 2 acts, so they are one round here (no extra barrier).
    """
    if simulations <= 0:
        return []
    if considered <= 1:
        return [PlannedRound(1, simulations)]
    log2max = math.ceil(math.log2(considered))
    rounds: list[PlannedRound] = []
    spent, acts = 0, considered
    while spent < simulations:
        visits = max(1, int(simulations / (log2max * acts)))
        size = min(visits * acts, simulations - spent)
        if rounds and rounds[-1].considered == acts:
            rounds[-1] = PlannedRound(acts, rounds[-1].simulations + size)
        else:
            rounds.append(PlannedRound(acts, size))
        spent += size
        acts = max(2, acts // 2)
    return rounds


def completed_sigma(node: Node[Any]) -> dict[str, float]:
    """sigma(Q^) for every act of `node`, as mctx's `qtransform_completed_by_mix_value`.

    Unvisited acts are completed with the mixed value (V(s) and the prior-weighted Q of visited
    acts, weighted by visits); completed Q is normalised to [0, 1] by its min and max, then
    scaled by (C_VISIT + max N) * C_SCALE.
    """
    visits = node.child_visits
    q = {act: node.value_sums[act] / visits[act] for act in node.prior if visits.get(act, 0)}
    mixed = _mixed_value(node, q)
    completed = {act: q.get(act, mixed) for act in node.prior}
    low, high = min(completed.values()), max(completed.values())
    span = max(high - low, _EPSILON)
    scale = (C_VISIT + max(visits.values(), default=0)) * C_SCALE
    return {act: scale * (value - low) / span for act, value in completed.items()}


def halving_scores(node: Node[Any], gumbel: dict[str, float]) -> dict[str, float]:
    """g + log P + sigma(Q^) per act: what each round keeps the better half by."""
    sigma = completed_sigma(node)
    return {act: gumbel[act] + _log(node.prior[act]) + sigma[act] for act in node.prior}


def _mixed_value(node: Node[Any], q: dict[str, float]) -> float:
    total = sum(node.child_visits.get(act, 0) for act in q)
    if not q:
        return node.value or 0.0
    weights = {act: max(node.prior[act], _TINY) for act in q}
    weighted_q = sum(weights[act] * q[act] for act in q) / sum(weights.values())
    return ((node.value or 0.0) + total * weighted_q) / (total + 1)


def _log(p: float) -> float:
    return math.log(max(p, _TINY))
