"""Prompt text for every role, built from the domain file.

Each chat prompt starts with the same static block (background, act definitions, worked example)
so that providers' prefix caches hit across roles and calls; the dialogue so far and the role's
instruction come last. Two marker lines end every prompt: `Allowed acts: [a] [b]` and
`Reply format: ...`. Real models read them as instructions; the fake server reads them to
answer in format. The completions rendering (base models) is the same content as one few-shot
text ending with a cue such as "Persuader: [".
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

from gdp_zero.dialogue import Dialogue, Turn
from gdp_zero.domain import Domain
from gdp_zero.llm.prompt import Prompt

LINE_STOPS = ("\n",)


@lru_cache(maxsize=8)
def task_block(domain: Domain) -> str:
    system_acts = "\n".join(f"[{a.name}]: {a.definition}" for a in domain.system_acts)
    user_acts = "\n".join(f"[{a.name}]: {a.definition}" for a in domain.user_acts)
    return (
        f"Background: {domain.background.strip()}\n\n"
        f"{domain.goal}\n\n"
        f"The {domain.system_role}'s dialogue acts:\n{system_acts}\n\n"
        f"The {domain.user_role}'s dialogue acts:\n{user_acts}"
    )


@lru_cache(maxsize=8)
def example_block(domain: Domain) -> str:
    return (
        "Every line of a conversation is written as `Speaker: [act] utterance`. An example conversation:\n"
        f"{transcript(domain, domain.example_dialogue)}"
    )


def speaker_name(domain: Domain, turn: Turn) -> str:
    return domain.system_role if turn.speaker == "system" else domain.user_role


def transcript(domain: Domain, dialogue: Dialogue) -> str:
    return "\n".join(f"{speaker_name(domain, t)}: [{t.act}] {t.text}" for t in dialogue)


def marker_lines(acts: Sequence[str], with_utterance: bool, reply_format: str | None = None) -> str:
    """The two lines that end every prompt: what may be answered, and in which form.

    `reply_format` names another form than an act with or without its utterance (e.g. "Lesson: text").
    """
    allowed = " ".join(f"[{a}]" for a in acts)
    reply_format = reply_format or ("[act] utterance" if with_utterance else "[act]")
    return f"Allowed acts: {allowed}\nReply format: {reply_format}"


def lessons_preamble(lessons: Sequence[str]) -> str:
    """Lessons recalled from earlier dialogues, as a prompt preamble ("" when there are none)."""
    if not lessons:
        return ""
    listed = "\n".join(f"- {lesson}" for lesson in lessons)
    return f"Lessons from earlier, similar conversations (use them where they fit):\n{listed}"


def build_prompt(
    domain: Domain,
    dialogue: Dialogue,
    *,
    instruction: str,
    acts: Sequence[str],
    with_utterance: bool,
    cue: str,
    preamble: str = "",
) -> Prompt:
    """A prompt asking for the next line of `dialogue`: the act alone, or the act and its text.

    `cue` starts the next line in completions mode (e.g. "Persuader: [" or
    "Persuader: [emotion appeal]"), `preamble` (e.g. a persona) precedes the conversation.
    """
    conversation = transcript(domain, dialogue) or "(the conversation has not started yet)"
    markers = marker_lines(acts, with_utterance)
    head = f"{preamble.strip()}\n\n" if preamble.strip() else ""
    user = f"{head}A new conversation:\n{conversation}\n\n{instruction}\n{markers}"
    lines = transcript(domain, dialogue)
    # A base model continues the pattern nearest the cue, so its instruction comes before the
    # worked example, not between the transcript and the cue (it would list acts back).
    completion = (
        f"{task_block(domain)}\n\n{head}{instruction}\n{markers}\n\n{example_block(domain)}\n\n"
        f"A new conversation:\n{lines + chr(10) if lines else ''}{cue}"
    )
    system = f"{task_block(domain)}\n\n{example_block(domain)}"
    return Prompt(system=system, user=user, completion=completion, stop=LINE_STOPS)
