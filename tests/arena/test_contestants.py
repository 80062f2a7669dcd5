"""Arena files: the shipped one loads; each mistake is one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from gdp_zero.arena.contestants import load_arena
from gdp_zero.study.spec import STUDIES_DIR
from gdp_zero.validation import ConfigError

SHIPPED = STUDIES_DIR / "arena_planners.toml"


def test_the_shipped_arena_loads_with_its_contestants():
    arena = load_arena(SHIPPED)
    assert arena.id == "planners" and arena.names == ["gdpzero_default", "gdpzero_n10", "prompting"]
    assert arena.by_name["gdpzero_n10"].search_config().simulations == 10
    assert arena.by_name["gdpzero_default"].search_config().simulations == 30


def test_a_contestant_gets_its_own_model_over_the_server_settings(make_settings):
    arena_file = Path(__file__).parent / "two_models.toml"
    arena = load_arena(arena_file)
    settings = make_settings("http://127.0.0.1:9/v1")
    small, large = (arena.by_name[n].public_dict(settings)["models"] for n in ("prompting_small", "prompting_large"))
    assert set(small.values()) == {"fake-model"} and set(large.values()) == {"fake-large"}
    assert arena.id == "two_models"  # from the file's name


def test_an_arena_needs_two_contestants(tmp_path):
    path = tmp_path / "alone.toml"
    path.write_text(SECOND, encoding="utf-8")
    with pytest.raises(ConfigError, match="contestants: .*at least 2 items"):
        load_arena(path)


SECOND = '[[contestants]]\nname = "b"\nplanner = "random"\n'


@pytest.mark.parametrize("first, problem", [
    ('[[contestants]]\nname = "a"\nplanner = "mcts"\n', "contestants.0.planner: expected one of gdpzero, prompting, random"),
    ('[[contestants]]\nname = "a"\nplanner = "prompting"\nsearch = { simulations = 5 }\n',
     "only the gdpzero planner takes search parameters"),
    ('[[contestants]]\nname = "a"\nplanner = "gdpzero"\nsearch = { simulations = 0 }\n', "search.simulations"),
    ('[[contestants]]\nname = "a"\nplanner = "gdpzero"\nllm = { api_key = "sk-secret" }\n',
     "contestants.a.llm.api_key: API keys do not belong"),
    ('[[contestants]]\nname = "a"\nplanner = "gdpzero"\nllm = { modle = "x" }\n', "contestants.a.llm.modle: unknown key"),
    ('[[contestants]]\nname = "b"\nplanner = "gdpzero"\n', "names must be unique"),
])
def test_mistakes_are_one_line_naming_the_field(tmp_path, first, problem):
    path = tmp_path / "arena.toml"
    path.write_text(first + SECOND, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_arena(path)
    assert problem in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value) and "sk-secret" not in str(raised.value)
