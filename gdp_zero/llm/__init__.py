"""The LLM layer: every LLM call in the project goes through `LLMClient`.

The fake OpenAI-compatible server lives in `gdp_zero.llm.fake_server` (not re-exported, so that
`python -m gdp_zero.llm.fake_server` runs cleanly).
"""

from .client import LLMClient
from .errors import (
    AuthenticationError,
    EndpointSetupError,
    EndpointUnreachableError,
    LLMError,
    LLMUnavailableError,
    LogprobsUnsupportedError,
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
    "LogprobsUnsupportedError",
    "ModelNotFoundError",
    "Prompt",
    "QuotaExceededError",
    "RequestRejectedError",
    "RoleUsage",
    "UsageLedger",
    "WrongEndpointError",
    "load_llm_settings",
]
