"""Labels a real person's message with a user act, so the search state matches the simulated ones."""

from __future__ import annotations

import json
from dataclasses import dataclass

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.roles.parsing import ParsedReply, parse_reply
from gdp_zero.roles.prompts import build_prompt

ROLE = "act_tagger"


@dataclass(frozen=True)
class ActTagger:
    client: LLMClient
    domain: Domain
    temperature: float = 0.0

    async def tag(self, dialogue: Dialogue, text: str) -> ParsedReply:
        """The act of `text`, said by the user after `dialogue`; `fallback` is set when it was a guess."""
        role = self.domain.user_role
        prompt = build_prompt(
            self.domain,
            dialogue,
            # json.dumps quotes the message safely, whatever quotes or newlines it holds.
            instruction=f"The {role} now says: {json.dumps(text, ensure_ascii=False)}\nLabel that line with the one act that fits it best.",
            acts=self.domain.user_act_names,
            with_utterance=False,
            cue="Act: [",
        )
        (raw,) = await self.client.generate(ROLE, prompt, n=1, temperature=self.temperature)
        parsed = parse_reply(raw, self.domain.user_act_names, self.domain.neutral_user_act)
        if parsed.fallback:
            self.client.ledger.record_fallback(ROLE, parsed.fallback)
        return ParsedReply(parsed.act, text, parsed.fallback)
