"""The study database's queries, each behind a small function that takes an open Session.

Callers own the transaction (`Database.transaction()`); nothing here commits. Functions that lock
use SELECT ... FOR UPDATE, which PostgreSQL honours and SQLite ignores (there every transaction
already holds the write lock: BEGIN IMMEDIATE, see db.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gdp_zero.study.db import hold_setup_lock
from gdp_zero.study.models import (
    Answer, ArenaVote, ConditionRow, Event, Message, Meta, PairwiseJudgment, Participation, Rating, StudyRow, utcnow,
)
from gdp_zero.study.spec import Study

ACTIVE, COMPLETED, SCREENED_OUT, DECLINED, TIMED_OUT = "active", "completed", "screened_out", "declined", "timed_out"


# --- studies and conditions --------------------------------------------------------------------


def sync_study(session: Session, study: Study) -> StudyRow:
    """The study's row, created on first use; its stored file and conditions follow the file served."""
    hold_setup_lock(session)
    row = session.scalar(select(StudyRow).where(StudyRow.name == study.id).with_for_update())
    spec = study.public_dict()
    if row is None:
        row = StudyRow(name=study.id, title=study.title, spec=spec)
        session.add(row)
        session.flush()
    elif row.spec != spec:
        row.spec, row.title, row.updated_at = spec, study.title, utcnow()
    existing = {c.name: c for c in row.conditions}
    for condition in study.conditions:
        fields = {"label": condition.label, "planner": condition.planner, "quota": condition.quota, "settings": condition.public_dict()}
        current = existing.get(condition.name)
        if current is None:
            session.add(ConditionRow(study_id=row.id, name=condition.name, **fields))
        else:
            for key, value in fields.items():
                setattr(current, key, value)
    session.flush()
    return row


def study_row(session: Session, name: str | None = None) -> StudyRow | None:
    """A study by its id; without one, the database's only study (None if there are several or none)."""
    if name is not None:
        return session.scalar(select(StudyRow).where(StudyRow.name == name))
    rows = session.scalars(select(StudyRow).limit(2)).all()
    return rows[0] if len(rows) == 1 else None


def study_names(session: Session) -> list[str]:
    return list(session.scalars(select(StudyRow.name).order_by(StudyRow.name)))


def lock_study(session: Session, study_id: int) -> None:
    """Hold the study's row until the transaction ends: assignments run one at a time."""
    session.execute(select(StudyRow.id).where(StudyRow.id == study_id).with_for_update())


def conditions_of(session: Session, study_id: int) -> list[ConditionRow]:
    return list(session.scalars(select(ConditionRow).where(ConditionRow.study_id == study_id).order_by(ConditionRow.id)))


def meta_value(session: Session, key: str) -> str | None:
    return session.scalar(select(Meta.value).where(Meta.key == key))


# --- participations --------------------------------------------------------------------------


def participation_by_participant(session: Session, study_id: int, participant_id: str) -> Participation | None:
    return session.scalar(
        select(Participation).where(Participation.study_id == study_id, Participation.participant_id == participant_id)
    )


def participation_by_token(session: Session, token_hash: str, *, lock: bool = False) -> Participation | None:
    query = select(Participation).where(Participation.token_hash == token_hash)
    return session.scalar(query.with_for_update() if lock else query)


def create_participation(session: Session, **fields: Any) -> Participation:
    participation = Participation(**fields)
    session.add(participation)
    session.flush()
    return participation


def participations(session: Session, study_id: int, *, include_preview: bool = False) -> list[Participation]:
    query = select(Participation).where(Participation.study_id == study_id)
    if not include_preview:
        query = query.where(Participation.preview.is_(False))
    return list(session.scalars(query.order_by(Participation.id)))


