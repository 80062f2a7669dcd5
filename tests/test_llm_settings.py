"""load_llm_settings: TOML, environment and argument precedence, and one-line config errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from gdp_zero.llm import ROLES, ConfigError, EndpointSettings, LLMSettings, load_llm_settings
from gdp_zero.llm.settings import ROLE_MAX_TOKENS, redact_url

CONFIG = """
[llm]
model = "gpt-4o-mini"
base_url = "http://127.0.0.1:8000/v1"
max_concurrency = 8
seed = 1

[llm.roles.user_simulator]
model = "other-model"
temperature = 1.1

[llm.roles.policy]
api = "completions"

[search]  # other components' tables are theirs to validate
simulations = 10
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_without_file_or_env() -> None:
    settings = load_llm_settings(env={})
    assert settings.default == EndpointSettings()
    assert set(settings.roles) == set(ROLES)
    assert settings.for_role("judge") == replace(settings.default, max_tokens=ROLE_MAX_TOKENS["judge"])
    assert settings.for_role("not-a-role") == settings.default
    assert (settings.max_concurrency, settings.seed) == (32, None)


def test_toml_file_and_role_tables(tmp_path: Path) -> None:
    settings = load_llm_settings(_write(tmp_path, CONFIG), env={})
    assert settings.default.base_url == "http://127.0.0.1:8000/v1"
    assert settings.seed == 1
    simulator = settings.for_role("user_simulator")
    assert (simulator.model, simulator.temperature, simulator.base_url) == (
        "other-model", 1.1, "http://127.0.0.1:8000/v1"
    )
    assert settings.for_role("policy").api == "completions"
    assert settings.for_role("judge").api == "chat"


def test_precedence_file_env_overrides(tmp_path: Path) -> None:
    env = {"OPENAI_MODEL": "env-model", "OPENAI_BASE_URL": "http://127.0.0.1:9000/v1", "OPENAI_API_KEY": "sk-env"}
    settings = load_llm_settings(
        _write(tmp_path, CONFIG), env=env, model="arg-model", seed=None, max_concurrency=2, timeout_s=5.0
    )
    assert settings.default.model == "arg-model"  # overrides beat the environment
    assert settings.default.base_url == "http://127.0.0.1:9000/v1"  # the environment beats the file
    assert settings.default.api_key == "sk-env"
    assert settings.seed == 1  # None overrides are ignored
    assert (settings.max_concurrency, settings.default.timeout_s) == (2, 5.0)
    assert settings.for_role("user_simulator").model == "other-model"  # an explicit role table still wins
    assert settings.for_role("judge").model == "arg-model"


def test_azure_from_environment() -> None:
    env = {
        "OPENAI_API_KEY": "sk-plain",
        "AZURE_OPENAI_API_KEY": "azure-secret",
        "AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com",
        "OPENAI_API_VERSION": "2024-06-01",
    }
    default = load_llm_settings(env=env).default
    assert (default.provider, default.api_key, default.azure_api_version) == ("azure", "azure-secret", "2024-06-01")
    assert default.base_url == "https://example.openai.azure.com"


def test_azure_needs_an_api_version() -> None:
    env = {"AZURE_OPENAI_API_KEY": "k", "AZURE_OPENAI_ENDPOINT": "https://example.openai.azure.com"}
    with pytest.raises(ConfigError, match="llm.azure_api_version: required when provider is 'azure'"):
        load_llm_settings(env=env)


def test_max_tokens_per_role_from_defaults_file_and_arguments(tmp_path: Path) -> None:
    defaults = load_llm_settings(env={})
    assert {role: defaults.for_role(role).max_tokens for role in ROLES} == ROLE_MAX_TOKENS
    assert defaults.for_role("policy").max_tokens < defaults.for_role("responder").max_tokens

    text = "[llm]\nmax_tokens = 300\n[llm.roles.judge]\nmax_tokens = 5\n"
    configured = load_llm_settings(_write(tmp_path, text), env={})
    assert configured.for_role("judge").max_tokens == 5  # the role's own table
    assert configured.for_role("responder").max_tokens == 300  # [llm] sets every other role
    assert load_llm_settings(env={}, max_tokens=50).for_role("policy").max_tokens == 50
    public = configured.public_dict()["roles"]
    assert (public["judge"]["max_tokens"], public["policy"]["max_tokens"]) == (5, 300)


