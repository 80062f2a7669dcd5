"""Exports: files that open in pandas with the documented columns; recruitment ids pseudonymised unless asked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gdp_zero.records import load_records
from gdp_zero.study.db import open_database
from gdp_zero.study.export import ANSWER_COLUMNS, MESSAGE_COLUMNS, PARTICIPANT_COLUMNS, RATING_COLUMNS, export_study, pseudonym, study_data
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import load_study
from gdp_zero.study.stats import compare_conditions, item_summary

README = Path(__file__).resolve().parents[2] / "README.md"


async def run_participants(service: StudyService) -> None:
    """Two complete participations, one screened out by the attention check, one mid-chat, one preview."""
    for pid, attention, stop in (("PID-A", 1, None), ("PID-B", 1, None), ("PID-C", 5, None), ("PID-D", 1, "chat")):
        token = service.enter({"PROLIFIC_PID": pid, "STUDY_ID": "S1", "SESSION_ID": f"session-{pid}"}).token
        service.consent(token, True)
        service.answer(token, "pre", {"donation_intention": 2})
        view = await service.start_chat(token)
        for message in ("Hello, what is this charity?", "How would my money be used?"):
            view = service.rate(token, view.awaiting_rating, {"persuasive": 4, "off_topic": pid == "PID-B"})
            view = await service.send(token, message)
        if stop == "chat":
            continue
        service.rate(token, view.awaiting_rating, {"persuasive": 5})
        service.finish_chat(token)
        service.answer(token, "post", {"persuasive": 4, "attention": attention, "donation_intention": 4, "donation_amount": 1.25})
    preview = service.enter({}, preview=True).token
    service.consent(preview, True)


@pytest.fixture
async def filled_db(db_url, fake_server, make_settings, monkeypatch, small_study_file):
    database = open_database(db_url)
    service = StudyService(load_study(small_study_file), database, make_settings(fake_server.base_url, seed=2))
    await run_participants(service)
    await service.aclose()
    database.dispose()
    return db_url


def test_export_files_open_in_pandas_with_the_documented_columns_and_pseudonyms(filled_db, tmp_path):
    tmp_path = tmp_path / "export"
    written = export_study(filled_db, tmp_path)
    assert {path.name for path in written} == {
        f"{name}.{ext}" for name in ("participants", "messages", "ratings", "answers") for ext in ("csv", "jsonl")
    } | {"dialogues.jsonl"}
    participants = pd.read_csv(tmp_path / "participants.csv")
    survey_columns = ["recruitment.STUDY_ID", "recruitment.SESSION_ID", "pre.donation_intention", "post.persuasive",
                      "post.attention", "post.donation_intention", "post.donation_amount"]
    assert list(participants.columns) == [*PARTICIPANT_COLUMNS, *survey_columns]
    assert len(participants) == 4 and participants["preview"].eq(False).all()
    assert sorted(participants["status"]) == ["active", "completed", "completed", "screened_out"]
    assert participants["participant"].str.fullmatch(r"[0-9a-f]{16}").all()
    salt = open_database(filled_db).meta("export_salt")
    assert set(participants["participant"]) == {pseudonym(f"PID-{x}", salt) for x in "ABCD"}
    assert set(participants["recruitment.SESSION_ID"]) == {pseudonym(f"session-PID-{x}", salt) for x in "ABCD"}
    assert participants.set_index("participant").loc[pseudonym("PID-C", salt), "screen_out_reason"] == "attention_check"

    messages = pd.read_csv(tmp_path / "messages.csv")
    assert list(messages.columns) == list(MESSAGE_COLUMNS)
    assert len(messages) == 4 * 5 and (messages.groupby("participant")["position"].apply(list) == [[0, 1, 2, 3, 4]] * 4).all()
    bot = messages[messages["speaker"] == "system"]
    assert bot["act"].notna().all() and (bot["llm_calls"] >= 1).all() and (bot["wait_seconds"] > 0).all()
    assert set(bot["planner"]) <= {"gdpzero", "prompting"}
    ratings = pd.read_csv(tmp_path / "ratings.csv")
    assert list(ratings.columns) == list(RATING_COLUMNS)
    assert len(ratings) == (3 * 3 + 2) * 2  # 3 bot turns rated by 3 finishers, 2 by the one mid-chat; two items each
    assert set(ratings["bot_turn"]) == {0, 1, 2}
    answers = pd.read_csv(tmp_path / "answers.csv")
    assert list(answers.columns) == list(ANSWER_COLUMNS) and len(answers) == 4 + 3 * 4

    messages_jsonl = pd.read_json(tmp_path / "messages.jsonl", lines=True)
    trees = [turn["tree"] for turn in messages_jsonl["planner_turn"] if isinstance(turn, dict) and turn["planner"] == "gdpzero"]
    assert all(tree and tree["root"] for tree in trees)
    assert len(pd.read_json(tmp_path / "participants.jsonl", lines=True)) == 4
    records = load_records(tmp_path / "dialogues.jsonl")
    assert len(records) == 4 and {r.source for r in records} == {"study"} and {r.meta["participant"] for r in records} == set(participants["participant"])
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "PID-A" not in text and "session-PID-A" not in text

    # The README documents every column.
    readme = README.read_text()
    for column in {*PARTICIPANT_COLUMNS, *MESSAGE_COLUMNS, *RATING_COLUMNS, *ANSWER_COLUMNS}:
        assert re.search(rf"`{re.escape(column)}`", readme), f"README does not document the column {column}"


def test_raw_ids_only_on_request_and_a_given_salt_changes_the_pseudonyms(filled_db, tmp_path):
    export_study(filled_db, tmp_path / "raw", raw_ids=True)
    raw = pd.read_csv(tmp_path / "raw" / "participants.csv")
    assert set(raw["participant"]) == {"PID-A", "PID-B", "PID-C", "PID-D"}
    export_study(filled_db, tmp_path / "salted", salt="my-salt")
    salted = pd.read_csv(tmp_path / "salted" / "participants.csv")
    assert set(salted["participant"]) == {pseudonym(f"PID-{x}", "my-salt") for x in "ABCD"}
    export_study(filled_db, tmp_path / "preview", include_preview=True)
    assert len(pd.read_csv(tmp_path / "preview" / "participants.csv")) == 5


def test_the_statistics_read_the_exported_data(filled_db):
    database = open_database(filled_db)
    data = study_data(database)
    database.dispose()
    responses = data.responses("everyone")
    assert set(responses["source"]) == {"pre", "post", "turn"}
    summary = item_summary(responses)
    assert set(summary["item"]) == {"donation_intention", "persuasive", "attention", "donation_amount", "off_topic"}
    assert summary[(summary["source"] == "pre")]["n"].sum() == 4
    # By default only the two completers (PID-C failed the attention check, PID-D is mid-chat).
    assert item_summary(data.responses())[lambda t: t["source"] == "pre"]["n"].sum() == 2
    # Balanced assignment put the first two in different conditions, so every item is compared once.
    assert set(data.participants["condition"]) == {"gdpzero", "prompting"}
    compared = compare_conditions(responses)
    assert len(compared) == len(summary[["source", "item"]].drop_duplicates())
    assert set(compared["condition_a"]) == {"gdpzero"} and set(compared["condition_b"]) == {"prompting"}


def test_study_export_command(filled_db, tmp_path):
    run = [sys.executable, "-m", "gdp_zero.cli", "study", "export", "--db", filled_db, "--out", str(tmp_path / "out")]
    done = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"{tmp_path / 'out' / 'participants.csv'}: 4 rows" in done.stdout
    wrong = subprocess.run([*run[:-2], "--out", str(tmp_path / "x"), "--study", "nope"], capture_output=True, text=True, timeout=120)
    assert wrong.returncode == 2 and "the database has no study 'nope'; studies in it: small" in wrong.stderr
