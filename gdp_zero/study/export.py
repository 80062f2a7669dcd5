"""A study's data as tables (pandas) and files (CSV and JSONL): per participant, message, rating, answer.

Recruitment ids (the participant id and every kept URL parameter) are pseudonymised by default:
an HMAC-SHA256 of the id under a salt (the database's own, made when it was created, or one you
give), so the same person has the same pseudonym in every file and export of that database and
nobody without the salt can recover or confirm an id. Raw ids only with `raw_ids=True`.
The columns are documented in the README ("Crowd studies: exports") and named here once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gdp_zero.domain import load_domain
from gdp_zero.records import DialogueRecord
from gdp_zero.study import crud
from gdp_zero.study.db import Database, DatabaseError, open_database
from gdp_zero.study.dialogues import participation_record
from gdp_zero.study.models import Message, Participation
from gdp_zero.study.spec import Study, study_from_dict
from gdp_zero.study.stats import Population, is_completer

PARTICIPANT_COLUMNS = (
    "participant", "condition", "label", "planner", "status", "completer", "phase", "end_reason", "screen_out_reason",
    "attention_passed", "turns", "entered_at", "assigned_at", "ended_at", "minutes", "id_generated", "preview",
)  # then recruitment.<PARAM> for each kept URL parameter, pre.<item> and post.<item> for each survey item
# `status` and `completer` (stats.is_completer: the dashboard's default analysis population) on every row,
# so that a table filters to the analysed participants without a join.
MESSAGE_COLUMNS = (
    "participant", "condition", "status", "completer", "position", "speaker", "act", "text", "at", "tag_fallback", "planner",
    "simulations", "reused_simulations", "stopped_by", "planner_seconds", "wait_seconds", "llm_calls",
    "prompt_tokens", "completion_tokens",
)  # messages.jsonl adds planner_turn (act, reply, tree, usage, seconds, settings) and usage by role
RATING_COLUMNS = ("participant", "condition", "status", "completer", "position", "bot_turn", "act", "item", "value", "number", "at")
ANSWER_COLUMNS = ("participant", "condition", "status", "completer", "survey", "item", "value", "number", "at")
RESPONSE_COLUMNS = ("participant", "condition", "source", "item", "turn", "value")
# A CSV cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...) from a
# participant's message): OWASP's rule prefixes it with a quote, shown but never evaluated.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def pseudonym(value: str, salt: str) -> str:
    return hmac.new(salt.encode(), value.encode(), hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class StudyData:
    """A study's rows as tables, recruitment ids already pseudonymised (unless raw ids were asked for)."""

    study: Study
    participants: pd.DataFrame
    messages: pd.DataFrame  # with a planner_turn column (dicts) and usage by role
    ratings: pd.DataFrame
    answers: pd.DataFrame
    records: tuple[DialogueRecord, ...]  # one per participation that reached the chat

    def responses(self, population: Population = "completers") -> pd.DataFrame:
        """The long-form table the statistics read: one numeric answer or rating per row, of `population`.

        source is "pre", "post" or "turn" (a per-turn rating; turn = the bot message's number, 0 = greeting).
        Completers by default (stats.POPULATIONS); "everyone" adds every other participant assigned a condition.
        """
        answers = self.answers.dropna(subset=["number"])
        ratings = self.ratings.dropna(subset=["number"])
        if population == "completers":
            answers, ratings = answers[answers["completer"].astype(bool)], ratings[ratings["completer"].astype(bool)]
        frames = [
            pd.DataFrame({"participant": answers["participant"], "condition": answers["condition"], "source": answers["survey"],
                          "item": answers["item"], "turn": pd.NA, "value": answers["number"]}),
            pd.DataFrame({"participant": ratings["participant"], "condition": ratings["condition"], "source": "turn",
                          "item": ratings["item"], "turn": ratings["bot_turn"], "value": ratings["number"]}),
        ]
        table = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else pd.DataFrame(columns=RESPONSE_COLUMNS)
        table = table.dropna(subset=["condition"])
        return table.astype({"value": float, "turn": "Int64"}).reset_index(drop=True)[list(RESPONSE_COLUMNS)]

    def analysed(self, population: Population = "completers") -> pd.DataFrame:
        """The participants `responses(population)` counts: assigned a condition, and completers unless everyone."""
        participants = self.participants[self.participants["condition"].notna()]
        return participants if population == "everyone" else participants[participants["completer"].astype(bool)]


