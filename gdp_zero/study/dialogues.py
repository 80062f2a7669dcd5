"""A stored participation read back as the project's one dialogue record (`DialogueRecord`).

The transcript browser, the strategy views and the JSONL export read participations this way, so
a study dialogue looks like any other: source "study", the condition's name, and each bot turn's
whole `PlannerTurn` (act, reply, tree, usage, timings, settings).
"""

from __future__ import annotations

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.records import DialogueRecord, PlannerTurn, TurnRecord, as_speaker
from gdp_zero.study.models import Message, Participation


def message_turn(message: Message) -> TurnRecord:
    """A stored message as a turn; a participant's message still awaiting its reply has no act yet ("")."""
    planned = message.planner_turn
    return TurnRecord(
        speaker=as_speaker(message.speaker),
        act=message.act or "",
        text=message.text,
        at=message.at.isoformat(timespec="milliseconds"),
        tag_fallback=message.tag_fallback,
        planned=PlannerTurn.from_dict(planned, f"message {message.id}: planner_turn") if planned else None,
        usage=message.usage,
        meta={"wait_seconds": message.wait_seconds} if message.wait_seconds is not None else {},
    )


def participation_record(
    study_id: str, participation: Participation, messages: list[Message], domain: Domain, participant: str
) -> DialogueRecord:
    """The dialogue of `participation` (a message still awaiting its reply is left out, as in a chat's record).

    `participant` is what the record shows as the participant: a pseudonym, or the raw id on request.
    """
    turns = tuple(message_turn(m) for m in messages if m.act is not None)
    dialogue = Dialogue.of(turns)
    condition = participation.condition
    return DialogueRecord(
        id=f"{study_id}-{participation.id}",
        source="study",
        domain=domain.name,
        turns=turns,
        outcome=domain.outcome(dialogue),
        end_reason=participation.end_reason or domain.end_reason(dialogue),
        planner=condition.settings if condition is not None else None,
        condition=condition.name if condition is not None else None,
        started_at=participation.assigned_at.isoformat(timespec="milliseconds") if participation.assigned_at else None,
        ended_at=participation.ended_at.isoformat(timespec="milliseconds") if participation.ended_at else None,
        meta={
            "study": study_id,
            "participant": participant,
            "status": participation.status,
            "label": condition.label if condition is not None else None,
            "preview": participation.preview,
        },
    )
