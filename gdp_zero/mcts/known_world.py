"""A persuasion world whose answers are known: a persuadee with a hidden warmth, solved exactly.

The persuadee's warmth (0 cold … 4 warm, starting at 1) moves at random after each persuader
act, by act-specific odds. The proposition of donation succeeds only when warmth is high, and
pushing early cools the persuadee. A dialogue ends with a donation or after `TURN_LIMIT`
persuader turns. Like an LLM prior, the search's prior favours the emotion appeal, which is
rarely the best act; the value the search sees is the true optimal value plus Gaussian noise.
The optimal values and policy are computed exactly by backward induction (value iteration on
a finite horizon), so any planner's decisions can be scored by success and regret.

Like the LLM world, each call waits a latency L: an evaluation (prior and value asked together)
1 L, a transition 2 L (the persuader's utterance, then the persuadee's reply).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from functools import cache
from typing import Mapping, Sequence

from gdp_zero.mcts.model import Evaluation, Transition

PROPOSITION = "proposition of donation"
ACTS = (
    PROPOSITION,
    "emotion appeal",
    "logical appeal",
    "credibility appeal",
    "personal story",
    "task-related inquiry",
)
# What an LLM persuader tends to do: appeal to emotion, ask early.
PRIOR = {
    PROPOSITION: 0.2,
    "emotion appeal": 0.4,
    "logical appeal": 0.1,
    "credibility appeal": 0.1,
    "personal story": 0.1,
    "task-related inquiry": 0.1,
}
PRIOR_ACT = max(PRIOR, key=PRIOR.__getitem__)
WARMEST = 4
START_WARMTH = 1
TURN_LIMIT = 6
SUCCESS_VALUE, FAILURE_VALUE = 1.0, -1.0  # the judge's scale: donation 1, no donation -1


@dataclass(frozen=True)
class Outcome:
    probability: float
    donated: bool
    warmth: int


def outcomes(warmth: int, act: str) -> tuple[Outcome, ...]:
    """The persuadee's possible answers to `act` at `warmth`: the world's whole dynamics."""

    def moves(*odds: tuple[float, int]) -> tuple[Outcome, ...]:
        stay = 1.0 - sum(p for p, _ in odds)
        spread = odds + ((stay, 0),)
        return tuple(Outcome(p, False, min(WARMEST, max(0, warmth + step))) for p, step in spread if p > 0)

    if act == PROPOSITION:
        donates = {3: 0.45, 4: 0.8}.get(warmth, 0.0)
        refused = moves((0.5 if warmth >= 3 else 0.6, -1))  # pushing cools the persuadee
        answers = tuple(Outcome(o.probability * (1 - donates), False, o.warmth) for o in refused)
        return ((Outcome(donates, True, warmth),) if donates else ()) + answers
    if act == "emotion appeal":  # a gamble: sometimes moving, more often off-putting
        return moves((0.2, +2), (0.45, -1))
    if act == "logical appeal":  # works on someone already listening
        return moves((0.6, +1)) if warmth >= 2 else moves((0.25, +1), (0.15, -1))
    if act == "credibility appeal":  # builds trust with a sceptic
        return moves((0.55, +1)) if warmth < 2 else moves((0.3, +1))
    if act == "personal story":
        return moves((0.4, +1))
    if act == "task-related inquiry":
        return moves((0.2, +1))
    raise ValueError(f"unknown act {act!r}")


@cache
def optimal_act_values(warmth: int, turn: int) -> dict[str, float]:
    """Q*(s, a): the probability of a donation by the turn limit after `act`, then playing optimally."""
    values = {}
    for act in ACTS:
        values[act] = sum(
            o.probability * (1.0 if o.donated else optimal_value(o.warmth, turn + 1)) for o in outcomes(warmth, act)
        )
    return values


@cache
def optimal_value(warmth: int, turn: int) -> float:
    """V*(s): the best achievable probability of a donation from warmth `warmth` at `turn`."""
    if turn >= TURN_LIMIT:
        return 0.0
    return max(optimal_act_values(warmth, turn).values())


@dataclass(frozen=True)
class PersuadeeState:
    warmth: int = START_WARMTH
    turn: int = 0
    donated: bool = False


@dataclass
class KnownPersuasionWorld:
    seed: int = 0
    value_noise: float = 0.3
    latency_s: float = 0.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- what the search sees ---------------------------------------------------------------

    def legal_acts(self, state: PersuadeeState) -> Sequence[str]:
        return ACTS

    async def evaluate(self, state: PersuadeeState) -> Evaluation:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        true = 2 * optimal_value(state.warmth, state.turn) - 1  # success probability on the judge's scale
        noisy = true + self.rng.gauss(0.0, self.value_noise)
        return Evaluation(prior=dict(PRIOR), value=max(-1.0, min(1.0, noisy)))

    async def transition(self, state: PersuadeeState, act: str) -> Transition[PersuadeeState]:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)  # the persuader's utterance
            await asyncio.sleep(self.latency_s)  # the persuadee's reply
        return self.respond(state, act, self.rng)

    # --- the known answers, for scoring -----------------------------------------------------

    def start_state(self) -> PersuadeeState:
        return PersuadeeState()

    def respond(self, state: PersuadeeState, act: str, rng: random.Random) -> Transition[PersuadeeState]:
        """The persuadee's answer to `act`, drawn from the true dynamics."""
        draw, outcome = rng.random(), None
        for outcome in outcomes(state.warmth, act):
            draw -= outcome.probability
            if draw < 0:
                break
        assert outcome is not None
        after = PersuadeeState(outcome.warmth, state.turn + 1, outcome.donated)
        if outcome.donated:
            reply_act = "donate"
        else:
            reply_act = {1: "positive reaction", 0: "neutral", -1: "negative reaction"}[
                (outcome.warmth > state.warmth) - (outcome.warmth < state.warmth)
            ]
        terminal = SUCCESS_VALUE if outcome.donated else FAILURE_VALUE if after.turn >= TURN_LIMIT else None
        return Transition(after, f"{act} (turn {after.turn})", f"warmth {outcome.warmth}", reply_act, terminal)

    def act_values(self, state: PersuadeeState) -> Mapping[str, float]:
        return optimal_act_values(state.warmth, state.turn)

    def finished(self, state: PersuadeeState) -> bool:
        return state.donated or state.turn >= TURN_LIMIT

    def succeeded(self, state: PersuadeeState) -> bool:
        return state.donated