def study_data(
    database: Database, study_id: str | None = None, *, raw_ids: bool = False, salt: str | None = None, include_preview: bool = False
) -> StudyData:
    """Read a study's data; `study_id` may be left out when the database holds one study."""
    with database.transaction() as session:
        row = crud.study_row(session, study_id)
        if row is None:
            names = crud.study_names(session)
            wanted = f"no study {study_id!r}" if study_id else "several studies" if names else "no study yet"
            raise DatabaseError(f"the database has {wanted}; studies in it: {', '.join(names) or 'none'}" + ("" if study_id else " (choose one with --study)"))
        study = study_from_dict(row.spec, f"study {row.name!r} as stored")
        salt = salt or crud.meta_value(session, "export_salt") or ""
        participations = crud.participations(session, row.id, include_preview=include_preview)
        ids = [p.id for p in participations]
        messages = crud.messages_for(session, ids)
        ratings = crud.ratings_of(session, ids)
        answers = crud.answers_for(session, ids)
        for participation in participations:
            _ = participation.condition  # loaded while the session is open

    def who(value: str) -> str:
        return value if raw_ids else pseudonym(value, salt)

    condition_names = {p.id: (p.condition.name if p.condition else None) for p in participations}
    # Each row's participant: pseudonym, condition, status, and whether the default analysis counts them.
    whose = {p.id: {"participant": who(p.participant_id), "condition": condition_names[p.id], "status": p.status,
                    "completer": is_completer(p.status, p.attention_passed)} for p in participations}
    messages_by = _group(messages)
    domain = load_domain(study.domain)
    records = tuple(
        participation_record(study.id, p, messages_by.get(p.id, []), domain, who(p.participant_id)) for p in participations if messages_by.get(p.id)
    )
    bot_turn = {m.id: index for group in messages_by.values() for index, m in enumerate(x for x in group if x.speaker == "system")}
    message_by_id = {m.id: m for m in messages}

    participant_rows = [_participant_row(study, p, messages_by.get(p.id, []), [a for a in answers if a.participation_id == p.id], who) for p in participations]
    message_rows = [{**whose[m.participation_id], **_message_row(m)} for m in messages]
    rating_rows = [
        {
            **whose[r.participation_id],
            "position": message_by_id[r.message_id].position,
            "bot_turn": bot_turn[r.message_id],
            "act": message_by_id[r.message_id].act,
            "item": r.item,
            "value": r.value,
            "number": r.number,
            "at": r.at.isoformat(),
        }
        for r in ratings
    ]
    answer_rows = [
        {**whose[a.participation_id], "survey": a.survey, "item": a.item, "value": a.value, "number": a.number, "at": a.at.isoformat()}
        for a in answers
    ]
    return StudyData(
        study=study,
        participants=_frame(participant_rows, PARTICIPANT_COLUMNS),
        messages=_frame(message_rows, (*MESSAGE_COLUMNS, "planner_turn", "usage")),
        ratings=_frame(rating_rows, RATING_COLUMNS),
        answers=_frame(answer_rows, ANSWER_COLUMNS),
        records=records,
    )


def export_study(
    db_url: str, out: Path, *, study_id: str | None = None, raw_ids: bool = False, salt: str | None = None, include_preview: bool = False
) -> dict[Path, int]:
    """Open the database at `db_url` and write its study's files (see `write_export`)."""
    database = open_database(db_url)
    try:
        data = study_data(database, study_id, raw_ids=raw_ids, salt=salt, include_preview=include_preview)
    finally:
        database.dispose()
    return write_export(data, out)


