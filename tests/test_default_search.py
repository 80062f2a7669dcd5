"""The product's default search against the published one on the worlds with known answers.

The README's claim, kept true: within 10 L of wall time per decision the default search succeeds
at least as often as the published search does at n = 50. Both worlds are seeded and run on the
virtual clock, so the figures are exact reruns of the README's benchmark (on fewer dialogues),
not timings of this machine.
"""

from __future__ import annotations

from typing import Callable

import pytest

from gdp_zero.mcts.known_world import KnownPersuasionWorld
from gdp_zero.mcts.scoring import KnownAnswers, SettingScore, score_setting
from gdp_zero.mcts.toy import ToyEnvironment
from gdp_zero.mcts.virtual_clock import run_with_virtual_clock
from gdp_zero.planners import GDPZeroConfig

L = 1.0
DIALOGUES = 300  # the minimum per row
WORLDS: dict[str, Callable[[int], KnownAnswers]] = {
    "persuasion": lambda seed: KnownPersuasionWorld(seed=seed, latency_s=L),
    "toy": lambda seed: ToyEnvironment(seed=seed, latency_s=L),
}


def scored(world: str, config: GDPZeroConfig) -> SettingScore:
    return run_with_virtual_clock(score_setting(WORLDS[world], config.search_config(), reuse_tree=config.reuse_tree,
                                                dialogues=DIALOGUES))


@pytest.mark.parametrize("world", list(WORLDS))
def test_within_10_L_the_default_succeeds_as_often_as_the_published_search_at_n_50(world: str) -> None:
    default = scored(world, GDPZeroConfig())
    published = scored(world, GDPZeroConfig.sequential(simulations=50))
    assert default.seconds_per_decision <= 10 * L
    assert published.seconds_per_decision > 100 * L
    assert default.success.mean >= published.success.mean, (default.success, published.success)
