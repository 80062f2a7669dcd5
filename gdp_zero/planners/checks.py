"""The rules a planner's numbers must follow: one check for the CLI flags and the web app's controls.

Each problem names the setting (a `GDPZeroConfig` field) and says what was expected, so the
CLI can name its flag and the app its control. A shared server adds `Limits` on top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gdp_zero.mcts.search import ROOT_RULES
from gdp_zero.planners.gdpzero import GDPZeroConfig

Q0_RANGE = (-1.0, 1.0)  # values live in [-1, 1]; an untried act's Q outside it is meaningless


@dataclass(frozen=True)
class Limits:
    """What a server shared by many people allows per turn; None: no limit."""

    simulations: int | None = None
    realizations: int | None = None
    time_budget_s: float | None = None


class InvalidSetting(ValueError):
    """A planner number out of range; `setting` is the GDPZeroConfig field, `problem` says why."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


def check_search(config: GDPZeroConfig, limits: Limits = Limits()) -> GDPZeroConfig:
    """`config` if every number is allowed, else InvalidSetting for the first that is not."""
    for setting, most in (
        ("simulations", limits.simulations),
        ("realizations", limits.realizations),
        ("prior_samples", None),
        ("value_samples", None),
        ("concurrency", None),
    ):
        _whole_number(setting, getattr(config, setting), most)
    low, high = Q0_RANGE
    _number("q0", config.q0, low=low, high=high)
    _number("c_puct", config.c_puct, low=0.0)
    if config.time_budget_s is not None:
        _number("time_budget_s", config.time_budget_s, above=0.0, high=limits.time_budget_s)
    if config.root not in ROOT_RULES:
        raise InvalidSetting("root", f"must be one of {', '.join(ROOT_RULES)}, got {config.root!r}")
    return config


def _whole_number(setting: str, value: object, most: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSetting(setting, f"must be a whole number, got {value!r}")
    if value < 1:
        raise InvalidSetting(setting, f"must be at least 1, got {value}")
    if most is not None and value > most:
        raise InvalidSetting(setting, f"must be at most {most} on this server, got {value}")


def _number(setting: str, value: float, *, low: float | None = None, above: float | None = None,
            high: float | None = None) -> None:
    if not math.isfinite(value):
        raise InvalidSetting(setting, f"must be a finite number, got {value}")
    if low is not None and value < low:
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise InvalidSetting(setting, f"must be {bound}, got {value:g}")
    if above is not None and value <= above:
        raise InvalidSetting(setting, f"must be more than {above:g}, got {value:g}")
    if high is not None and value > high:
        bound = f"between {low:g} and {high:g}" if low is not None else f"at most {high:g} on this server"
        raise InvalidSetting(setting, f"must be {bound}, got {value:g}")
