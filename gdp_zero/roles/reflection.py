"""Contrastive reflection (as in R-MCTS): what the search expected at each turn against what happened.

After a dialogue ends, the reflection role reads the conversation, its outcome and, for every
persuader turn the planner searched, the act it chose, the Q it expected of it and the reply its
simulated user gave there; it writes up to `MAX_LESSONS` short lessons, one `Lesson:` line each,
for future conversations with a similar persuadee.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.prompt import Prompt
from gdp_zero.roles.prompts import marker_lines, task_block, transcript

ROLE = "reflection"
MAX_LESSONS = 3
MAX_LESSON_CHARS = 300
_LESSON = re.compile(r"^\s*(?:[-*]\s*)?lesson\s*\d*\s*:\s*(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Expectation:
    """What the search believed when it chose the persuader's line at `turn` (an index into the dialogue)."""

    turn: int
    act: str
    q: float | None  # the chosen act's Q at the root
    simulated_reply_act: str  # the user act of the chosen line's best realization
    simulated_reply: str


@dataclass(frozen=True)
class Reflection:
    lessons: tuple[str, ...]
    raw: str
    fallback: str | None  # "no_lesson" when the reply held no `Lesson:` line


@dataclass(frozen=True)
class Reflector:
    client: LLMClient
    domain: Domain
    temperature: float = 0.3

    async def reflect(self, dialogue: Dialogue, expectations: Sequence[Expectation], outcome: float | None) -> Reflection:
        (raw,) = await self.client.generate(
            ROLE, reflection_prompt(self.domain, dialogue, expectations, outcome), n=1, temperature=self.temperature
        )
        reflection = parse_reflection(raw)
        if reflection.fallback:
            self.client.ledger.record_fallback(ROLE, reflection.fallback)
        return reflection


def parse_reflection(raw: str | None) -> Reflection:
    """The `Lesson:` lines of a reply, each cut to MAX_LESSON_CHARS; at most MAX_LESSONS, repeats (in any case) dropped."""
    lessons: list[str] = []
    for line in (raw or "").splitlines():
        match = _LESSON.match(line)
        text = " ".join(match.group(1).split())[:MAX_LESSON_CHARS] if match else ""
        if text and text.lower() not in {lesson.lower() for lesson in lessons}:
            lessons.append(text)
    lessons = lessons[:MAX_LESSONS]
    return Reflection(tuple(lessons), raw or "", None if lessons else "no_lesson")


def reflection_prompt(
    domain: Domain, dialogue: Dialogue, expectations: Sequence[Expectation], outcome: float | None
) -> Prompt:
    system, user = domain.system_role, domain.user_role
    expected = "\n".join(
        f"- line {e.turn + 1}: chose [{e.act}] expecting Q {e.q:+.2f}; its simulated {user} answered "
        f"[{e.simulated_reply_act}] {e.simulated_reply}; the real {user} answered "
        f"[{_answer(dialogue, e.turn)}]"
        if e.q is not None else f"- line {e.turn + 1}: chose [{e.act}] (no search record)"
        for e in expectations
    ) or "(no search records)"
    ending = "no outcome" if outcome is None else f"outcome {outcome:+.1f} on the scale -1 (refused) to +1 (donated)"
    body = (
        f"A new conversation:\n{transcript(domain, dialogue)}\n\n"
        f"It ended with {ending}.\n"
        f"What the {system}'s search expected at each of its turns, and what happened:\n{expected}\n\n"
        f"Compare what was expected with what happened. Write up to {MAX_LESSONS} short lessons for a future "
        f"conversation with a similar {user}: which acts worked with this {user}, which backfired, and when. "
        f"One line each, starting with 'Lesson:'.\n"
        f"{marker_lines(domain.system_act_names, with_utterance=False, reply_format='Lesson: text')}"
    )
    return Prompt(system=task_block(domain), user=body, completion=f"{task_block(domain)}\n\n{body}\n\nLesson:", stop=())


def _answer(dialogue: Dialogue, turn: int) -> str:
    following = dialogue.turns[turn + 1] if turn + 1 < len(dialogue.turns) else None
    return following.act if following is not None else "none"
