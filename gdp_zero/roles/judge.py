"""Value of a dialogue state, as published: ask the simulated user the goal question n times.

The simulated persuadee answers "Would you be interested in donating?" `samples` times at
temperature 1.1; each answer's act is mapped to its value (no donation -1 ... donate 1) and
the values are averaged.
"""

from __future__ import annotations

from dataclasses import dataclass

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.roles.parsing import parse_reply
from gdp_zero.roles.readings import Reading
from gdp_zero.roles.user_simulator import user_turn_prompt

ROLE = "judge"


@dataclass(frozen=True)
class ValueReading:
    value: float  # the mean of the readable answers' values; 0 when none was readable
    readings: tuple[Reading, ...]  # every answer, readable or not


@dataclass(frozen=True)
class Judge:
    client: LLMClient
    domain: Domain
    samples: int = 10
    temperature: float = 1.1

    async def value(self, dialogue: Dialogue) -> ValueReading:
        asked = dialogue.add("system", self.domain.value_question_act, self.domain.value_question)
        prompt = user_turn_prompt(self.domain, asked, persona=None)
        texts = await self.client.generate(ROLE, prompt, n=self.samples, temperature=self.temperature)
        values, readings = [], []
        for text in texts:
            parsed = parse_reply(text, self.domain.user_act_names, fallback_act="")
            if parsed.act:
                values.append(self.domain.user_act_values[parsed.act])
            else:
                self.client.ledger.record_fallback(ROLE, parsed.fallback or "unknown_act")
            readings.append(Reading(text, parsed.act or None, parsed.fallback))
        return ValueReading(sum(values) / len(values) if values else 0.0, tuple(readings))
