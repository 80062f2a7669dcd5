"""Per-role LLM endpoint settings, merged from defaults, a TOML file, the environment and arguments."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from gdp_zero.validation import ConfigError, describe_problem, describe_validation_error, read_toml

# "evaluator" compares two replies in the static evaluation (gdp_zero.evaluation.static), not in a chat.
# The debate value ("advocate", "debate_judge") and the reflection memory ("reflection", "embedding":
# /v1/embeddings, so its model must be an embedding model) are options of the planner.
ROLES = (
    "policy", "responder", "user_simulator", "judge", "act_tagger", "evaluator",
    "advocate", "debate_judge", "reflection", "embedding",
)
# Each role's reply length in tokens unless the config says otherwise: an act label, or a line of
# one or two sentences (the prompting planner writes as the responder), or the judge's answer.
ROLE_MAX_TOKENS = {
    "policy": 16, "responder": 120, "user_simulator": 100, "judge": 60, "act_tagger": 16, "evaluator": 16,
    "advocate": 120, "debate_judge": 16, "reflection": 160, "embedding": 1,
}
OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class EndpointSettings:
    model: str = "gpt-4o-mini"
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api: Literal["chat", "completions"] = "chat"
    provider: Literal["openai", "azure"] = "openai"
    azure_api_version: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 200
    # None leaves the temperature to the calling role, which knows what it needs (e.g. 1.1 to sample users).
    temperature: float | None = None

    @property
    def request_url(self) -> str:
        """The base URL requests go to, credentials included: for the SDK only, never shown."""
        return (self.base_url or OPENAI_BASE_URL).rstrip("/")

    @property
    def url(self) -> str:
        """The base URL requests go to, for messages and logs: user name and password hidden."""
        return redact_url(self.request_url)

    def public_dict(self) -> dict[str, Any]:
        public = asdict(self)
        del public["api_key"]
        public["base_url"] = None if self.base_url is None else redact_url(self.base_url)
        public["api_key_set"] = self.api_key is not None
        return public


@dataclass(frozen=True)
class LLMSettings:
    default: EndpointSettings
    roles: Mapping[str, EndpointSettings] = field(default_factory=dict)
    # A wave of 16 concurrent simulations asks for a prior and a value each: 32 requests at once.
    max_concurrency: int = 32
    max_retries: int = 4
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    # Each call gets seed + a running counter: reruns reproduce, yet samples within a run differ.
    seed: int | None = None
    # The addresses of the built-in servers (the fake, the local model), each on a fresh port at every
    # start, by what they are: a run's conditions name the server, not its port (set by gdp_zero.backends).
    builtin_urls: Mapping[str, str] = field(default_factory=dict)

    def for_role(self, role: str) -> EndpointSettings:
        return self.roles.get(role, self.default)

    def models_by_role(self) -> dict[str, str]:
        return {role: self.for_role(role).model for role in ROLES}

    def public_dict(self) -> dict[str, Any]:
        return {
            "default": self.default.public_dict(),
            "roles": {role: ep.public_dict() for role, ep in self.roles.items()},
            "max_concurrency": self.max_concurrency,
            "max_retries": self.max_retries,
            "backoff_base_s": self.backoff_base_s,
            "backoff_max_s": self.backoff_max_s,
            "seed": self.seed,
        }


# The userinfo part of a URL (http://user:password@host): up to the authority's last "@".
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s]*@")


def redact_url(text: str) -> str:
    """`text` with the userinfo of every URL in it replaced by ***: http://***@host/v1."""
    return _USERINFO.sub(r"\1***@", text)


def without_userinfo(url: str) -> str:
    """`url` without a user name and password: http://user:pass@host/v1 -> http://host/v1."""
    return _USERINFO.sub(r"\1", url)


_ENDPOINT_FIELDS = tuple(f.name for f in fields(EndpointSettings))
_TOP_LEVEL_FIELDS = tuple(f.name for f in fields(LLMSettings) if f.name not in ("default", "roles", "builtin_urls"))

_Temperature = Annotated[float, Field(ge=0, le=2)]
_Positive = Annotated[float, Field(gt=0)]
_NonNegative = Annotated[float, Field(ge=0)]


class _EndpointTable(BaseModel):
    # strict: a TOML string "60" where a number belongs is a mistake worth reporting, not coercing.
    model_config = ConfigDict(extra="forbid", strict=True)

    model: Annotated[str, Field(min_length=1)] | None = None
    base_url: str | None = None
    api_key: str | None = None
    api: Literal["chat", "completions"] | None = None
    provider: Literal["openai", "azure"] | None = None
    azure_api_version: str | None = None
    timeout_s: _Positive | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: _Temperature | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value


_ROLE_FIELDS: dict[str, Any] = {role: (_EndpointTable | None, None) for role in ROLES}
_RolesTable = create_model("_RolesTable", __config__=ConfigDict(extra="forbid", strict=True), **_ROLE_FIELDS)


class _LLMTable(_EndpointTable):
    max_concurrency: Annotated[int, Field(ge=1)] | None = None
    max_retries: Annotated[int, Field(ge=0)] | None = None
    backoff_base_s: _NonNegative | None = None
    backoff_max_s: _NonNegative | None = None
    seed: int | None = None
    roles: _RolesTable | None = None


