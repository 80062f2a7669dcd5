"""Policy prior P(a|s): sample the persuader's next act n times and smooth the counts (as published)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.roles.parsing import parse_reply
from gdp_zero.roles.prompts import build_prompt, lessons_preamble
from gdp_zero.roles.readings import Reading

ROLE = "policy"


@dataclass(frozen=True)
class PriorReading:
    probabilities: dict[str, float]  # over the legal acts, smoothed
    readings: tuple[Reading, ...]  # the sampled answers behind them (none at the opening turn)


@dataclass(frozen=True)
class PolicyPrior:
    client: LLMClient
    domain: Domain
    samples: int = 15
    temperature: float = 1.0
    smoothing: float = 1.0

    async def prior(self, dialogue: Dialogue, lessons: Sequence[str] = ()) -> PriorReading:
        """`lessons` (from a reflection memory) precede the conversation in the prompt."""
        legal = self.domain.legal_system_acts(dialogue)
        if len(legal) == 1:
            return PriorReading({legal[0]: 1.0}, ())  # the opening turn: nothing to ask the model
        prompt = build_prompt(
            self.domain,
            dialogue,
            instruction=f"Choose the {self.domain.system_role}'s next dialogue act.",
            acts=legal,
            with_utterance=False,
            cue=f"{self.domain.system_role}: [",
            preamble=lessons_preamble(lessons),
        )
        texts = await self.client.generate(ROLE, prompt, n=self.samples, temperature=self.temperature)
        counts: Counter[str] = Counter()
        readings = []
        for text in texts:
            parsed = parse_reply(text, legal, fallback_act="")
            if parsed.act:
                counts[parsed.act] += 1
            else:
                # An unreadable sample is dropped, not counted as "other": the smoothing covers it.
                self.client.ledger.record_fallback(ROLE, parsed.fallback or "unknown_act")
            readings.append(Reading(text, parsed.act or None, parsed.fallback))
        total = sum(counts.values()) + self.smoothing * len(legal)
        return PriorReading({act: (counts[act] + self.smoothing) / total for act in legal}, tuple(readings))
