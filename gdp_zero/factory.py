"""Assembling a chat session from options: client, roles, planner, all sharing one usage ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gdp_zero.domain import DEFAULT_DOMAIN, load_domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.memory.reflection_memory import ReflectionMemory
from gdp_zero.memory.store import LessonStore
from gdp_zero.planners import GDPZeroConfig, build_planner
from gdp_zero.planners.gdpzero import GDPZeroPlanner
from gdp_zero.planners.remembering import RememberingPlanner
from gdp_zero.roles import Roles
from gdp_zero.session import ChatSession


@dataclass(frozen=True)
class ChatOptions:
    planner: str = "gdpzero"
    search: GDPZeroConfig = field(default_factory=GDPZeroConfig)
    domain: str = DEFAULT_DOMAIN
    persona: str | None = None  # conditions the simulated user inside the search
    max_exchanges: int | None = None  # overrides the domain's turn limit (e.g. short self-play dialogues)
    memory: Path | None = None  # a reflection memory file the planner recalls lessons from (off by default)


def build_session(
    settings: LLMSettings, options: ChatOptions, client: LLMClient | None = None, memory: LessonStore | None = None
) -> ChatSession:
    """`client`, when given, is used instead of a new one (e.g. a sibling sharing a request limit);
    `memory`, an open store of `options.memory` to share between sessions instead of opening it again."""
    domain = load_domain(options.domain)
    if options.max_exchanges is not None:
        domain = domain.model_copy(update={"max_exchanges": options.max_exchanges})
    client = client if client is not None else LLMClient(settings, UsageLedger())
    roles = Roles.build(
        client,
        domain,
        prior_samples=options.search.prior_samples,
        value_samples=options.search.value_samples,
        persona=options.persona,
    )
    planner = build_planner(options.planner, roles, domain, client.ledger, options.search)
    if options.memory is not None:
        if not isinstance(planner, GDPZeroPlanner):
            raise ValueError(f"a reflection memory guides the gdpzero planner's search; the {options.planner} planner has none")
        store = memory if memory is not None else LessonStore(options.memory)
        planner = RememberingPlanner(planner, ReflectionMemory(store, client, domain))
    return ChatSession(domain=domain, client=client, roles=roles, planner=planner)
