"""A pairwise study (ACUTE-Eval's design): balanced pairs of finished dialogues, an attention check with a
known answer, answers stored in the study database (SQLite and PostgreSQL), and the arena's leaderboard
computed from the stored answers."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text

from gdp_zero.arena.leaderboard import leaderboard
from gdp_zero.records import DialogueRecord, TurnRecord, append_record, save_record
from gdp_zero.study.db import database_url, open_database
from gdp_zero.study.models import SCHEMA_VERSION
from gdp_zero.study.pairwise import (
    AnswerRefused, balanced_pairs, judgments_frame, load_pairwise_study, pairwise_leaderboard,
    participant_pairs, save_answers, vote_table, voter_of,
)
from gdp_zero.validation import ConfigError

PLANNERS = ("gdpzero", "prompting", "raw")


def dialogue(planner: str, number: int, finished: bool = True) -> DialogueRecord:
    turns = []
    for k in range(3):
        turns.append(TurnRecord("system", "logical-appeal", f"{planner} says point {k} of dialogue {number}: children need help today."))
        turns.append(TurnRecord("user", "neutral-to-inquiry", f"I hear you ({k})."))
    return DialogueRecord(id=f"{planner}-{number}", source="selfplay", domain="p4g", turns=tuple(turns),
                          outcome=1.0 if finished else None, end_reason="turn_limit" if finished else None, condition=planner)


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    for planner in PLANNERS[:2]:
        for number in range(4):
            append_record(tmp_path / "runs.jsonl", dialogue(planner, number))
    append_record(tmp_path / "runs.jsonl", dialogue("gdpzero", 99, finished=False))
    save_record(tmp_path / "raw.json", dialogue("raw", 0))
    path = tmp_path / "pairs.toml"
    path.write_text('id = "acute"\ntitle = "Which persuader did better?"\ndialogues = ["runs.jsonl", "raw.json"]\n'
                    'pairs = 3\ncompletion_code = "C0DE"\n', encoding="utf-8")
    return path


def test_the_study_reads_finished_dialogues_by_persuader(study_file):
    loaded = load_pairwise_study(study_file)
    assert loaded.persuaders == sorted(PLANNERS)
    assert len(loaded.candidates) == 9  # the unfinished dialogue is not shown
    assert "gdpzero-99" not in {c.record.id for c in loaded.candidates}


def test_a_study_with_one_persuader_is_refused_in_one_line(tmp_path):
    append_record(tmp_path / "runs.jsonl", dialogue("gdpzero", 0))
    (tmp_path / "one.toml").write_text('id = "one"\ntitle = "t"\ndialogues = ["runs.jsonl"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"one.toml: dialogues: finished dialogues of at least two persuaders are needed \(found: gdpzero\)"):
        load_pairwise_study(tmp_path / "one.toml")
    (tmp_path / "gone.toml").write_text('id = "gone"\ntitle = "t"\ndialogues = ["missing.jsonl"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="gone.toml: dialogues: .*missing.jsonl: no such file"):
        load_pairwise_study(tmp_path / "gone.toml")


def test_pairs_are_balanced_across_planner_pairs_and_sides(study_file):
    loaded = load_pairwise_study(study_file)
    pairs = balanced_pairs(loaded.candidates, 60, random.Random(3))
    unordered = Counter(tuple(sorted((p.a.persuader, p.b.persuader))) for p in pairs)
    assert set(unordered.values()) == {20} and len(unordered) == 3
    ordered = Counter((p.a.persuader, p.b.persuader) for p in pairs)
    assert set(ordered.values()) == {10}  # each planner is "A" as often as "B" against each other
    assert all(p.a.persuader != p.b.persuader and p.known is None for p in pairs)
    shown = Counter(c.record.id for p in pairs for c in (p.a, p.b) if c.persuader == "gdpzero")
    assert max(shown.values()) - min(shown.values()) <= 1  # a planner's dialogues in turn


def test_the_attention_check_is_a_dialogue_against_its_scrambled_copy(study_file):
    loaded = load_pairwise_study(study_file)
    pairs = participant_pairs(loaded, "voter-1")
    checks = [p for p in pairs if p.attention_check]
    assert len(pairs) == 4 and len(checks) == 1
    check = checks[0]
    intact, broken = (check.a, check.b) if check.known == "a" else (check.b, check.a)
    assert broken.record.id == f"{intact.record.id}-broken" and broken.persuader == intact.persuader
    for kept, scrambled in zip(intact.record.turns, broken.record.turns):
        if kept.speaker == "user":
            assert scrambled.text == kept.text
        else:
            assert sorted(scrambled.text.split()) == sorted(kept.text.split()) and scrambled.text != kept.text
    assert participant_pairs(loaded, "voter-1") == pairs  # a reload shows the same pairs
    assert participant_pairs(loaded, "voter-2") != pairs


def answer_all(database, loaded, recruitment_id: str, pick, attention_right: bool) -> list[tuple]:
    """Answer every pair of one participant; returns the stored rows expected (voter, question, a, b, winner, known)."""
    voter = voter_of(database, recruitment_id)
    expected = []
    for position, pair in enumerate(participant_pairs(loaded, voter)):
        if pair.attention_check:
            wrong = "b" if pair.known == "a" else "a"
            choice = {q: (pair.known if attention_right else wrong) for q in loaded.study.questions}
        else:
            choice = {q: pick(pair, q) for q in loaded.study.questions}
        save_answers(database, loaded.study, voter, position, pair, choice)
        expected += [(voter, q, pair.a.persuader, pair.b.persuader, choice[q], pair.known) for q in loaded.study.questions]
    return expected


def prefers(order):
    return lambda pair, question: "a" if order.index(pair.a.persuader) < order.index(pair.b.persuader) else "b"


def test_stored_answers_feed_the_leaderboard_and_a_failed_check_is_excluded(db_url, study_file):
    loaded = load_pairwise_study(study_file)
    database = open_database(db_url)
    try:
        expected = []
        for k in range(4):
            expected += answer_all(database, loaded, f"PROLIFIC{k}", prefers(["gdpzero", "prompting", "raw"]), True)
        # A careless participant: picks the broken dialogue and ranks the planners backwards.
        expected += answer_all(database, loaded, "CARELESS", prefers(["raw", "prompting", "gdpzero"]), False)

        engine = create_engine(database_url(db_url))
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT voter, question, model_a, model_b, winner, known FROM pairwise_judgments ORDER BY id")).all()
        engine.dispose()
        assert [tuple(row) for row in stored] == expected
        assert not any("PROLIFIC" in row[0] or "CARELESS" in row[0] for row in stored)  # only pseudonyms

        frame = judgments_frame(database, "acute")
        careless = voter_of(database, "CARELESS")
        assert not frame[frame["voter"] == careless]["passed"].any() and frame[frame["voter"] != careless]["passed"].all()

        # The leaderboard from the stored answers equals the one from the answers given, checks and the careless left out.
        given = pd.DataFrame([row[2:5] for row in expected if row[1] == "persuasive" and row[5] is None and row[0] != careless],
                             columns=["model_a", "model_b", "winner"])
        board = pairwise_leaderboard(database, loaded.study, "persuasive", rounds=200, seed=1)
        reference = leaderboard(given, rounds=200, seed=1)
        assert board.votes == 12 == reference.votes
        assert board.ratings.tolist() == pytest.approx(reference.ratings.tolist())
        assert board.lower.tolist() == pytest.approx(reference.lower.tolist())
        assert list(board.table()["contestant"]) == ["gdpzero", "prompting", "raw"]

        kept = vote_table(frame, "persuasive", on_fail="keep")
        assert len(kept) == 15  # with on_fail = "keep" the careless participant's three pairs count
    finally:
        database.dispose()


def test_unanswered_or_repeated_answers_store_nothing(db_url, study_file):
    loaded = load_pairwise_study(study_file)
    database = open_database(db_url)
    try:
        voter = voter_of(database, "P1")
        pair = participant_pairs(loaded, voter)[0]
        with pytest.raises(AnswerRefused, match="Please answer every question .*more natural"):
            save_answers(database, loaded.study, voter, 0, pair, {"persuasive": "a", "coherent": "b"})
        assert judgments_frame(database, "acute").empty
        save_answers(database, loaded.study, voter, 0, pair, dict.fromkeys(loaded.study.questions, "a"))
        with pytest.raises(AnswerRefused, match="answered already"):
            save_answers(database, loaded.study, voter, 0, pair, dict.fromkeys(loaded.study.questions, "b"))
        assert list(judgments_frame(database, "acute")["winner"]) == ["a", "a", "a"]
    finally:
        database.dispose()


def test_a_version_2_database_gets_the_judgments_table(db_url):
    open_database(db_url).dispose()
    engine = create_engine(database_url(db_url))
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE pairwise_judgments"))
        connection.execute(text("UPDATE gdpz_meta SET value = '2' WHERE key = 'schema_version'"))
    engine.dispose()
    database = open_database(db_url)
    try:
        assert database.meta("schema_version") == str(SCHEMA_VERSION) == "3"
        assert judgments_frame(database, "acute").empty
    finally:
        database.dispose()
