"""Score a search setting on a world with known answers: whole dialogues, success and regret.

The search plans each persuader turn, the world's true dynamics answer (with their own random
stream, so every setting meets the same persuadees), and the world's exact act values give the
regret of each decision: the best act's value minus the chosen act's. A setting's score is the
success rate (Wilson 95% interval) and the mean regret per turn (Student-t 95% interval over
dialogues, since turns of one dialogue are not independent).
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
from scipy import stats

from gdp_zero.intervals import wilson_interval
from gdp_zero.mcts.config import SearchConfig
from gdp_zero.mcts.model import SearchModel, Transition
from gdp_zero.mcts.search import search
from gdp_zero.mcts.tree import Realization

State = TypeVar("State")
BOOTSTRAP_RESAMPLES = 2000


class KnownAnswers(SearchModel[State], Protocol[State]):
    def start_state(self) -> State:
        ...

    def respond(self, state: State, act: str, rng: random.Random) -> Transition[State]:
        """The real answer to `act`, from the true dynamics and `rng`."""
        ...

    def act_values(self, state: State) -> Mapping[str, float]:
        """The true value of each legal act in `state` (higher is better)."""
        ...

    def finished(self, state: State) -> bool:
        ...

    def succeeded(self, state: State) -> bool:
        ...


@dataclass(frozen=True)
class DialogueScore:
    chosen: list[str]
    regrets: list[float]
    decision_seconds: list[float]
    simulations: list[int]  # run in each turn's search
    reused: list[int]  # carried over from the previous turn's tree
    chosen_visits: list[int]  # N(root, chosen act) at each decision
    succeeded: bool

    @property
    def regret_per_turn(self) -> float:
        return statistics.mean(self.regrets)


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float  # 95% interval
    high: float


@dataclass(frozen=True)
class SettingScore:
    dialogues: int
    success: Estimate
    regret_per_turn: Estimate
    seconds_per_decision: float  # mean over all decisions


async def play_dialogue(
    world: KnownAnswers[State], config: SearchConfig, *, reuse_tree: bool, seed: int
) -> DialogueScore:
    """Plan every persuader turn with `config` until the world says the dialogue is over."""
    search_rng, persuadee_rng = random.Random(seed), random.Random(f"persuadee {seed}")
    state, tree = world.start_state(), None
    chosen, regrets, seconds, simulations, reused, chosen_visits = [], [], [], [], [], []
    while not world.finished(state):
        result = await search(world, state, config, rng=search_rng, tree=tree)
        act = result.chosen_act()
        values = world.act_values(state)
        chosen.append(act)
        regrets.append(max(values.values()) - values[act])
        seconds.append(result.seconds)
        simulations.append(len(result.simulations))
        reused.append(result.reused_simulations)
        chosen_visits.append(result.root.child_visits.get(act, 0))
        real = world.respond(state, act, persuadee_rng)
        exchange = Realization(real.state, real.utterance, real.reply, real.reply_act, real.terminal_value)
        tree = result.advance(act, exchange) if reuse_tree else None
        state = real.state
    return DialogueScore(chosen, regrets, seconds, simulations, reused, chosen_visits, world.succeeded(state))


async def score_setting(
    make_world: Callable[[int], KnownAnswers[State]],
    config: SearchConfig,
    *,
    reuse_tree: bool,
    dialogues: int,
    on_dialogue: Callable[[int], None] | None = None,
) -> SettingScore:
    """Play `dialogues` dialogues (world and search seeded 0, 1, …) and summarise them."""
    played = []
    for seed in range(dialogues):
        played.append(await play_dialogue(make_world(seed), config, reuse_tree=reuse_tree, seed=seed))
        if on_dialogue is not None:
            on_dialogue(seed + 1)
    return summarise(played)


def summarise(played: list[DialogueScore]) -> SettingScore:
    successes = sum(d.succeeded for d in played)
    low, high = wilson_interval(successes, len(played))
    regrets = [d.regret_per_turn for d in played]
    mean_regret = statistics.mean(regrets)
    if len(set(regrets)) > 1:
        regret_low, regret_high = stats.t.interval(0.95, len(regrets) - 1, loc=mean_regret, scale=stats.sem(regrets))
    else:  # no spread (e.g. never any regret): the interval is the point
        regret_low = regret_high = mean_regret
    decisions = [s for d in played for s in d.decision_seconds]
    return SettingScore(
        dialogues=len(played),
        success=Estimate(successes / len(played), float(low), float(high)),
        regret_per_turn=Estimate(mean_regret, float(regret_low), float(regret_high)),
        seconds_per_decision=statistics.mean(decisions),
    )


@dataclass(frozen=True)
class FamilyScore:
    """A setting over a family of worlds: every world plays the same dialogue seeds."""

    played: tuple[tuple[DialogueScore, ...], ...]  # per world, per dialogue seed
    success: Estimate  # the mean over worlds of each world's success rate
    regret_per_turn: Estimate  # the mean over worlds of each world's mean regret per turn
    seconds_per_decision: float  # mean over all decisions
    chosen_once: float  # the share of decisions whose act had fewer than 2 visits

    @property
    def dialogues_per_world(self) -> int:
        return len(self.played[0])


async def score_family(
    worlds: Sequence[Callable[[int], KnownAnswers[State]]],
    config: SearchConfig,
    *,
    reuse_tree: bool,
    dialogues: int,
    on_dialogue: Callable[[int], None] | None = None,
) -> FamilyScore:
    """Play `dialogues` dialogues (seeded 0, 1, …) on every world and summarise them over worlds and dialogues."""
    played, done = [], 0
    for make_world in worlds:
        games = []
        for seed in range(dialogues):
            games.append(await play_dialogue(make_world(seed), config, reuse_tree=reuse_tree, seed=seed))
            done += 1
            if on_dialogue is not None:
                on_dialogue(done)
        played.append(tuple(games))
    successes = [[float(d.succeeded) for d in games] for games in played]
    regrets = [[d.regret_per_turn for d in games] for games in played]
    decisions = [d for games in played for d in games]
    visits = [n for d in decisions for n in d.chosen_visits]
    return FamilyScore(
        played=tuple(played),
        success=two_stage_estimate(successes),
        regret_per_turn=two_stage_estimate(regrets),
        seconds_per_decision=statistics.mean(s for d in decisions for s in d.decision_seconds),
        chosen_once=sum(n < 2 for n in visits) / len(visits),
    )


def paired_difference(new: FamilyScore, old: FamilyScore) -> Estimate:
    """new − old success, dialogue by dialogue (same world, same seeds), with a two-stage bootstrap interval."""
    return two_stage_estimate([[float(a.succeeded) - float(b.succeeded) for a, b in zip(mine, theirs)]
                               for mine, theirs in zip(new.played, old.played)])


def two_stage_estimate(groups: Sequence[Sequence[float]], resamples: int = BOOTSTRAP_RESAMPLES) -> Estimate:
    """The mean of group means, with a 95% interval over groups (worlds) and units within them (dialogues).

    A two-stage percentile bootstrap: draw worlds with replacement, then each drawn world's
    dialogues with replacement, so the interval covers both which worlds were drawn and which
    persuadees each met. Seeded, so a rerun prints the same interval.
    """
    table = np.asarray(groups, dtype=float)  # worlds × dialogues
    rng = np.random.default_rng(0)
    worlds, dialogues = table.shape
    picked = rng.integers(0, worlds, size=(resamples, worlds))
    within = rng.integers(0, dialogues, size=(resamples, worlds, dialogues))
    means = table[picked[:, :, None], within].mean(axis=(1, 2))
    low, high = np.percentile(means, [2.5, 97.5])
    return Estimate(float(table.mean()), float(low), float(high))
