"""The study database: every table, as SQLAlchemy 2.0 typed models (the README documents them).

One row per participation; its answers, messages and ratings hang off it. A bot message row holds
the whole `PlannerTurn` (act, reply, search tree, usage, timings, settings) as JSON, so a
participation reads back as a `DialogueRecord`. `events` is the append-only log of everything a
participant did, in order. Bump `SCHEMA_VERSION` (and add a migration in db.py) when a table changes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

SCHEMA_VERSION = 3  # 2: arena_votes, 3: pairwise_judgments


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps in UTC, timezone-aware on the way out also on SQLite (which stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: UTCDateTime}


# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Meta(Base):
    """Key-value facts about the database: schema_version, export_salt, created_at, created_by."""

    __tablename__ = "gdpz_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class StudyRow(Base):
    """A study as last served: its file's contents; the row is the lock assignment takes."""

    __tablename__ = "studies"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)  # the study file's `id`
    title: Mapped[str] = mapped_column(Text)
    spec: Mapped[dict[str, Any]]  # the study file as loaded (Study.public_dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    conditions: Mapped[list[ConditionRow]] = relationship(back_populates="study", order_by="ConditionRow.id")


class ConditionRow(Base):
    __tablename__ = "conditions"
    __table_args__ = (UniqueConstraint("study_id", "name"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    name: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(60))
    planner: Mapped[str] = mapped_column(String(40))
    quota: Mapped[int | None]
    settings: Mapped[dict[str, Any]]  # Condition.public_dict: planner parameters, time budget, own LLM table

    study: Mapped[StudyRow] = relationship(back_populates="conditions")


class Participation(Base):
    """One participant's run through the study; (study, participant id) is unique: one run per id."""

    __tablename__ = "participations"
    __table_args__ = (
        UniqueConstraint("study_id", "participant_id"),
        Index("ix_participations_assignment", "study_id", "condition_id", "status"),
    )
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    participant_id: Mapped[str] = mapped_column(String(200))  # PROLIFIC_PID, or generated
    id_generated: Mapped[bool] = mapped_column(default=False)
    recruitment: Mapped[dict[str, Any]]  # the other URL parameters kept (STUDY_ID, SESSION_ID, ...)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the browser's secret
    preview: Mapped[bool] = mapped_column(default=False)  # a researcher's walk-through: never counted
    # consent, pre_survey, chat, post_survey, complete, screened_out, declined, timed_out
    phase: Mapped[str] = mapped_column(String(20))
    # active, completed, screened_out, declined, timed_out: what assignment and the counts read
    status: Mapped[str] = mapped_column(String(20))
    condition_id: Mapped[int | None] = mapped_column(ForeignKey("conditions.id"))
    assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(40))  # the chat's: max_turns, success, finished, ...
    screen_out_reason: Mapped[str | None] = mapped_column(String(40))
    attention_passed: Mapped[bool | None]

    condition: Mapped[ConditionRow | None] = relationship()
    messages: Mapped[list[Message]] = relationship(order_by="Message.position", back_populates="participation")


class _ItemResponse:
    """Columns of an answer to one item: its value as given, and as a number for the statistics."""

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participations.id"), index=True)
    item: Mapped[str] = mapped_column(String(40))
    value: Mapped[Any] = mapped_column(JSON)
    number: Mapped[float | None] = mapped_column(Float)  # likert, number; checkbox 1/0; None for text and choice
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Answer(_ItemResponse, Base):
    """A survey answer."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("participation_id", "survey", "item"),)
    survey: Mapped[str] = mapped_column(String(8))  # pre, post


class Message(Base):
    """One turn of the chat: the participant's message or the bot's (with its PlannerTurn)."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("participation_id", "position"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participations.id"), index=True)
    position: Mapped[int]  # in the dialogue, from 0 (the bot's greeting)
    speaker: Mapped[str] = mapped_column(String(8))  # system (the bot), user (the participant)
    # The user act the tagger gave; None while the participant's message awaits its reply.
    act: Mapped[str | None] = mapped_column(String(60))
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    tag_fallback: Mapped[str | None] = mapped_column(String(60))
    planner_turn: Mapped[dict[str, Any] | None]  # PlannerTurn.to_dict(): act, reply, tree, usage, seconds, settings
    usage: Mapped[dict[str, Any] | None]  # the turn's LLM usage by role, tagging the message before it included
    wait_seconds: Mapped[float | None] = mapped_column(Float)  # the participant's wait for this reply

    participation: Mapped[Participation] = relationship(back_populates="messages")


class Rating(_ItemResponse, Base):
    """A per-turn annotation of one bot message."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("message_id", "item"),)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))


class Event(Base):
    """Append-only log: entered, consent, answers, message, bot_turn, rating, finished, completion, ..."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    participation_id: Mapped[int] = mapped_column(ForeignKey("participations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ArenaVote(Base):
    """One arena vote: the two contestants as shown (A and B), the verdict, both dialogues so far, the draw."""

    __tablename__ = "arena_votes"
    __table_args__ = (Index("ix_arena_votes_arena", "arena", "voter"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    arena: Mapped[str] = mapped_column(String(80))  # the arena file's `id`
    battle: Mapped[str] = mapped_column(String(32), unique=True)  # one vote per battle
    voter: Mapped[str] = mapped_column(String(64))  # a pseudonym: the salted hash of the browser's session
    model_a: Mapped[str] = mapped_column(String(40))  # contestant names
    model_b: Mapped[str] = mapped_column(String(40))
    winner: Mapped[str] = mapped_column(String(10))  # a, b, tie, both_bad
    exchanges: Mapped[int]  # the person's messages answered by both before the vote
    dialogue_a: Mapped[dict[str, Any]]  # DialogueRecord.to_dict() of each side
    dialogue_b: Mapped[dict[str, Any]]
    contestants: Mapped[dict[str, Any]]  # {"a": ..., "b": ...}: Contestant.public_dict with models by role
    draw: Mapped[dict[str, Any]]  # pairing.Draw.to_dict(): the pair's probability and what it depended on
    at: Mapped[datetime] = mapped_column(default=utcnow)


class PairwiseJudgment(Base):
    """One answer of a pairwise study (gdp_zero.study.pairwise): which of two finished dialogues' persuaders did
    better on one question; the attention check's answers too, with the answer known to be right."""

    __tablename__ = "pairwise_judgments"
    __table_args__ = (UniqueConstraint("study", "voter", "position", "question"),)
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    study: Mapped[str] = mapped_column(String(80))  # the pairwise study file's `id`
    voter: Mapped[str] = mapped_column(String(64))  # a pseudonym: the salted hash of the recruitment id
    position: Mapped[int]  # the pair's place in this participant's list, from 0
    question: Mapped[str] = mapped_column(String(20))  # persuasive, natural, coherent
    model_a: Mapped[str] = mapped_column(String(80))  # the persuaders shown as A and B
    model_b: Mapped[str] = mapped_column(String(80))
    dialogue_a: Mapped[str] = mapped_column(String(200))  # the dialogues' record ids
    dialogue_b: Mapped[str] = mapped_column(String(200))
    winner: Mapped[str] = mapped_column(String(4))  # a, b
    known: Mapped[str | None] = mapped_column(String(4))  # an attention check's right answer; None otherwise
    at: Mapped[datetime] = mapped_column(default=utcnow)
