"""The paper's prompting baseline: one LLM call chooses the act and writes the reply."""

from __future__ import annotations

import time
from typing import Any

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.planners.base import ProgressCallback, usage_since
from gdp_zero.records import PlannerTurn
from gdp_zero.roles import Roles
from gdp_zero.roles.parsing import parse_reply
from gdp_zero.roles.prompts import build_prompt
from gdp_zero.roles.responder import ROLE, fallback_utterance


class PromptingPlanner:
    name = "prompting"

    def __init__(self, roles: Roles, domain: Domain, ledger: UsageLedger, temperature: float = 0.7) -> None:
        self.roles, self.domain, self.ledger, self.temperature = roles, domain, ledger, temperature

    def describe(self) -> dict[str, Any]:
        return {"planner": self.name, "temperature": self.temperature}

    def forget(self) -> None:
        pass

    async def plan(self, dialogue: Dialogue, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        started, mark = time.monotonic(), self.ledger.mark()
        legal = self.domain.legal_system_acts(dialogue)
        role = self.domain.system_role
        prompt = build_prompt(
            self.domain,
            dialogue,
            instruction=f"You are the {role}. Choose the {role}'s next dialogue act and write the line in one or two natural sentences.",
            acts=legal,
            with_utterance=True,
            cue=f"{role}: [",
        )
        client = self.roles.responder.client
        (raw,) = await client.generate(ROLE, prompt, n=1, temperature=self.temperature)
        parsed = parse_reply(raw, legal, self.domain.fallback_system_act if len(legal) > 1 else legal[0])
        if parsed.fallback:
            self.ledger.record_fallback(ROLE, parsed.fallback)
        reply = parsed.text or fallback_utterance(self.domain, parsed.act)
        return PlannerTurn(
            planner=self.name,
            act=parsed.act,
            reply=reply,
            seconds=time.monotonic() - started,
            usage=usage_since(self.ledger, mark),
        )
