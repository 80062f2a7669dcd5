"""A toy dialogue world whose best first act is known, for testing and benchmarking the search.

Each act has a hidden quality. The prior (like an LLM's habit) favours a decoy act, the value
estimate is the mean quality of the acts taken plus Gaussian noise, and a reply is "positive"
with a probability that grows with quality. A search that works finds `best` from the values
despite the prior; the prior alone picks `decoy`.

As a world with known answers (gdp_zero.mcts.scoring), a toy dialogue is `turns` decisions and
succeeds when every one of them took `best`. Calls wait like the LLM world's: an evaluation 1 L,
a transition 2 L (utterance, then reply).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from gdp_zero.mcts.model import Evaluation, Transition

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
    turns: int = 1
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
            await asyncio.sleep(self.latency_s)  # the utterance
            await asyncio.sleep(self.latency_s)  # the reply
        return self.respond(state, act, self.rng)

    def respond(self, state: ToyState, act: str, rng: random.Random) -> Transition[ToyState]:
        after = ToyState(state.acts + (act,))
        positive = rng.random() < (1 + QUALITY[act]) / 2
        return Transition(
            state=after,
            utterance=f"{act} #{rng.randrange(10**6)}",
            reply="yes" if positive else "no",
            reply_act="positive" if positive else "negative",
            terminal_value=self.true_value(after) if len(after.acts) >= self.horizon else None,
        )

    def start_state(self) -> ToyState:
        return ToyState()

    def act_values(self, state: ToyState) -> Mapping[str, float]:
        return QUALITY

    def finished(self, state: ToyState) -> bool:
        return len(state.acts) >= self.turns

    def succeeded(self, state: ToyState) -> bool:
        return all(act == BEST_ACT for act in state.acts)