def expire_idle(session: Session, study_id: int, idle_since: datetime) -> list[int]:
    """Mark active participations idle since before `idle_since` as timed out; their ids."""
    idle = list(
        session.scalars(
            select(Participation.id).where(
                Participation.study_id == study_id,
                Participation.status == ACTIVE,
                Participation.last_active_at < idle_since,
            )
        )
    )
    if idle:
        session.execute(
            update(Participation)
            .where(Participation.id.in_(idle), Participation.status == ACTIVE)
            .values(status=TIMED_OUT, phase=TIMED_OUT, ended_at=utcnow())
        )
        session.add_all(Event(participation_id=i, kind="timed_out", detail={"idle_since": idle_since.isoformat()}) for i in idle)
    return idle


def slots_used(session: Session, study_id: int) -> dict[int, int]:
    """Per condition id: completed participations plus active ones holding a slot (previews never count)."""
    rows = session.execute(
        select(Participation.condition_id, func.count())
        .where(
            Participation.study_id == study_id,
            Participation.preview.is_(False),
            Participation.condition_id.is_not(None),
            Participation.status.in_((ACTIVE, COMPLETED)),
        )
        .group_by(Participation.condition_id)
    )
    return {condition_id: count for condition_id, count in rows if condition_id is not None}


def _unstarted(study_id: int) -> Any:
    """Active non-preview participations holding a slot whose participant has sent no chat message."""
    spoke = select(Message.id).where(Message.participation_id == Participation.id, Message.speaker == "user").exists()
    return (
        Participation.study_id == study_id,
        Participation.preview.is_(False),
        Participation.status == ACTIVE,
        Participation.condition_id.is_not(None),
        ~spoke,
    )


def slots_held_unstarted(session: Session, study_id: int) -> int:
    """How many slots are held by participations whose participant has not yet written in the chat."""
    return session.scalar(select(func.count()).select_from(Participation).where(*_unstarted(study_id))) or 0


def expire_unstarted(session: Session, study_id: int, entered_before: datetime) -> list[int]:
    """Time out the slot-holding participations entered before `entered_before` whose participant never wrote; their ids."""
    stale = list(session.scalars(select(Participation.id).where(*_unstarted(study_id), Participation.created_at < entered_before)))
    if stale:
        session.execute(
            update(Participation)
            .where(Participation.id.in_(stale), Participation.status == ACTIVE)
            .values(status=TIMED_OUT, phase=TIMED_OUT, ended_at=utcnow(), end_reason="not_started")
        )
        session.add_all(Event(participation_id=i, kind="timed_out", detail={"not_started_by": entered_before.isoformat()}) for i in stale)
    return stale


def status_counts(session: Session, study_id: int) -> list[tuple[str | None, str, int]]:
    """(condition name or None before assignment, status, count) for the non-preview participations."""
    rows = session.execute(
        select(ConditionRow.name, Participation.status, func.count())
        .select_from(Participation)
        .outerjoin(ConditionRow, Participation.condition_id == ConditionRow.id)
        .where(Participation.study_id == study_id, Participation.preview.is_(False))
        .group_by(ConditionRow.name, Participation.status)
    )
    return [(name, status, count) for name, status, count in rows]


def add_event(session: Session, participation: Participation, kind: str, now: datetime, **detail: Any) -> None:
    session.add(Event(participation_id=participation.id, kind=kind, at=now, detail=detail))
    participation.last_active_at = now


def events_of(session: Session, participation_id: int) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.participation_id == participation_id).order_by(Event.id)))


# --- answers, messages, ratings ----------------------------------------------------------------


def add_answers(session: Session, participation_id: int, survey: str, answers: Iterable[tuple[str, Any, float | None]], now: datetime) -> None:
    session.add_all(
        Answer(participation_id=participation_id, survey=survey, item=item, value=value, number=number, at=now)
        for item, value, number in answers
    )


def answers_of(session: Session, participation_id: int) -> list[Answer]:
    return list(session.scalars(select(Answer).where(Answer.participation_id == participation_id).order_by(Answer.id)))


def messages_of(session: Session, participation_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.participation_id == participation_id).order_by(Message.position)))