def write_export(data: StudyData, out: Path) -> dict[Path, int]:
    """Write participants, messages, ratings, answers (.csv and .jsonl) and dialogues.jsonl; rows per file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[Path, int] = {}
    tables = {
        "participants": (data.participants, None),
        "messages": (data.messages, list(MESSAGE_COLUMNS)),  # the CSV leaves out the trees
        "ratings": (data.ratings, None),
        "answers": (data.answers, None),
    }
    for name, (table, csv_columns) in tables.items():
        csv_table = table[csv_columns] if csv_columns else table
        # Every column of text (object, or pandas' str dtype): a formula can hide in any of them.
        text_columns = [c for c in csv_table.columns if not pd.api.types.is_numeric_dtype(csv_table[c])]
        csv_table.assign(**{c: csv_table[c].map(_cell) for c in text_columns}).to_csv(out / f"{name}.csv", index=False)
        _write_jsonl(out / f"{name}.jsonl", table.to_dict(orient="records"))
        written[out / f"{name}.csv"] = written[out / f"{name}.jsonl"] = len(table)
    _write_jsonl(out / "dialogues.jsonl", [record.to_dict() for record in data.records])
    written[out / "dialogues.jsonl"] = len(data.records)
    return written


def _participant_row(study: Study, p: Participation, messages: list[Message], answers: list[Any], who: Any) -> dict[str, Any]:
    condition = p.condition
    row: dict[str, Any] = {
        "participant": who(p.participant_id),
        "condition": condition.name if condition else None,
        "label": condition.label if condition else None,
        "planner": condition.planner if condition else None,
        "status": p.status,
        "completer": is_completer(p.status, p.attention_passed),
        "phase": p.phase,
        "end_reason": p.end_reason,
        "screen_out_reason": p.screen_out_reason,
        "attention_passed": p.attention_passed,
        "turns": sum(1 for m in messages if m.speaker == "user" and m.act is not None),
        "entered_at": p.created_at.isoformat(),
        "assigned_at": p.assigned_at.isoformat() if p.assigned_at else None,
        "ended_at": p.ended_at.isoformat() if p.ended_at else None,
        "minutes": round((p.ended_at - p.created_at).total_seconds() / 60, 2) if p.ended_at else None,
        "id_generated": p.id_generated,
        "preview": p.preview,
    }
    for param in study.recruitment.params:
        value = p.recruitment.get(param)
        row[f"recruitment.{param}"] = who(value) if value is not None else None
    for survey in ("pre", "post"):
        for item in study.survey_items(survey):
            row[f"{survey}.{item.id}"] = next((a.value for a in answers if a.survey == survey and a.item == item.id), None)
    return row


def _message_row(m: Message) -> dict[str, Any]:
    """A message's own columns (the participant's come from the caller)."""
    planned = m.planner_turn or {}
    usage = m.usage or {}
    return {
        "position": m.position,
        "speaker": m.speaker,
        "act": m.act,
        "text": m.text,
        "at": m.at.isoformat(),
        "tag_fallback": m.tag_fallback,
        "planner": planned.get("planner"),
        "simulations": planned.get("simulations"),
        "reused_simulations": planned.get("reused_simulations"),
        "stopped_by": planned.get("stopped_by"),
        "planner_seconds": planned.get("seconds"),
        "wait_seconds": m.wait_seconds,
        "llm_calls": sum(u.get("calls", 0) for u in usage.values()) if m.speaker == "system" else None,
        "prompt_tokens": sum(u.get("prompt_tokens", 0) for u in usage.values()) if m.speaker == "system" else None,
        "completion_tokens": sum(u.get("completion_tokens", 0) for u in usage.values()) if m.speaker == "system" else None,
        "planner_turn": m.planner_turn,
        "usage": m.usage,
    }


def _group(messages: list[Message]) -> dict[int, list[Message]]:
    grouped: dict[int, list[Message]] = {}
    for message in messages:
        grouped.setdefault(message.participation_id, []).append(message)
    return grouped


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(columns))
    return frame[[*columns, *[c for c in frame.columns if c not in columns]]]


def _cell(value: Any) -> Any:
    """A CSV cell: lists and tables as JSON text, everything else as it is, with text that a
    spreadsheet would run as a formula neutralised (the JSONL files keep it raw)."""
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False) + "\n")


def _json_value(value: Any) -> Any:
    """Missing values (NaN, NA) as null, numpy scalars as Python numbers: strict JSON."""
    if value is None or isinstance(value, (dict, list, str, bool)):
        return value
    if pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value
