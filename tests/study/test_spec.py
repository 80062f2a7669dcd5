"""Study files: the shipped study loads as the issue describes; each mistake names file and field."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gdp_zero.llm.settings import EndpointSettings, LLMSettings
from gdp_zero.study.spec import STUDIES_DIR, load_study
from tests.study.conftest import study_file_error

SHIPPED = STUDIES_DIR / "gdpzero_vs_prompting.toml"


def test_the_shipped_study_compares_gdpzero_with_prompting_as_the_issue_describes():
    study = load_study(SHIPPED)
    gdpzero, prompting = study.conditions
    config = gdpzero.search_config()
    assert (gdpzero.planner, config.simulations, config.realizations, config.q0) == ("gdpzero", 10, 3, 0.25)
    assert config.time_budget_s and config.time_budget_s > 0
    assert prompting.planner == "prompting" and prompting.search_config().time_budget_s is None
    assert gdpzero.quota == prompting.quota == 20
    assert gdpzero.label == prompting.label  # participants cannot tell the conditions apart
    assert {i.id for i in study.pre_survey} == {"donation_intention"}
    post = {i.id: i for i in study.survey_items("post")}
    for item in ("persuasive", "natural", "coherent"):
        assert (post[item].type, post[item].min, post[item].max) == ("likert", 1, 5)
    assert (post["donation_amount"].type, post["donation_amount"].min, post["donation_amount"].max) == ("number", 0, 2)
    assert "donation_intention" in post and "attention" in post
    assert [(i.id, i.type) for i in study.turn_ratings] == [("persuasive", "likert")]
    assert study.completion.redirect() == ("C1GDPZ0", "https://app.prolific.com/submissions/complete?cc=C1GDPZ0")
    assert study.completion.redirect(screened_out=True)[0] == "C1SCRN0"


BASE = SHIPPED.read_text()


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ('planner = "prompting"', 'planner = "chatgpt"', "conditions.1.planner: expected one of gdpzero, prompting, random, got 'chatgpt'"),
        ("min_turns = 3", "min_turn = 3", "chat.min_turn: unknown field"),
        ('type = "number"', 'type = "slider"', "post_survey.4.type: expected type = \"likert\", \"number\", \"choice\" or \"text\", got 'slider'"),
        ("simulations = 10", "simulations = 0", "conditions.0.search.simulations: input should be greater than or equal to 1, got 0"),
        ("q0 = 0.25", "q0 = 5.0", "conditions.0.search.q0: input should be less than or equal to 1, got 5.0"),
        ('correct = "Strongly disagree"', 'correct = "Nope"', "attention_check.correct: expected one of 'Strongly agree'"),
        ('label = "Chat partner"', 'label = "GDP-Zero bot"', "conditions.0.label: a neutral label must not name the condition or planner"),
        ("max_turns = 8 ", "max_turns = 2 ", "chat: max_turns (2) must be at least min_turns (3)"),
        ("max_turns = 8 ", "max_turns = 11 ", "chat: max_turns (11) is more than the domain 'p4g' allows (max_exchanges = 10)"),
        ("rate_from = 1 ", "rate_from = 8 ", "chat.rate_from: the chat has at most 8 bot messages (0 to 7), got 8"),
        ('planner = "prompting"', 'planner = "prompting"\nsearch = {simulations = 3}', "conditions.1.search: only the gdpzero planner takes search parameters"),
        ("q0 = 0.25", 'q0 = 0.25\n[conditions.llm]\ntemperature = "hot"', "conditions.gdpzero.llm.temperature: input should be a valid number, got 'hot'"),
        ("q0 = 0.25", '[conditions.llm]\nmodel = "gpt-4o"\napi_key = "sk-secret"', "conditions.gdpzero.llm.api_key: API keys do not belong in a study file"),
        ('labels = ["Not at all", "Slightly", "Moderately", "Very", "Extremely"]', 'labels = ["a", "b", "c"]', "post_survey.0.labels: give 5 labels (one per point) or 2 (the ends), got 3"),
        ("quota = 20\n\n[chat]", "\n[chat]", "conditions: give every condition a quota, or none"),
        ('[completion]\ncode = "C1GDPZ0"', "[completion]\n", "completion: give a completion code, a redirect_url, or both"),
        ('domain = "p4g"', 'domain = "chess"', "domain: cannot load 'chess'"),
    ],
)
def test_a_mistake_is_reported_with_the_file_and_the_field(tmp_path, old, new, expected):
    assert old in BASE
    path, message = study_file_error(tmp_path, BASE.replace(old, new, 1))
    assert message.startswith(f"{path}: ") and expected in message
    assert "sk-secret" not in message


def test_a_condition_can_run_on_its_own_model_and_keeps_the_servers_key(tmp_path):
    path = tmp_path / "own_model.toml"
    path.write_text(BASE.replace("q0 = 0.25", 'q0 = 0.25\n[conditions.llm]\nmodel = "gpt-4o"\n[conditions.llm.roles.judge]\ntemperature = 1.2'))
    study = load_study(path)
    assert study.id == "own_model"
    server = LLMSettings(default=EndpointSettings(model="gpt-4o-mini", api_key="sk-server"))
    settings = study.conditions[0].llm_settings(server)
    assert settings.for_role("policy").model == settings.for_role("judge").model == "gpt-4o"
    assert settings.for_role("judge").temperature == 1.2 and settings.for_role("policy").temperature is None
    assert settings.for_role("responder").api_key == "sk-server"
    assert study.conditions[1].llm_settings(server) is server


def test_study_check_prints_a_summary_or_the_error(tmp_path):
    run = [sys.executable, "-m", "gdp_zero.cli", "study", "check"]
    ok = subprocess.run([*run, str(SHIPPED)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "gdpzero: planner gdpzero (simulations=10, realizations=3, q0=0.25, time_budget_s=20.0), quota 20" in ok.stdout
    assert "attention check: attention in the post-survey, on failure: screen_out" in ok.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text(BASE.replace("min_turns = 3", "min_turns = -1"))
    bad = subprocess.run([*run, str(broken)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"error: {broken}: chat.min_turns: input should be greater than or equal to 0, got -1"
    missing = subprocess.run([*run, str(tmp_path / "nope.toml")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "nope.toml: file not found" in missing.stderr
