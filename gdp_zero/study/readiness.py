"""What a study checks before it serves anyone: a real model, served for every condition (or arena contestant).

Paid participants must never chat with the canned demo replies or the tiny local model by
accident (`--llm auto` falls back to them when no key or base URL is set): a pilot asks for them
explicitly (`--allow-demo`). A model the endpoint does not serve, a wrong key or a dead address
stops the server at start with one line, as the chat app does, for each condition's own settings.
"""

from __future__ import annotations

import asyncio
import json

from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.errors import LLMError
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.study.spec import Study
from gdp_zero.validation import ConfigError

# Backends no study should pay people to talk to, and what each is.
DEMO_BACKENDS = {
    "fake": "the canned demo replies of the built-in fake LLM",
    "local": "the tiny local model (Gemma 3 270M)",
}


def refuse_demo(mode: str, allow_demo: bool) -> None:
    """Stop unless the backend is a real model, or the researcher piloting the study allowed the demo."""
    if mode in DEMO_BACKENDS and not allow_demo:
        raise ConfigError(
            f"study serve would show participants {DEMO_BACKENDS[mode]}, not a real model: set OPENAI_API_KEY "
            "(or --base-url / --config) for a study, or pass --allow-demo to pilot it on the demo"
        )


def check_condition_models(study: Study, settings: LLMSettings) -> None:
    """Ask each distinct endpoint and model the conditions (an arena's contestants) use whether it serves them;
    one line naming the condition (contestant) if not."""
    kind, choices = ("contestant", study.arena.contestants) if study.arena is not None else ("condition", study.conditions)
    per_choice: dict[str, tuple[str, LLMSettings]] = {}
    for choice in choices:
        own = choice.llm_settings(settings)
        per_choice.setdefault(json.dumps(own.public_dict(), sort_keys=True), (f"{kind} {choice.name!r}", own))
    asyncio.run(_check_all(list(per_choice.values())))


async def _check_all(endpoints: list[tuple[str, LLMSettings]]) -> None:
    for name, settings in endpoints:
        try:
            async with LLMClient(settings) as client:
                await client.check()
        except LLMError as error:
            raise ConfigError(f"{name}: {error}") from None
