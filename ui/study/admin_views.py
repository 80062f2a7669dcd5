"""What the admin dashboard shows, as tables and figures: no Gradio here, so each piece is tested directly.

`StudyReader` reads the study's database through gdp_zero/study (crud, stats, export); the
functions below turn what it reads into DataFrames and Plotly figures.
"""

from __future__ import annotations

import html
from datetime import datetime, timezone
from typing import Any, Iterable

import pandas as pd

from gdp_zero.study import crud
from gdp_zero.study.dialogues import participation_record
from gdp_zero.study.models import Participation
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import Study

COUNT_COLUMNS = ["condition", "label", "planner", "quota", "started", "in progress", "completed", "dropped",
                 "screened out"]
UNASSIGNED = "(not assigned yet)"


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%H:%M:%S UTC")


def as_index(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def counts_frame(rows: Iterable[tuple[str | None, str, int]], study: Study) -> pd.DataFrame:
    """Participations per condition: started (assigned), in progress, completed, dropped, screened out.

    Dropped are those who timed out after assignment; declined consent and screen-outs before the
    chat have no condition and show in the "not assigned" row. Previews are never counted.
    """
    by: dict[str | None, dict[str, int]] = {}
    for condition, status, count in rows:
        by.setdefault(condition, {})[status] = count
    table = []
    for condition in [*study.conditions, None]:
        name = condition.name if condition is not None else None
        statuses = by.get(name, {})
        if condition is None and not statuses:
            continue
        table.append([
            name or UNASSIGNED,
            condition.label if condition is not None else "",
            condition.planner if condition is not None else "",
            condition.quota if condition is not None and condition.quota is not None else "",
            sum(statuses.values()),
            statuses.get(crud.ACTIVE, 0),
            statuses.get(crud.COMPLETED, 0),
            statuses.get(crud.TIMED_OUT, 0) + statuses.get(crud.DECLINED, 0),
            statuses.get(crud.SCREENED_OUT, 0),
        ])
    return pd.DataFrame(table, columns=COUNT_COLUMNS)


def participation_label(participation: Any, condition: str | None, messages: int) -> str:
    preview = " · preview" if participation.preview else ""
    return (f"#{participation.id} · {participation.participant_id} · {condition or UNASSIGNED} · "
            f"{participation.status} · {messages} messages{preview}")


def participation_info_html(participation: Any, condition: str | None, answers: list[Any]) -> str:
    rows = [("participant id", participation.participant_id), ("condition", condition or UNASSIGNED),
            ("status", participation.status), ("phase", participation.phase),
            ("end reason", participation.end_reason or ""), ("screen-out reason", participation.screen_out_reason or ""),
            ("attention check passed", "" if participation.attention_passed is None else str(participation.attention_passed)),
            ("started", participation.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"))]
    rows += [(f"{answer.survey}: {answer.item}", answer.value) for answer in answers]
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="participation-info">{body}</table>'


def turn_label(record: Any, index: int) -> str:
    number = sum(1 for t in record.turns[: index + 1] if t.speaker == "system")
    return f"turn {number} · {record.turns[index].act}"


class StudyReader:
    """The dashboard's reads, each in one short transaction of its own."""

    def __init__(self, service: StudyService) -> None:
        self.service = service

    def status_counts(self) -> list[tuple[str | None, str, int]]:
        with self.service.database.transaction() as session:
            return crud.status_counts(session, self.service.study_id)

    def participation_choices(self) -> list[tuple[str, int]]:
        """Every participation, newest first, previews included (and marked)."""
        with self.service.database.transaction() as session:
            rows = crud.participations(session, self.service.study_id, include_preview=True)
            return [(participation_label(p, p.condition.name if p.condition else None, crud.message_count(session, p.id)), p.id)
                    for p in reversed(rows)]

    def transcript(self, participation_id: Any) -> tuple[Any, str]:
        """(the participation's DialogueRecord, its facts as HTML); (None, "") for an unknown id."""
        number = as_index(participation_id)
        if number is None:
            return None, ""
        with self.service.database.transaction() as session:
            participation = session.get(Participation, number)
            if participation is None or participation.study_id != self.service.study_id:
                return None, ""
            condition = participation.condition.name if participation.condition else None
            info = participation_info_html(participation, condition, crud.answers_of(session, number))
            record = participation_record(self.service.study.id, participation, crud.messages_of(session, number),
                                          self.service.domain, participation.participant_id)
        return record, info
