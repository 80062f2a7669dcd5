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
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, TypeVar

from scipy import stats

from gdp_zero.intervals import wilson_interval
from gdp_zero.mcts.model import SearchModel, Transition
from gdp_zero.mcts.config import SearchConfig
from gdp_zero.mcts.search import search
from gdp_zero.mcts.tree import Realization

State = TypeVar("State")


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
    slowest_decision_s: float
    simulations_per_decision: float


async def play_dialogue(
    world: KnownAnswers[State], config: SearchConfig, *, reuse_tree: bool, seed: int
) -> DialogueScore:
    """Plan every persuader turn with `config` until the world says the dialogue is over."""
    search_rng, persuadee_rng = random.Random(seed), random.Random(f"persuadee {seed}")
    state, tree = world.start_state(), None
    chosen, regrets, seconds, simulations, reused = [], [], [], [], []
    while not world.finished(state):
        result = await search(world, state, config, rng=search_rng, tree=tree)
        act = result.chosen_act()
        values = world.act_values(state)
        chosen.append(act)
        regrets.append(max(values.values()) - values[act])
        seconds.append(result.seconds)
        simulations.append(len(result.simulations))
        reused.append(result.reused_simulations)
        real = world.respond(state, act, persuadee_rng)
        exchange = Realization(real.state, real.utterance, real.reply, real.reply_act, real.terminal_value)
        tree = result.advance(act, exchange) if reuse_tree else None
        state = real.state
    return DialogueScore(chosen, regrets, seconds, simulations, reused, world.succeeded(state))


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
        slowest_decision_s=max(decisions),
        simulations_per_decision=statistics.mean(s for d in played for s in d.simulations),
    )
