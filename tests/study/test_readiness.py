"""Before a study serves anyone: no demo LLM unless a pilot asks for it, and every condition's model served."""

from __future__ import annotations

import pytest

from gdp_zero.study.readiness import check_condition_models, refuse_demo
from gdp_zero.study.spec import load_study
from gdp_zero.validation import ConfigError


@pytest.mark.parametrize("mode", ["fake", "local"])
def test_the_demo_and_the_tiny_local_model_are_refused_unless_allowed(mode: str) -> None:
    with pytest.raises(ConfigError, match="--allow-demo"):
        refuse_demo(mode, allow_demo=False)
    refuse_demo(mode, allow_demo=True)
    refuse_demo("openai", allow_demo=False)


def test_every_conditions_model_is_asked_for_and_a_missing_one_is_named(fake_server, make_settings, small_study_file) -> None:
    study = load_study(small_study_file)
    settings = make_settings(fake_server.base_url)
    check_condition_models(study, settings)  # both conditions on the server's fake-model
    own_model = study.conditions[1].model_copy(update={"llm": {"model": "gpt-not-served"}})
    study = study.model_copy(update={"conditions": (study.conditions[0], own_model)})
    with pytest.raises(ConfigError) as refused:
        check_condition_models(study, settings)
    message = str(refused.value)
    assert message.startswith("condition 'prompting': ") and "gpt-not-served" in message and "\n" not in message