def test_credentials_in_a_base_url_are_never_shown() -> None:
    url = "http://alice:Pa55-SECRET@llm.internal:8000/v1"
    settings = load_llm_settings(env={"OPENAI_BASE_URL": url})
    assert settings.default.request_url == url  # requests still carry them
    assert settings.default.url == "http://***@llm.internal:8000/v1"  # messages and logs do not
    assert "SECRET" not in json.dumps(settings.public_dict())
    assert "alice" not in json.dumps(settings.public_dict())
    assert "SECRET" not in repr(settings.default.url)
    assert redact_url(f"failed: {url}/chat/completions (see https://u@x.org/a?b=c@d)") == (
        "failed: http://***@llm.internal:8000/v1/chat/completions (see https://***@x.org/a?b=c@d)"
    )
    assert redact_url("http://127.0.0.1:8000/v1 mail me at a@b.org") == "http://127.0.0.1:8000/v1 mail me at a@b.org"


def test_api_key_is_never_shown(tmp_path: Path) -> None:
    settings = load_llm_settings(env={"OPENAI_API_KEY": "sk-very-secret"})
    assert "sk-very-secret" not in repr(settings)
    public = json.dumps(settings.public_dict())
    assert "sk-very-secret" not in public
    assert settings.public_dict()["default"]["api_key_set"] is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[llm.roles.judge]\ntemperature = "hot"',
            "config.toml: llm.roles.judge.temperature: input should be a valid number, got 'hot'",
        ),
        ("[llm.roles.judge]\ntemperature = 3.5", "temperature: input should be less than or equal to 2, got 3.5"),
        ('[llm]\nmax_concurrency = "8"', "llm.max_concurrency: input should be a valid integer"),
        ("[llm]\nmodle = 'x'", "llm.modle: unknown key; expected one of model, base_url"),
        ("[llm.roles.judgee]\nmodel = 'x'", "llm.roles.judgee: unknown role; expected one of policy, responder"),
        ("[llm.roles.judge]\nfoo = 1", "llm.roles.judge.foo: unknown key; expected one of model"),
        ("[llm]\napi = 'responses'", "llm.api: input should be 'chat' or 'completions', got 'responses'"),
        ("[llm]\nbase_url = '127.0.0.1:8000'", "llm.base_url: expected an http:// or https:// URL"),
        ("[llm]\napi_key = 12345", "llm.api_key: input should be a valid string, got <hidden>"),
        ("[llm]\nroles = 3", "llm.roles: input should be a table, got 3"),
        ("llm = 3", "llm: expected a table [llm], got int"),
    ],
)
def test_invalid_files_give_one_line_naming_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_llm_settings(path, env={})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ": ")
    assert expected in message


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[llm]\nmodel = "a"\nseed = = 1\n')
    with pytest.raises(ConfigError, match=r"config\.toml: not valid TOML .*line 3"):
        load_llm_settings(path, env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found"):
        load_llm_settings(tmp_path / "nope.toml", env={})


def test_bad_overrides() -> None:
    with pytest.raises(ConfigError, match="arguments: max_concurrency: input should be greater than or equal to 1"):
        load_llm_settings(env={}, max_concurrency=0)
    with pytest.raises(TypeError, match="unknown overrides: colour"):
        load_llm_settings(env={}, colour="blue")


def test_settings_are_plain_frozen_values() -> None:
    settings = LLMSettings(default=EndpointSettings(model="m"))
    assert settings.for_role("policy").model == "m"
    with pytest.raises(AttributeError):
        settings.default.model = "x"  # type: ignore[misc]
