"""Assignment: balanced on completed participations, dropouts' slots refilled, across processes."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gdp_zero.study import crud
from gdp_zero.study.assignment import StudyFull, assign
from gdp_zero.study.db import open_database
from gdp_zero.study.models import ConditionRow, Participation, utcnow
from gdp_zero.study.spec import load_study

HERE = Path(__file__).parent
IDLE = timedelta(minutes=10)


@pytest.fixture
def stored_study(database, small_study_file):
    """The small study, stored: (study, its row id)."""
    study = load_study(small_study_file)
    with database.transaction() as session:
        return study, crud.sync_study(session, study).id


def _arrive(database, study_id: int, pid: str, now) -> int:
    with database.transaction() as session:
        participation = crud.create_participation(
            session, study_id=study_id, participant_id=pid, recruitment={}, token_hash=f"hash-{pid}",
            phase="chat", status=crud.ACTIVE, created_at=now, last_active_at=now,
        )
        return participation.id


def _set(database, participation_id: int, **values) -> None:
    with database.transaction() as session:
        participation = session.get(Participation, participation_id)
        for key, value in values.items():
            setattr(participation, key, value)


def _completed(database, study_id: int) -> dict[str, int]:
    with database.transaction() as session:
        rows = session.execute(
            select(ConditionRow.name, func.count()).join(Participation, Participation.condition_id == ConditionRow.id)
            .where(Participation.study_id == study_id, Participation.status == crud.COMPLETED).group_by(ConditionRow.name)
        )
        return dict(rows.all())


def test_forty_participants_over_two_conditions_end_twenty_each(database, stored_study):
    study, study_id = stored_study
    names = [c.name for c in study.conditions]
    now, rng = utcnow(), random.Random(1)
    assigned = Counter()
    for n in range(40):
        participation = _arrive(database, study_id, f"p{n}", now)
        assigned[assign(database, participation, now, IDLE, names, rng).name] += 1
        # Balanced all along, not only at the end: never more than one apart.
        assert abs(assigned["gdpzero"] - assigned["prompting"]) <= 1
        _set(database, participation, status=crud.COMPLETED, phase="complete")
    assert _completed(database, study_id) == {"gdpzero": 20, "prompting": 20}
    late = _arrive(database, study_id, "p40", now)
    with pytest.raises(StudyFull):
        assign(database, late, now, IDLE, names, rng)


def test_the_slots_of_ten_dropouts_go_to_the_next_arrivals_and_the_study_ends_twenty_each(database, stored_study):
    study, study_id = stored_study
    names = [c.name for c in study.conditions]
    start, rng = utcnow(), random.Random(2)
    condition_of = {}
    for n in range(40):
        participation = _arrive(database, study_id, f"p{n}", start)
        condition_of[participation] = assign(database, participation, start, IDLE, names, rng).name
    # Every slot is held by someone active: the next arrival finds the study full.
    waiting = _arrive(database, study_id, "early", start + timedelta(minutes=1))
    with pytest.raises(StudyFull):
        assign(database, waiting, start + timedelta(minutes=1), IDLE, names, rng)

    # Midway, 7 participants of one condition and 3 of the other stop answering; the rest go on and finish.
    by_condition = {name: [p for p, c in condition_of.items() if c == name] for name in names}
    dropouts = set(by_condition["gdpzero"][:7] + by_condition["prompting"][:3])
    later = start + IDLE + timedelta(minutes=1)
    for participation in condition_of:
        if participation not in dropouts:
            _set(database, participation, last_active_at=later, status=crud.COMPLETED, phase="complete")

    refill = Counter()
    for n in range(10):
        participation = _arrive(database, study_id, f"new{n}", later)
        refill[assign(database, participation, later, IDLE, names, rng).name] += 1
        _set(database, participation, status=crud.COMPLETED, phase="complete")
    assert refill == {"gdpzero": 7, "prompting": 3}
    assert _completed(database, study_id) == {"gdpzero": 20, "prompting": 20}
    with database.transaction() as session:
        statuses = {p.id: p.status for p in crud.participations(session, study_id)}
    assert {statuses[p] for p in dropouts} == {crud.TIMED_OUT}
    with pytest.raises(StudyFull):
        assign(database, _arrive(database, study_id, "late", later), later, IDLE, names, rng)


def test_screened_out_participants_and_previews_hold_no_slot(database, stored_study):
    study, study_id = stored_study
    names = [c.name for c in study.conditions]
    now, rng = utcnow(), random.Random(3)
    first = _arrive(database, study_id, "a", now)
    assign(database, first, now, IDLE, names, rng)
    _set(database, first, status=crud.SCREENED_OUT)
    preview = _arrive(database, study_id, "preview", now)
    _set(database, preview, preview=True)
    assign(database, preview, now, IDLE, names, rng)
    with database.transaction() as session:
        assert crud.slots_used(session, study_id) == {}


WORKER = HERE / "study_worker.py"


def test_two_server_processes_on_one_database_assign_balanced_and_never_twice(db_url, tmp_path, small_study_file):
    open_database(db_url).dispose()  # create the schema before both start, as `study serve` would
    ids = [f"PID{n:03d}" for n in range(40)]
    go = tmp_path / "go"
    workers = []
    for seed in (1, 2):
        order = ids[:]
        random.Random(seed).shuffle(order)  # both processes see every id, in different orders
        workers.append(
            subprocess.Popen(
                [sys.executable, str(WORKER), "complete", db_url, str(small_study_file), str(go), *order],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")},
            )
        )
    time.sleep(1.0)
    go.touch()
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        outputs.append([json.loads(line) for line in out.splitlines()])

    done = [r for rows in outputs for r in rows if r["outcome"] == "complete"]
    assert len(done) == 40 and len({r["pid"] for r in done}) == 40  # each id completed once, in one process
    assert all(len([r for r in rows if r["outcome"] == "complete"]) > 0 for rows in outputs)  # both served participants
    refused = [r for rows in outputs for r in rows if r["outcome"] == "refused"]
    assert len(refused) == 40 and {r["reason"] for r in refused} <= {"already_completed", "in_progress_elsewhere"}
    assert Counter(r["condition"] for r in done) == {"gdpzero": 20, "prompting": 20}

    database = open_database(db_url)
    with database.transaction() as session:
        study_id = crud.study_row(session, "small").id
        stored = [(p.participant_id, p.status, p.condition.name) for p in crud.participations(session, study_id)]
    database.dispose()
    assert sorted(pid for pid, _, _ in stored) == sorted(ids)
    assert Counter(name for _, status, name in stored if status == crud.COMPLETED) == {"gdpzero": 20, "prompting": 20}
