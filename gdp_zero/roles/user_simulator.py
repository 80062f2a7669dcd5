"""The simulated persuadee: its next reply and the act it expresses (temperature 1.1, as published)."""

from __future__ import annotations

from dataclasses import dataclass

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.prompt import Prompt
from gdp_zero.roles.parsing import ParsedReply, parse_reply
from gdp_zero.roles.prompts import build_prompt

ROLE = "user_simulator"


def persona_preamble(domain: Domain, persona: str | None) -> str:
    return f"The {domain.user_role} in this conversation: {persona.strip()}" if persona else ""


@dataclass(frozen=True)
class UserSimulator:
    client: LLMClient
    domain: Domain
    persona: str | None = None
    temperature: float = 1.1

    async def reply(self, dialogue: Dialogue, n: int = 1) -> list[ParsedReply]:
        prompt = user_turn_prompt(self.domain, dialogue, self.persona)
        texts = await self.client.generate(ROLE, prompt, n=n, temperature=self.temperature)
        replies = []
        for text in texts:
            parsed = parse_reply(text, self.domain.user_act_names, self.domain.neutral_user_act)
            if parsed.fallback:
                self.client.ledger.record_fallback(ROLE, parsed.fallback)
            if not parsed.text:
                parsed = ParsedReply(parsed.act, "I see.", parsed.fallback or "empty")
            replies.append(parsed)
        return replies


def user_turn_prompt(domain: Domain, dialogue: Dialogue, persona: str | None) -> Prompt:
    return build_prompt(
        domain,
        dialogue,
        instruction=(
            f"You are the {domain.user_role}. Write the {domain.user_role}'s next line: pick the act that "
            f"describes your reaction, then say it in one or two natural sentences."
        ),
        acts=domain.user_act_names,
        with_utterance=True,
        cue=f"{domain.user_role}: [",
        preamble=persona_preamble(domain, persona),
    )

