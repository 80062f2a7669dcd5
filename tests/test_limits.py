"""gdp_zero/serving/limits.py on its own: settings from `gdp-zero ui` flags, refusals that say what to do."""

from __future__ import annotations

import pytest

from gdp_zero.cli import build_parser
from gdp_zero.cli.options import limit_settings
from gdp_zero.serving.limits import ClientLimits, LimitExceeded, LimitSettings


def test_gdp_zero_ui_flags_set_the_limits() -> None:
    args = build_parser().parse_args(["ui", "--max-sessions", "50", "--max-sessions-per-client", "3",
                                      "--turns-per-minute", "6", "--max-turns-in-flight", "4", "--idle-minutes", "2.5"])
    assert limit_settings(args) == LimitSettings(
        max_sessions=50, max_sessions_per_client=3, turns_per_minute=6, max_turns_in_flight=4, idle_timeout_s=150.0
    )
    assert limit_settings(build_parser().parse_args(["ui"])) == LimitSettings()


@pytest.mark.parametrize(("flag", "value"), [("--turns-per-minute", "0"), ("--max-sessions", "many"), ("--idle-minutes", "inf")])
def test_a_bad_limit_flag_names_the_flag_and_the_value(flag: str, value: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["ui", flag, value])
    error = capsys.readouterr().err
    assert flag in error and repr(value) in error and "expected a" in error


def test_settings_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_turns_in_flight must be positive, got 0"):
        LimitSettings(max_turns_in_flight=0)


def test_a_released_turn_frees_its_slot_once() -> None:
    limits = ClientLimits(LimitSettings(max_turns_in_flight=1, turns_per_minute=100))
    release = limits.start_turn("10.0.0.1")
    with pytest.raises(LimitExceeded, match="server is busy"):
        limits.start_turn("10.0.0.2")
    release()
    release()  # a second call (a cancelled turn, say) must not free a slot it does not hold
    other = limits.start_turn("10.0.0.2")
    with pytest.raises(LimitExceeded):
        limits.start_turn("10.0.0.3")
    other()
    assert limits.snapshot()["turns_in_flight"] == 0
