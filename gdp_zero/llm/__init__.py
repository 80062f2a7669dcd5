"""The LLM layer: every LLM call in the project goes through `LLMClient`.

The fake OpenAI-compatible server lives in `gdp_zero.llm.fake_server` (not re-exported: the demo
mode, `gdp-zero fake-server` and the tests start it). `LLMClient` is loaded on first use: it
imports the openai SDK, which the ledger, settings and errors do not need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AuthenticationError,
    EndpointSetupError,
    EndpointUnreachableError,
    LLMError,
    LLMUnavailableError,
    ModelNotFoundError,
    QuotaExceededError,
    RequestRejectedError,
    WrongEndpointError,
)
from .ledger import CallRecord, RoleUsage, UsageLedger
from .prompt import Prompt
from .settings import ROLES, ConfigError, EndpointSettings, LLMSettings, load_llm_settings

__all__ = [
    "ROLES",
    "AuthenticationError",
    "CallRecord",
    "ConfigError",
    "EndpointSettings",
    "EndpointSetupError",
    "EndpointUnreachableError",
    "LLMClient",
    "LLMError",
    "LLMSettings",
    "LLMUnavailableError",
    "ModelNotFoundError",
    "Prompt",
    "QuotaExceededError",
    "RequestRejectedError",
    "RoleUsage",
    "UsageLedger",
    "WrongEndpointError",
    "load_llm_settings",
]

if TYPE_CHECKING:
    from .client import LLMClient


def __getattr__(name: str) -> Any:
    if name == "LLMClient":
        from .client import LLMClient

        return LLMClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
