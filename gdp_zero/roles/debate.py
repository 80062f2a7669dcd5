"""A debate value (as in R-MCTS): two advocates argue the outcome, a judge weighs them and answers.

For a state, one advocate argues the persuadee will end up giving, the other that they will not,
for `rounds` rounds (from the second round on, each answers the other's last argument); then the
judge reads the conversation and both sides' arguments and answers the published value question
in the persuadee's place, `samples` times. Each answer's act maps to its value on the domain's
scale (no donation -1 ... donate 1) and the values are averaged, as the published judge does;
an unreadable answer is dropped and counted. The search sees only the value; the debate itself
rides along as the evaluation's explanation, which the tree panel shows.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Literal

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.prompt import Prompt
from gdp_zero.roles.parsing import parse_reply
from gdp_zero.roles.prompts import (
    LINE_STOPS,
    build_prompt,
    marker_lines,
    task_block,
    transcript,
)
from gdp_zero.roles.readings import Reading, summarise

ADVOCATE_ROLE = "advocate"
JUDGE_ROLE = "debate_judge"
Side = Literal["for", "against"]
SIDES: tuple[Side, ...] = ("for", "against")
NO_ARGUMENT = "(no argument)"


@dataclass(frozen=True)
class Argument:
    side: Side
    round: int
    text: str


@dataclass(frozen=True)
class Debate:
    arguments: tuple[Argument, ...]
    answers: tuple[str, ...]  # the judge's readable answers (user acts)
    value: float
    readings: tuple[Reading, ...] = ()  # every judge answer as written, readable or not

    def to_dict(self) -> dict[str, Any]:
        return {"arguments": [asdict(a) for a in self.arguments], "answers": list(self.answers),
                "value": self.value, "readings": summarise(self.readings)}


@dataclass(frozen=True)
class DebateJudge:
    client: LLMClient
    domain: Domain
    rounds: int = 1
    samples: int = 5
    advocate_temperature: float = 0.7
    judge_temperature: float = 1.1  # the published judge's: its samples should disagree where the case is open

    async def debate(self, dialogue: Dialogue) -> Debate:
        arguments: list[Argument] = []
        for round_ in range(1, self.rounds + 1):
            last = {a.side: a.text for a in arguments if a.round == round_ - 1}
            texts = await asyncio.gather(*(self._argue(dialogue, side, last.get(_other(side))) for side in SIDES))
            arguments += [Argument(side, round_, text) for side, text in zip(SIDES, texts)]
        prompt = judge_prompt(self.domain, dialogue, arguments)
        raws = await self.client.generate(JUDGE_ROLE, prompt, n=self.samples, temperature=self.judge_temperature)
        answers, readings = [], []
        for raw in raws:
            parsed = parse_reply(raw, self.domain.user_act_names, fallback_act="")
            if parsed.act:
                answers.append(parsed.act)
            else:
                self.client.ledger.record_fallback(JUDGE_ROLE, parsed.fallback or "unknown_act")
            readings.append(Reading(raw, parsed.act or None, parsed.fallback))
        values = [self.domain.user_act_values[act] for act in answers]
        return Debate(tuple(arguments), tuple(answers), sum(values) / len(values) if values else 0.0, tuple(readings))

    async def _argue(self, dialogue: Dialogue, side: Side, rebut: str | None) -> str:
        prompt = advocate_prompt(self.domain, dialogue, side, rebut)
        (raw,) = await self.client.generate(ADVOCATE_ROLE, prompt, n=1, temperature=self.advocate_temperature)
        parsed = parse_reply(raw, (claim(self.domain, side),), fallback_act=claim(self.domain, side))
        if not parsed.text:
            self.client.ledger.record_fallback(ADVOCATE_ROLE, parsed.fallback or "empty")
            return NO_ARGUMENT
        return parsed.text


def claim(domain: Domain, side: Side) -> str:
    """The advocate's position, e.g. "will donate" / "will not donate" for P4G."""
    return f"will {domain.success_act}" if side == "for" else f"will not {domain.success_act}"


def _other(side: Side) -> Side:
    return "against" if side == "for" else "for"


def advocate_prompt(domain: Domain, dialogue: Dialogue, side: Side, rebut: str | None) -> Prompt:
    """Ends with the marker lines `Allowed acts: [<position>]` and `Reply format: [side] argument`."""
    position = claim(domain, side)
    conversation = transcript(domain, dialogue) or "(the conversation has not started yet)"
    answer = f' The other advocate just argued: "{rebut}" Answer it.' if rebut else ""
    body = (
        f"A new conversation:\n{conversation}\n\n"
        f"You are an advocate in a debate about this conversation. Argue that the {domain.user_role} {position} "
        f"by the end of it, citing what the {domain.user_role} has said, in one or two sentences.{answer}\n"
        f"{marker_lines((position,), with_utterance=False, reply_format='[side] argument')}"
    )
    return Prompt(system=task_block(domain), user=body, completion=f"{task_block(domain)}\n\n{body}\n\n[{position}]",
                  stop=LINE_STOPS)


def judge_prompt(domain: Domain, dialogue: Dialogue, arguments: list[Argument]) -> Prompt:
    """The conversation ending with the value question, both sides' arguments before it."""
    asked = dialogue.add("system", domain.value_question_act, domain.value_question)
    debate = "\n".join(f"Advocate who says the {domain.user_role} {claim(domain, a.side)} (round {a.round}): {a.text}"
                       for a in arguments)
    return build_prompt(
        domain,
        asked,
        instruction=(
            f"Weigh both advocates' arguments against the conversation, then answer the last question as the "
            f"{domain.user_role} most likely would: pick the act of that answer."
        ),
        acts=domain.user_act_names,
        with_utterance=False,
        cue=f"{domain.user_role}: [",
        preamble=f"A debate about how the conversation below will end:\n{debate}",
    )
