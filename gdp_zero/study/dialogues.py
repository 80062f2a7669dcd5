"""A stored participation read back as the project's one dialogue record (`DialogueRecord`).

The transcript browser, the strategy views and the JSONL export read participations this way, so
a study dialogue looks like any other: source "study", the condition's name, and each bot turn's
whole `PlannerTurn` (act, reply, tree, usage, timings, settings).
"""

from __future__ import annotations

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.planners.base import PlannerTurn
from gdp_zero.records import DialogueRecord, TurnRecord
from gdp_zero.study.models import Message, Participation


def participation_record(
    study_id: str, participation: Participation, messages: list[Message], domain: Domain, participant: str
) -> DialogueRecord:
    """The dialogue of `participation` (a message still awaiting its reply is left out, as in a chat's record).

    `participant` is what the record shows as the participant: a pseudonym, or the raw id on request.
    """
    answered = [m for m in messages if m.act is not None]
    turns = tuple(
        TurnRecord(
            speaker=m.speaker,  # type: ignore[arg-type]
            act=m.act or "",
            text=m.text,
            at=m.at.isoformat(timespec="milliseconds"),
            tag_fallback=m.tag_fallback,
            planned=PlannerTurn(**m.planner_turn) if m.planner_turn else None,
            usage=m.usage,
            meta={"wait_seconds": m.wait_seconds} if m.wait_seconds is not None else {},
        )
        for m in answered
    )
    dialogue = Dialogue()
    for turn in turns:
        dialogue = dialogue.add(turn.speaker, turn.act, turn.text)
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