_ENV_FIELDS = {
    "OPENAI_API_KEY": "api_key",
    "OPENAI_BASE_URL": "base_url",
    "OPENAI_MODEL": "model",
}
# Azure needs all of these; when the key and endpoint are set they win over plain OpenAI variables.
_AZURE_ENV_FIELDS = {
    "AZURE_OPENAI_API_KEY": "api_key",
    "AZURE_OPENAI_ENDPOINT": "base_url",
    "OPENAI_API_VERSION": "azure_api_version",
}


def load_llm_settings(
    config_path: Path | None = None, env: Mapping[str, str] | None = None, **overrides: Any
) -> LLMSettings:
    """Merge defaults < config file [llm] table < environment < keyword overrides (None ignored).

    Role tables in the file ([llm.roles.<role>]) apply on top of the merged default, so a role
    configured explicitly keeps its own model even when --model changes the default. A role's
    max_tokens is ROLE_MAX_TOKENS unless max_tokens is set for all ([llm]) or for the role.
    Other top-level tables in the file are left to the components that own them.
    """
    env = os.environ if env is None else env
    source = str(config_path) if config_path is not None else "LLM settings"
    merged: dict[str, Any] = {}
    role_tables: dict[str, dict[str, Any]] = {}
    if config_path is not None:
        table = _read_llm_table(Path(config_path))
        role_tables = table.pop("roles", {})
        merged.update(table)
    merged.update(_env_layer(env))
    merged.update(_override_layer(overrides))

    top = {name: merged.pop(name) for name in _TOP_LEVEL_FIELDS if name in merged}
    default = EndpointSettings(**merged)
    role_defaults = {role: {} if "max_tokens" in merged else {"max_tokens": ROLE_MAX_TOKENS[role]} for role in ROLES}
    roles = {role: replace(default, **(role_defaults[role] | role_tables.get(role, {}))) for role in ROLES}
    settings = LLMSettings(default=default, roles=MappingProxyType(roles), **top)
    _check_azure(settings, source)
    return settings


def validate_llm_table(table: Any, source: str, prefix: str = "llm.") -> dict[str, Any]:
    """An [llm]-style table (top-level fields and `roles`) checked field by field; only the keys given."""
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: {prefix.rstrip('.')}: expected a table, got {type(table).__name__}")
    return _validate(table, source=source, prefix=prefix)


def apply_llm_table(settings: LLMSettings, table: Mapping[str, Any]) -> LLMSettings:
    """`settings` with a validated [llm]-style table on top: its endpoint fields apply to every role,
    then its role tables to their roles (e.g. a study condition that runs on another model)."""
    table = dict(table)
    role_tables = table.pop("roles", {}) or {}
    top = {name: table.pop(name) for name in _TOP_LEVEL_FIELDS if name in table}
    default = replace(settings.default, **table)
    roles = {
        role: replace(replace(settings.for_role(role), **table), **role_tables.get(role, {}) or {}) for role in ROLES
    }
    return replace(settings, default=default, roles=MappingProxyType(roles), **top)


def _read_llm_table(path: Path) -> dict[str, Any]:
    llm = read_toml(path).get("llm", {})
    if not isinstance(llm, dict):
        raise ConfigError(f"{path}: llm: expected a table [llm], got {type(llm).__name__}")
    return _validate(llm, source=str(path), prefix="llm.")


def _env_layer(env: Mapping[str, str]) -> dict[str, Any]:
    layer = {name: env[var] for var, name in _ENV_FIELDS.items() if env.get(var)}
    if env.get("AZURE_OPENAI_API_KEY") and env.get("AZURE_OPENAI_ENDPOINT"):
        layer.update({name: env[var] for var, name in _AZURE_ENV_FIELDS.items() if env.get(var)})
        layer["provider"] = "azure"
    return _validate(layer, source="environment", prefix="")


def _override_layer(overrides: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(_ENDPOINT_FIELDS) - set(_TOP_LEVEL_FIELDS))
    if unknown:
        raise TypeError(f"load_llm_settings() got unknown overrides: {', '.join(unknown)}")
    given = {name: value for name, value in overrides.items() if value is not None}
    return _validate(given, source="arguments", prefix="")


def _validate(data: Mapping[str, Any], *, source: str, prefix: str) -> dict[str, Any]:
    try:
        return _LLMTable.model_validate(data).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source, prefix, describe=_describe)) from None


def _describe(problem: Mapping[str, Any], source: str, prefix: str) -> str:
    loc = tuple(str(part) for part in problem["loc"])
    if problem["type"] == "extra_forbidden":
        path = prefix + ".".join(loc)
        parent = loc[:-1]
        if parent == ("roles",):
            return f"{source}: {path}: unknown role; expected one of {', '.join(ROLES)}"
        allowed = _EndpointTable.model_fields if parent else _LLMTable.model_fields
        return f"{source}: {path}: unknown key; expected one of {', '.join(allowed)}"
    return describe_problem(problem, source, prefix)


def _check_azure(settings: LLMSettings, source: str) -> None:
    endpoints = {"llm": settings.default} | {f"llm.roles.{r}": ep for r, ep in settings.roles.items()}
    for path, ep in endpoints.items():
        if ep.provider != "azure":
            continue
        if ep.base_url is None:
            raise ConfigError(
                f"{source}: {path}.base_url: required when provider is 'azure' "
                "(set AZURE_OPENAI_ENDPOINT or base_url)"
            )
        if ep.azure_api_version is None:
            raise ConfigError(
                f"{source}: {path}.azure_api_version: required when provider is 'azure' "
                "(set OPENAI_API_VERSION or azure_api_version)"
            )
