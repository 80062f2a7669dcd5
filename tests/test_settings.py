"""One check of the planner's numbers, used by the CLI flags and the web app's controls."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from gdp_zero.planners import GDPZeroConfig
from gdp_zero.planners.checks import InvalidSetting, Limits, check_search

BASE = GDPZeroConfig()


@pytest.mark.parametrize("setting, value, problem", [
    ("simulations", 0, "at least 1"),
    ("realizations", -1, "at least 1"),
    ("prior_samples", 0, "at least 1"),
    ("value_samples", 0, "at least 1"),
    ("concurrency", 0, "at least 1"),
    ("simulations", 2.5, "whole number"),
    ("q0", math.nan, "finite"),
    ("q0", 5.0, "between -1 and 1"),
    ("q0", -1.5, "between -1 and 1"),
    ("c_puct", -1.0, "at least 0"),
    ("c_puct", math.inf, "finite"),
    ("time_budget_s", 0.0, "more than 0"),
    ("time_budget_s", math.nan, "finite"),
    ("root", "alphazero", "must be one of puct, gumbel"),
])
def test_each_rule_names_its_setting(setting: str, value: float, problem: str) -> None:
    with pytest.raises(InvalidSetting) as raised:
        check_search(replace(BASE, **{setting: value}))
    assert raised.value.setting == setting and problem in raised.value.problem


def test_valid_settings_pass_unchanged() -> None:
    config = replace(BASE, q0=-1.0, c_puct=0.0, time_budget_s=0.5, simulations=1)
    assert check_search(config) is config
    assert check_search(GDPZeroConfig.sequential()) is not None


def test_a_shared_server_adds_its_limits() -> None:
    limits = Limits(simulations=200, realizations=10, time_budget_s=300.0)
    check_search(replace(BASE, simulations=200, realizations=10, time_budget_s=300.0), limits)
    for setting, value in (("simulations", 201), ("realizations", 11), ("time_budget_s", 1e9)):
        with pytest.raises(InvalidSetting) as raised:
            check_search(replace(BASE, **{setting: value}), limits)
        assert raised.value.setting == setting and "on this server" in raised.value.problem
