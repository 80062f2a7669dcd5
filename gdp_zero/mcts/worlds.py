"""A family of random persuasion worlds with known answers, drawn from a seeded generator.

Each world is a persuadee with a hidden warmth (0 … `levels` − 1) and a turn limit (`horizon`).
Its acts are drawn at random: one or two *asks* (a donation becomes likely only above a warmth
threshold, and a refusal may cool the persuadee), and *moves* that shift the warmth up or down
with odds that depend on the warmth (some work on sceptics, some on the already willing, some
are gambles that jump two levels). The search sees a prior that mixes the optimal act values
with a *habit* favouring acts that are poor at the start (how much: `misleading`, 0 … 1) and a
value 2 V* − 1 plus Gaussian noise (σ = `value_noise`). V*(s) and Q*(s, a) are solved exactly by
backward induction over (warmth, turn), so decisions are scored by success and regret.

`draw_worlds(count, seed)` draws the family; `split(worlds)` gives the tuning half (tune on
it) and the held-out half (report on it). Calls wait like the LLM world's: an evaluation 1 L,
a transition 2 L.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from gdp_zero.mcts.known_world import FAILURE_VALUE, SUCCESS_VALUE, Outcome
from gdp_zero.mcts.model import Evaluation, Transition

ACTS_RANGE = (4, 12)
HORIZON_RANGE = (3, 8)
LEVELS_RANGE = (3, 6)
NOISE_RANGE = (0.1, 0.5)
# Worlds whose optimum is nearly hopeless or nearly certain say little about a planner.
OPTIMUM_RANGE = (0.2, 0.95)
PRIOR_TEMPERATURE = 0.1  # how sharply the informative part of the prior follows Q*


@dataclass(frozen=True)
class WorldSpec:
    """One world's parameters; `dynamics[act][warmth]` is the whole of its answers."""

    index: int
    acts: tuple[str, ...]
    horizon: int
    levels: int
    start: int
    value_noise: float
    misleading: float
    habit: tuple[float, ...]  # per act, sums to 1: what the prior favours whatever the state
    dynamics: tuple[tuple[tuple[Outcome, ...], ...], ...]

    def outcomes(self, warmth: int, act: str) -> tuple[Outcome, ...]:
        return self.dynamics[self.acts.index(act)][warmth]

    @cached_property
    def solution(self) -> dict[tuple[int, int], dict[str, float]]:
        """Q*(warmth, turn)[act]: the probability of a donation by the horizon after `act`, then optimal play."""
        q: dict[tuple[int, int], dict[str, float]] = {}
        after = [0.0] * self.levels  # V* at the horizon: no more turns, no donation
        for turn in reversed(range(self.horizon)):
            now = []
            for warmth in range(self.levels):
                q[warmth, turn] = {
                    act: sum(o.probability * (1.0 if o.donated else after[o.warmth]) for o in self.outcomes(warmth, act))
                    for act in self.acts
                }
                now.append(max(q[warmth, turn].values()))
            after = now
        return q

    def optimal_value(self, warmth: int, turn: int) -> float:
        return 0.0 if turn >= self.horizon else max(self.solution[warmth, turn].values())

    def prior(self, warmth: int, turn: int) -> dict[str, float]:
        """(1 − misleading) · softmax(Q* / T) + misleading · habit: an LLM's mix of sense and habit."""
        values = self.solution[warmth, turn]
        top = max(values.values())
        weights = {act: math.exp((v - top) / PRIOR_TEMPERATURE) for act, v in values.items()}
        total = sum(weights.values())
        return {
            act: (1 - self.misleading) * weights[act] / total + self.misleading * self.habit[i]
            for i, act in enumerate(self.acts)
        }


def _moves(warmth: int, levels: int, odds: Sequence[tuple[float, int]]) -> tuple[Outcome, ...]:
    """Warmth steps with their odds (the rest: no change), merged where the edges clip them."""
    merged: dict[int, float] = {}
    stay = 1.0 - sum(p for p, _ in odds)
    for p, step in (*odds, (stay, 0)):
        if p > 0:
            level = min(levels - 1, max(0, warmth + step))
            merged[level] = merged.get(level, 0.0) + p
    return tuple(Outcome(p, False, level) for level, p in merged.items())


def _ask(rng: random.Random, levels: int) -> tuple[tuple[Outcome, ...], ...]:
    threshold = rng.randint(1, levels - 1)  # the warmth from which a donation is possible
    best = rng.uniform(0.4, 0.95)  # the chance at the warmest level
    cooling = rng.uniform(0.1, 0.7)  # a refusal's chance of cooling the persuadee
    table = []
    for warmth in range(levels):
        donates = best * (warmth - threshold + 1) / (levels - threshold) if warmth >= threshold else 0.0
        refused = _moves(warmth, levels, [(cooling, -1)])
        answers = tuple(Outcome(o.probability * (1 - donates), False, o.warmth) for o in refused)
        table.append(((Outcome(donates, True, warmth),) if donates else ()) + answers)
    return tuple(table)


