"""A line-by-line transcription of the published OpenLoopMCTS (GDP-Zero, core/mcts.py), used as
the oracle that the concurrent search must reproduce at concurrency 1.

Differences from the published code are the two the project documents: the root is expanded
before the simulations (so n simulations give N(root) = n), and a transition that ends the
dialogue is stored as a realization of its node.
"""

from __future__ import annotations

import math
import random

from gdp_zero.mcts.model import SearchModel


class ReferenceOpenLoopMCTS:
    def __init__(self, model: SearchModel, k: int, q0: float, c_puct: float, rng: random.Random) -> None:
        self.model, self.k, self.q0, self.c_puct, self.rng = model, k, q0, c_puct, rng
        self.Ns: dict[tuple, int] = {}
        self.Nsa: dict[tuple, dict[str, int]] = {}
        self.Q: dict[tuple, dict[str, float]] = {}
        self.P: dict[tuple, dict[str, float]] = {}
        self.V: dict[tuple, float] = {}
        self.realizations: dict[tuple, list] = {}  # key -> [transition-like (state, utterance, ...)]
        self.realization_stats: dict[tuple, list[list[float]]] = {}  # key -> [[visits, value_sum]]

    async def _init_node(self, key: tuple, state) -> float:
        evaluation = await self.model.evaluate(state)
        legal = list(self.model.legal_acts(state))
        prior = {a: evaluation.prior.get(a, 0.0) for a in legal}
        total = sum(prior.values())
        self.P[key] = {a: p / total for a, p in prior.items()}
        self.Ns[key] = 0
        self.Nsa[key] = {a: 0 for a in legal}
        self.Q[key] = {a: self.q0 for a in legal}
        self.V[key] = evaluation.value
        return evaluation.value

    async def search(self, key: tuple, state) -> float:
        best_uct, best_action = -float("inf"), None
        for a in self.P[key]:
            ns = self.Ns[key] or 1e-8
            uct = self.Q[key][a] + self.c_puct * self.P[key][a] * math.sqrt(ns) / (1 + self.Nsa[key][a])
            if uct > best_uct:
                best_uct, best_action = uct, a
        a = best_action
        child = key + (a,)
        stored = self.realizations.setdefault(child, [])
        stats = self.realization_stats.setdefault(child, [])
        if len(stored) == self.k:
            index = stored.index(self.rng.choice(stored))
        else:
            transition = await self.model.transition(state, a)
            stored.append(transition)
            stats.append([0, 0.0])
            index = len(stored) - 1
        transition = stored[index]
        if transition.terminal_value is not None:
            v = transition.terminal_value
        elif child not in self.P:
            v = await self._init_node(child, transition.state)
        else:
            v = await self.search(child, transition.state)
        self.Q[key][a] = (self.Nsa[key][a] * self.Q[key][a] + v) / (self.Nsa[key][a] + 1)
        self.Ns[key] += 1
        self.Nsa[key][a] += 1
        stats[index][0] += 1
        stats[index][1] += v
        return v

    async def run(self, root_state, simulations: int) -> None:
        await self._init_node((), root_state)
        for _ in range(simulations):
            await self.search((), root_state)
