"""Balanced random assignment to conditions, with quotas, balanced on completed participations.

A condition's used slots are its completed participations plus the active ones assigned to it.
A participant idle past the study's idle timeout is marked timed out here first, so the slot they
held goes to the next arrival; so does a slot held by a participant who entered longer than the
study's start timeout ago and never wrote in the chat, and a slot freed by a screen-out. The next arrival goes to the
condition with the smallest share of its quota used (without quotas: the fewest used), ties broken
at random. The whole decision runs in one transaction holding the study's row lock, so server
processes sharing the database never assign the same free slot twice.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Collection

from gdp_zero.study import crud
from gdp_zero.study.db import Database
from gdp_zero.study.models import ConditionRow, Participation

_rng = random.SystemRandom()


class StudyFull(RuntimeError):
    """Every condition's quota is taken by completed or active participants."""


def assign(
    database: Database,
    participation_id: int,
    now: datetime,
    idle_timeout: timedelta,
    names: Collection[str],
    rng: random.Random = _rng,
    start_timeout: timedelta | None = None,
) -> ConditionRow:
    """The participation's condition: assigned now among the conditions `names`, or the one it already has."""
    with database.transaction() as session:
        participation = session.get(Participation, participation_id, with_for_update=True)
        if participation is None:
            raise LookupError(f"no participation {participation_id}")
        if participation.condition is not None:
            return participation.condition
        crud.lock_study(session, participation.study_id)
        crud.expire_idle(session, participation.study_id, now - idle_timeout)
        if start_timeout is not None:
            crud.expire_unstarted(session, participation.study_id, now - start_timeout)
        conditions = [c for c in crud.conditions_of(session, participation.study_id) if c.name in names]
        chosen = choose_condition(conditions, crud.slots_used(session, participation.study_id), rng)
        participation.condition_id, participation.assigned_at = chosen.id, now
        crud.add_event(session, participation, "assigned", now, condition=chosen.name)
        session.flush()
        return chosen


def choose_condition(conditions: list[ConditionRow], used: dict[int, int], rng: random.Random) -> ConditionRow:
    """The condition with the smallest used share of its quota; raises StudyFull when all are full."""
    open_ = [c for c in conditions if c.quota is None or used.get(c.id, 0) < c.quota]
    if not open_:
        raise StudyFull("every condition's quota is taken")

    def share(condition: ConditionRow) -> float:
        return used.get(condition.id, 0) / (condition.quota or 1)

    lowest = min(share(c) for c in open_)
    return rng.choice([c for c in open_ if share(c) == lowest])
