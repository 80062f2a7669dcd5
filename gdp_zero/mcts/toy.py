"""A toy dialogue world whose best first act is known, for testing and benchmarking the search.

Each act has a hidden quality. The prior (like an LLM's habit) favours a decoy act, the value
estimate is the mean quality of the acts taken plus Gaussian noise, and a reply is "positive"
with a probability that grows with quality. A search that works finds `best` from the values
despite the prior; the prior alone picks `decoy`.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

from gdp_zero.mcts.model import Evaluation, Transition

if TYPE_CHECKING:
    from gdp_zero.mcts.search import SearchConfig

QUALITY = {"decoy": -0.1, "best": 0.6, "steady": 0.2, "weak": -0.3, "bad": -0.6}
PRIOR = {"decoy": 0.4, "best": 0.15, "steady": 0.2, "weak": 0.15, "bad": 0.1}
BEST_ACT = "best"
PRIOR_ACT = max(PRIOR, key=PRIOR.__getitem__)


@dataclass(frozen=True)
class ToyState:
    acts: tuple[str, ...] = ()


@dataclass
class ToyEnvironment:
    seed: int = 0
    horizon: int = 4
    value_noise: float = 0.3
    latency_s: float = 0.0
    evaluations: int = 0
    transition_calls: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def legal_acts(self, state: ToyState) -> Sequence[str]:
        return tuple(QUALITY)

    def true_value(self, state: ToyState) -> float:
        return sum(QUALITY[a] for a in state.acts) / len(state.acts) if state.acts else 0.0

    async def evaluate(self, state: ToyState) -> Evaluation:
        self.evaluations += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        noisy = self.true_value(state) + self.rng.gauss(0.0, self.value_noise)
        return Evaluation(prior=dict(PRIOR), value=max(-1.0, min(1.0, noisy)))

    async def transition(self, state: ToyState, act: str) -> Transition[ToyState]:
        self.transition_calls += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        after = ToyState(state.acts + (act,))
        positive = self.rng.random() < (1 + QUALITY[act]) / 2
        return Transition(
            state=after,
            utterance=f"{act} #{self.rng.randrange(10**6)}",
            reply="yes" if positive else "no",
            reply_act="positive" if positive else "negative",
            terminal_value=self.true_value(after) if len(after.acts) >= self.horizon else None,
        )


async def play_turns(
    config: SearchConfig, seed: int, turns: int, reuse: bool
) -> tuple[list[str], list[int]]:
    """A toy self-play: search, take the chosen act, let the world answer, search again.

    Returns the act chosen at each turn and the simulations each turn reused from the last.
    """
    from gdp_zero.mcts.search import search
    from gdp_zero.mcts.tree import Realization

    env = ToyEnvironment(seed=seed)
    rng = random.Random(seed)
    state, tree = ToyState(), None
    chosen, reused = [], []
    for _ in range(turns):
        result = await search(env, state, config, rng=rng, tree=tree)
        act = result.chosen_act()
        chosen.append(act)
        reused.append(result.reused_simulations)
        real = await env.transition(state, act)
        exchange = Realization(real.state, real.utterance, real.reply, real.reply_act, real.terminal_value)
        tree = result.advance(act, exchange) if reuse else None
        state = real.state
    return chosen, reused
