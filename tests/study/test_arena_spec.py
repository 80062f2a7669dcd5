"""A study file's [arena]: the shipped crowd arena loads; each mistake names the file and the field; `study check`
reports it; the recruitment id a crowd worker votes under is checked as the chat study's is."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gdp_zero.arena.contestants import study_arena
from gdp_zero.study.spec import STUDIES_DIR, Recruitment, load_study
from gdp_zero.validation import ConfigError
from tests.study.conftest import study_file_error

SHIPPED = STUDIES_DIR / "crowd_arena.toml"
BASE = SHIPPED.read_text()


def test_the_shipped_crowd_arena_declares_contestants_votes_and_a_code():
    study = load_study(SHIPPED)
    assert study.arena is not None and study.conditions == ()
    assert (study.arena.votes_required, study.arena.most_votes, study.arena.votes_per_address_per_hour) == (5, 8, 40)
    searched, prompting = study.arena.contestants
    assert (searched.planner, searched.search_config().simulations, prompting.planner) == ("gdpzero", 10, "prompting")
    assert study.completion.redirect()[0] == "CARENA01"
    arena = study_arena(study)  # the arena the votes are stored under: the study's id
    assert (arena.id, arena.names, arena.domain) == ("crowd_arena", ["gdpzero_n10", "prompting"], "p4g")


def test_max_votes_defaults_to_the_votes_required(tmp_path):
    path = tmp_path / "arena.toml"
    path.write_text(BASE.replace("max_votes = 8 ", "# no max_votes "))
    assert load_study(path).arena.most_votes == 5


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("max_votes = 8 ", "max_votes = 3 ", "arena: max_votes (3) must be at least votes_required (5)"),
        ("votes_required = 5 ", "votes_required = 0 ", "arena.votes_required: input should be greater than or equal to 1, got 0"),
        ("votes_per_address_per_hour = 40", "votes_per_hour = 40", "arena.votes_per_hour: unknown field"),
        ('name = "prompting"', 'name = "gdpzero_n10"', "arena.contestants: names must be unique"),
        ('name = "prompting"', 'name = "Prompting!"', "arena.contestants.1.name: string should match pattern"),
        ('planner = "prompting"', 'planner = "chatgpt"', "arena.contestants.1.planner: expected one of gdpzero, prompting, random"),
        ('planner = "prompting"', 'planner = "prompting"\nsearch = { simulations = 3 }',
         "arena.contestants.1.search: only the gdpzero planner takes search parameters"),
        ("search = { simulations = 10, realizations = 3 }", "search = { simulations = 10, q0 = 7.0 }",
         "arena.contestants.0.search.q0: input should be less than or equal to 1, got 7.0"),
        ('# llm = { model = "gpt-4o" }', 'llm = { model = "gpt-4o", api_key = "sk-secret" }',
         "arena.contestants.prompting.llm.api_key: API keys do not belong in a file that declares an arena"),
        ("[arena]", '[[conditions]]\nname = "x"\nlabel = "Partner"\nplanner = "prompting"\n\n[arena]',
         "conditions: an arena study draws its contestants from [arena]; remove [[conditions]]"),
        ("[arena]", '[[post_survey]]\nid = "q"\ntype = "text"\ntext = "Why?"\n\n[arena]',
         "post_survey: an arena study has none (its rounds are voted on); remove it"),
        ("[arena]", "[chat]\nmax_turns = 4\n\n[arena]", "chat: an arena study has none (its rounds are voted on); remove it"),
        ('id_pattern = "prolific" ', 'id_pattern = "(" ', "recruitment.id_pattern: not a regular expression"),
    ],
)
def test_an_arena_mistake_names_the_file_and_the_field(tmp_path, old, new, expected):
    assert old in BASE
    path, message = study_file_error(tmp_path, BASE.replace(old, new, 1))
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "sk-secret" not in message


def test_a_study_without_conditions_or_an_arena_names_what_is_missing(tmp_path):
    path = tmp_path / "empty.toml"
    path.write_text('title = "x"\n[consent]\ntext = "t"\n[completion]\ncode = "C"\n')
    with pytest.raises(ConfigError, match=r"empty.toml: conditions: give at least one \[\[conditions\]\] table, or an \[arena\]"):
        load_study(path)


def test_study_check_reports_the_arena(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gdp_zero.cli", "study", "check", str(SHIPPED)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "crowd arena: 5 votes for the completion code, at most 8 per participant, 40 per address an hour" in done.stdout
    assert "gdpzero_n10: planner gdpzero (simulations=10, realizations=3, time_budget_s=20.0)" in done.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text(BASE.replace("max_votes = 8 ", "max_votes = 3 "))
    done = subprocess.run([sys.executable, "-m", "gdp_zero.cli", "study", "check", str(broken)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "arena: max_votes (3) must be at least votes_required (5)" in done.stderr


@pytest.mark.parametrize("participant_id, accepted", [
    ("5f1a2b3c4d5e6f7a8b9c0d1e", True),
    ("5F1A2B3C4D5E6F7A8B9C0D1E", True),
    ("5f1a2b3c4d5e6f7a8b9c0d1", False),  # 23 digits
    ("not-a-prolific-id", False),
    ("5f1a2b3c4d5e6f7a8b9c0d1e<script>", False),
])
def test_a_recruitment_id_is_checked_against_the_platforms_form(participant_id, accepted):
    assert Recruitment(id_pattern="prolific").accepts_id(participant_id) is accepted


def test_without_a_form_any_id_that_a_column_can_hold_is_accepted():
    rules = Recruitment()
    assert rules.accepts_id("PID-wide_1") and not rules.accepts_id("a b") and not rules.accepts_id("x" * 201)