def message_counts(session: Session, participation_ids: list[int]) -> dict[int, int]:
    """Messages per participation, in one query (participations without any are left out)."""
    rows = session.execute(
        select(Message.participation_id, func.count()).where(Message.participation_id.in_(participation_ids))
        .group_by(Message.participation_id)
    )
    return {participation_id: count for participation_id, count in rows}


def add_message(session: Session, participation_id: int, **fields: Any) -> Message:
    message = Message(participation_id=participation_id, **fields)
    session.add(message)
    session.flush()
    return message


def add_ratings(session: Session, participation_id: int, message_id: int, ratings: Iterable[tuple[str, Any, float | None]], now: datetime) -> None:
    session.add_all(
        Rating(participation_id=participation_id, message_id=message_id, item=item, value=value, number=number, at=now)
        for item, value, number in ratings
    )


def rated_message_ids(session: Session, participation_id: int) -> set[int]:
    return set(session.scalars(select(Rating.message_id).where(Rating.participation_id == participation_id).distinct()))


def ratings_of(session: Session, participation_ids: Sequence[int]) -> list[Rating]:
    return list(session.scalars(select(Rating).where(Rating.participation_id.in_(participation_ids)).order_by(Rating.id)))


def answers_for(session: Session, participation_ids: Sequence[int]) -> list[Answer]:
    return list(session.scalars(select(Answer).where(Answer.participation_id.in_(participation_ids)).order_by(Answer.id)))


def messages_for(session: Session, participation_ids: Sequence[int]) -> list[Message]:
    return list(
        session.scalars(
            select(Message).where(Message.participation_id.in_(participation_ids)).order_by(Message.participation_id, Message.position)
        )
    )


# --- arena votes -------------------------------------------------------------------------------


def add_arena_vote(session: Session, **fields: Any) -> ArenaVote:
    vote = ArenaVote(**fields)
    session.add(vote)
    session.flush()
    return vote


def arena_votes(session: Session, arena: str) -> list[ArenaVote]:
    return list(session.scalars(select(ArenaVote).where(ArenaVote.arena == arena).order_by(ArenaVote.id)))


def arena_pair_counts(session: Session, arena: str) -> list[tuple[str, str, int]]:
    """(contestant shown as A, as B, votes) for every pair of the arena that has votes."""
    rows = session.execute(
        select(ArenaVote.model_a, ArenaVote.model_b, func.count()).where(ArenaVote.arena == arena)
        .group_by(ArenaVote.model_a, ArenaVote.model_b)
    )
    return [(a, b, count) for a, b, count in rows]


def lock_voter(session: Session, arena: str, voter: str) -> None:
    """Until the transaction ends, one vote at a time of `voter` in `arena` (its count, then its row).

    On PostgreSQL an advisory lock on the pair: a voter's first vote has no row to lock, and two
    processes would both count below the limit and both insert. SQLite's BEGIN IMMEDIATE already
    lets one writer in at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"arena-vote:{arena}:{voter}", 0))))


def arena_votes_of_voter(session: Session, arena: str, voter: str) -> int:
    return session.scalar(select(func.count()).where(ArenaVote.arena == arena, ArenaVote.voter == voter)) or 0


def arena_names(session: Session) -> list[str]:
    return list(session.scalars(select(ArenaVote.arena).distinct().order_by(ArenaVote.arena)))


# --- pairwise judgments ------------------------------------------------------------------------


def add_pairwise_judgments(session: Session, rows: list[dict[str, Any]]) -> None:
    session.add_all(PairwiseJudgment(**fields) for fields in rows)
    session.flush()


def pairwise_judgments(session: Session, study: str) -> list[PairwiseJudgment]:
    return list(session.scalars(select(PairwiseJudgment).where(PairwiseJudgment.study == study).order_by(PairwiseJudgment.id)))


def pairwise_positions_answered(session: Session, study: str, voter: str) -> set[int]:
    rows = session.scalars(select(PairwiseJudgment.position).where(PairwiseJudgment.study == study, PairwiseJudgment.voter == voter))
    return set(rows)
