"""The static evaluation's judge: which of two persuader lines better serves the goal, or can't tell.

As in the paper's static evaluation, the judge sees the real conversation so far and two
candidate next lines labelled A and B, texts only (acts would hint at who wrote which), and is
sampled several times. Which candidate is A is the caller's business (it randomises the order).
The prompt ends with the usual marker lines, so the fake server answers it in format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.prompt import Prompt
from gdp_zero.roles.parsing import parse_reply
from gdp_zero.roles.prompts import LINE_STOPS, marker_lines, speaker_name, task_block

ROLE = "evaluator"
Choice = Literal["A", "B", "can't tell"]
FIRST: Final = "A"
SECOND: Final = "B"
CANT_TELL: Final = "can't tell"
CHOICES: tuple[Choice, ...] = (FIRST, SECOND, CANT_TELL)


@dataclass(frozen=True)
class Vote:
    raw: str  # what the model wrote
    choice: Choice
    fallback: str | None  # why the choice was a guess (an unreadable answer counts as can't tell)


@dataclass(frozen=True)
class PairwiseJudge:
    client: LLMClient
    domain: Domain
    samples: int = 5
    temperature: float = 0.7

    async def compare(self, dialogue: Dialogue, first: str, second: str) -> list[Vote]:
        """`samples` votes on which next persuader line, A = `first` or B = `second`, is better."""
        prompt = comparison_prompt(self.domain, dialogue, first, second)
        texts = await self.client.generate(ROLE, prompt, n=self.samples, temperature=self.temperature)
        votes = []
        for text in texts:
            parsed = parse_reply(text, CHOICES, fallback_act=CANT_TELL)
            if parsed.fallback:
                self.client.ledger.record_fallback(ROLE, parsed.fallback)
            votes.append(Vote(text, parsed.act, parsed.fallback))  # type: ignore[arg-type]
        return votes


def majority(votes: list[Vote]) -> Choice:
    """The most voted choice; a tie between A and B, or a plurality of can't tell, is can't tell."""
    counts = {choice: sum(v.choice == choice for v in votes) for choice in CHOICES}
    best = max(counts.values())
    leaders: list[Choice] = [choice for choice in (FIRST, SECOND) if counts[choice] == best]
    return leaders[0] if len(leaders) == 1 and counts[CANT_TELL] < best else CANT_TELL


def comparison_prompt(domain: Domain, dialogue: Dialogue, first: str, second: str) -> Prompt:
    role = domain.system_role
    conversation = "\n".join(f"{speaker_name(domain, t)}: {t.text}" for t in dialogue) or "(nothing has been said yet)"
    question = (
        f"Which of the two candidate next lines better helps the {role} reach the goal above? Answer [{FIRST}] "
        f"or [{SECOND}], or [{CANT_TELL}] if neither is clearly better."
    )
    body = (
        f"The conversation so far:\n{conversation}\n\n"
        f"Two candidate next lines for the {role}:\n{FIRST}: {first}\n{SECOND}: {second}\n\n"
        f"{question}\n{marker_lines(CHOICES, with_utterance=False)}"
    )
    return Prompt(
        system=task_block(domain),
        user=body,
        completion=f"{task_block(domain)}\n\n{body}\n\nAnswer: [",
        stop=LINE_STOPS,
    )