def _move(rng: random.Random, levels: int) -> tuple[tuple[Outcome, ...], ...]:
    up, down = rng.uniform(0.05, 0.6), rng.uniform(0.0, 0.4)
    slope = rng.uniform(-0.5, 0.5)  # > 0 works on the willing, < 0 on sceptics
    jump = 2 if rng.random() < 0.25 else 1  # a gamble: bigger steps either way
    table = []
    for warmth in range(levels):
        where = warmth / (levels - 1) - 0.5
        p_up = min(0.9, max(0.0, up + slope * where))
        p_down = min(0.95 - p_up, max(0.0, down - slope * where))
        table.append(_moves(warmth, levels, [(p_up, jump), (p_down, -jump)]))
    return tuple(table)


def _draw(index: int, rng: random.Random) -> WorldSpec:
    count = rng.randint(*ACTS_RANGE)
    asks = 1 if count < 7 or rng.random() < 0.5 else 2
    acts = tuple([f"ask {i + 1}" for i in range(asks)] + [f"move {i + 1}" for i in range(count - asks)])
    levels = rng.randint(*LEVELS_RANGE)
    dynamics = tuple(_ask(rng, levels) if act.startswith("ask") else _move(rng, levels) for act in acts)
    order = list(range(count))
    rng.shuffle(order)  # the asks are not always listed first (ties in selection go to the first)
    spec = WorldSpec(
        index=index,
        acts=tuple(acts[i] for i in order),
        horizon=rng.randint(*HORIZON_RANGE),
        levels=levels,
        start=rng.randint(0, (levels - 1) // 2),
        value_noise=rng.uniform(*NOISE_RANGE),
        misleading=rng.uniform(0.0, 1.0),
        habit=(),
        dynamics=tuple(dynamics[i] for i in order),
    )
    # The habit favours one of the worse half of the acts at the start, as an LLM favours its usual move.
    start_values = spec.solution[spec.start, 0]
    worse = sorted(spec.acts, key=start_values.__getitem__)[: max(1, count // 2)]
    favourite = rng.choice(worse)
    weights = [4.0 if act == favourite else rng.uniform(0.2, 1.0) for act in spec.acts]
    return replace(spec, habit=tuple(w / sum(weights) for w in weights))


def draw_worlds(count: int, seed: int = 0) -> list[WorldSpec]:
    """`count` worlds from the seeded generator, each redrawn until its optimum is in OPTIMUM_RANGE."""
    rng = random.Random(f"worlds {seed}")
    worlds: list[WorldSpec] = []
    while len(worlds) < count:
        spec = _draw(len(worlds), rng)
        if OPTIMUM_RANGE[0] <= spec.optimal_value(spec.start, 0) <= OPTIMUM_RANGE[1]:
            worlds.append(spec)
    return worlds


def split(worlds: Sequence[WorldSpec]) -> tuple[list[WorldSpec], list[WorldSpec]]:
    """(tuning, held out): even-numbered worlds to tune on, odd-numbered ones to report on."""
    return [w for w in worlds if w.index % 2 == 0], [w for w in worlds if w.index % 2 == 1]


@dataclass(frozen=True)
class WorldState:
    warmth: int
    turn: int = 0
    donated: bool = False


@dataclass
class RandomWorld:
    """A drawn world as the search sees it (`SearchModel`) and as the scorer does (`KnownAnswers`)."""

    spec: WorldSpec
    seed: int = 0
    latency_s: float = 0.0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"world {self.spec.index} noise {self.seed}")

    def legal_acts(self, state: WorldState) -> Sequence[str]:
        return self.spec.acts

    async def evaluate(self, state: WorldState) -> Evaluation:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        true = 2 * self.spec.optimal_value(state.warmth, state.turn) - 1
        noisy = true + self.rng.gauss(0.0, self.spec.value_noise)
        return Evaluation(prior=self.spec.prior(state.warmth, state.turn), value=max(-1.0, min(1.0, noisy)))

    async def transition(self, state: WorldState, act: str) -> Transition[WorldState]:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)  # the persuader's utterance
            await asyncio.sleep(self.latency_s)  # the persuadee's reply
        return self.respond(state, act, self.rng)

    def start_state(self) -> WorldState:
        return WorldState(self.spec.start)

    def respond(self, state: WorldState, act: str, rng: random.Random) -> Transition[WorldState]:
        draw, outcome = rng.random(), None
        for outcome in self.spec.outcomes(state.warmth, act):
            draw -= outcome.probability
            if draw < 0:
                break
        assert outcome is not None
        after = WorldState(outcome.warmth, state.turn + 1, outcome.donated)
        reply_act = "donate" if outcome.donated else (
            "positive reaction" if outcome.warmth > state.warmth
            else "negative reaction" if outcome.warmth < state.warmth else "neutral")
        ended = outcome.donated or after.turn >= self.spec.horizon
        terminal = (SUCCESS_VALUE if outcome.donated else FAILURE_VALUE) if ended else None
        return Transition(after, f"{act} (turn {after.turn})", f"warmth {outcome.warmth}", reply_act, terminal)

    def act_values(self, state: WorldState) -> Mapping[str, float]:
        return self.spec.solution[state.warmth, state.turn]

    def finished(self, state: WorldState) -> bool:
        return state.donated or state.turn >= self.spec.horizon

    def succeeded(self, state: WorldState) -> bool:
        return state.donated
