"""The persuader's utterance realising a given act (temperature 0.7, as published)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.roles.parsing import parse_utterance
from gdp_zero.roles.prompts import build_prompt, lessons_preamble

ROLE = "responder"


@dataclass(frozen=True)
class Responder:
    client: LLMClient
    domain: Domain
    temperature: float = 0.7

    async def respond(self, dialogue: Dialogue, act: str, n: int = 1, lessons: Sequence[str] = ()) -> list[str]:
        """`n` independent utterances that realise `act` as the next persuader line, mindful of `lessons`."""
        definition = next((a.definition for a in self.domain.system_acts if a.name == act), "")
        prompt = build_prompt(
            self.domain,
            dialogue,
            instruction=(
                f"You are the {self.domain.system_role}. Write the {self.domain.system_role}'s next line "
                f"using the act [{act}] ({definition}) in one or two natural sentences."
            ),
            acts=(act,),
            with_utterance=True,
            cue=f"{self.domain.system_role}: [{act}]",
            preamble=lessons_preamble(lessons),
        )
        texts = await self.client.generate(ROLE, prompt, n=n, temperature=self.temperature)
        utterances = []
        for text in texts:
            utterance, fallback = parse_utterance(text, act, self.domain.system_act_names)
            if fallback:
                self.client.ledger.record_fallback(ROLE, fallback)
                utterance = fallback_utterance(self.domain, act)
            utterances.append(utterance)
        return utterances


def fallback_utterance(domain: Domain, act: str) -> str:
    """A neutral line for the act when the model wrote nothing usable: the dialogue must go on."""
    for turn in domain.example:
        if turn.speaker == "system" and turn.act == act:
            return turn.text
    return "Could I tell you a little more about this?"
