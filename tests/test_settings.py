"""One settings model: its field types are the only rules, and the CLI, the app and study files all use them."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path
from types import UnionType
from typing import Annotated, Union, get_args, get_origin, get_type_hints

import pytest
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from gdp_zero.mcts.config import InvalidSetting, Limits, SearchConfig, changed, checked, within_limits
from gdp_zero.planners.gdpzero import GDPZeroConfig

BASE = GDPZeroConfig()
STUDY = Path(__file__).parents[1] / "studies" / "gdpzero_vs_prompting.toml"


@pytest.mark.parametrize("setting, value, problem", [
    ("simulations", 0, "at least 1"),
    ("realizations", -1, "at least 1"),
    ("prior_samples", 0, "at least 1"),
    ("value_samples", 0, "at least 1"),
    ("concurrency", 0, "at least 1"),
    ("considered_acts", 0, "at least 1"),
    ("simulations", 2.5, "whole number"),
    ("simulations", True, "whole number"),
    ("q0", math.nan, "finite"),
    ("q0", 5.0, "between -1 and 1"),
    ("q0", -1.5, "between -1 and 1"),
    ("c_puct", -1.0, "at least 0"),
    ("c_puct", math.inf, "finite"),
    ("gumbel_scale", -1.0, "at least 0"),
    ("time_budget_s", 0.0, "more than 0"),
    ("time_budget_s", math.nan, "finite"),
    ("root", "alphazero", "must be one of puct, gumbel"),
    ("choose_by", "luck", "must be one of"),
    ("waves", 0, "at least 1"),
    ("shrinkage", -1.0, "at least 0"),
    ("min_visits", 0, "at least 1"),
])
def test_each_rule_names_its_setting(setting: str, value: object, problem: str) -> None:
    with pytest.raises(InvalidSetting) as raised:
        changed(BASE, **{setting: value})
    assert raised.value.setting == setting and problem in raised.value.problem
    with pytest.raises(ValidationError):  # the same rule holds however the settings are made
        replace(BASE, **{setting: value})


def test_valid_settings_pass_and_an_unknown_one_is_named() -> None:
    config = changed(BASE, q0=-1.0, c_puct=0.0, time_budget_s=0.5, simulations=1)
    assert (config.q0, config.simulations) == (-1.0, 1)
    assert GDPZeroConfig.sequential().concurrency == 1
    with pytest.raises(InvalidSetting) as raised:
        checked(GDPZeroConfig, simulatons=5)
    assert raised.value.setting == "simulatons" and "not a setting" in raised.value.problem


def test_the_planner_keeps_the_search_defaults_and_the_search_reads_them() -> None:
    search_fields = {f.name for f in fields(SearchConfig)}
    assert {f.name: getattr(BASE, f.name) for f in fields(SearchConfig)} == {
        f.name: getattr(SearchConfig(), f.name) for f in fields(SearchConfig)}
    assert {f.name for f in fields(BASE.search_config())} == search_fields
    assert changed(BASE, open_loop=False).search_config().realizations == 1


def test_a_shared_server_adds_its_limits() -> None:
    limits = Limits(simulations=200, realizations=10, time_budget_s=300.0)
    within_limits(changed(BASE, simulations=200, realizations=10, time_budget_s=300.0), limits)
    for setting, value in (("simulations", 201), ("realizations", 11), ("time_budget_s", 1e9)):
        with pytest.raises(InvalidSetting) as raised:
            within_limits(changed(BASE, **{setting: value}), limits)
        assert raised.value.setting == setting and "on this server" in raised.value.problem


def _rules(hint: object) -> list[object]:
    """The constraints in a field's type, through `X | None` and `Annotated` (a rule may sit inside either)."""
    if get_origin(hint) is Annotated:
        base, *extras = get_args(hint)
        return [*_rules(base), *(rule for extra in extras for rule in (extra.metadata if isinstance(extra, FieldInfo) else [extra]))]
    if get_origin(hint) in (Union, UnionType):
        return [rule for arg in get_args(hint) for rule in _rules(arg)]
    return []


def _out_of_range() -> list[tuple[str, object]]:
    """For every constrained field of the model, a value just outside each of its bounds, and infinity where
    the number must be finite."""
    cases: list[tuple[str, object]] = []
    for name, hint in get_type_hints(GDPZeroConfig, include_extras=True).items():
        for rule in _rules(hint):
            for bound, step in (("ge", -1), ("gt", 0), ("le", +1)):
                if hasattr(rule, bound):
                    cases.append((name, getattr(rule, bound) + step))
            if getattr(rule, "allow_inf_nan", True) is False:
                cases.append((name, math.inf))
    return cases


def _study_with(tmp_path: Path, setting: str, value: object) -> Path:
    """The shipped study with its first condition setting `setting` to `value`: in its search table, or
    among the condition's own keys for a setting the condition holds itself (its time budget)."""
    from gdp_zero.study.spec import SearchTable

    marker = "[conditions.search]\n" if setting in SearchTable.model_fields else "[[conditions]]\n"
    head, found, rest = STUDY.read_text().partition(marker)
    assert found, f"the shipped study has a {marker.strip()} table"
    table, blank, tail = rest.partition("\n\n")
    kept = [line for line in table.splitlines() if not line.startswith(f"{setting} ")]
    study = tmp_path / "study.toml"
    study.write_text(head + marker + "\n".join([f"{setting} = {value!r}", *kept]) + "\n" + blank + tail)
    return study


@pytest.mark.parametrize("setting, value", _out_of_range())
def test_study_check_refuses_every_setting_the_search_refuses(tmp_path: Path, setting: str, value: object) -> None:
    from gdp_zero.study.spec import load_study
    from gdp_zero.validation import ConfigError

    with pytest.raises(InvalidSetting):
        changed(BASE, **{setting: value})
    with pytest.raises(ConfigError, match=setting):
        load_study(_study_with(tmp_path, setting, value))


def test_study_check_command_fails_on_the_issue_case(tmp_path: Path) -> None:
    study = _study_with(tmp_path, "considered_acts", 0)
    result = subprocess.run([sys.executable, "-m", "gdp_zero.cli", "study", "check", str(study)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "considered_acts" in result.stderr, result.stdout + result.stderr
    assert load_ok(tmp_path)


def load_ok(tmp_path: Path) -> bool:
    from gdp_zero.study.spec import load_study

    return load_study(_study_with(tmp_path, "considered_acts", 4)).conditions[0].search_config().considered_acts == 4
