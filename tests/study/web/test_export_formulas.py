"""Spreadsheet formulas a participant types, or puts in the study link, reach the export's CSV
files neutralised (OWASP's rule: a leading quote) and its JSONL files as typed.

The participant goes through the real server over HTTP; the export is the library's, on the
database that server wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from gdp_zero.study.export import export_study
from tests.study.web.study_web import ApiParticipant, GradioCall, StudyServer

FORMULAS = ['=HYPERLINK("https://evil.example","click")', "+1+cmd|' /C calc'!A0", "@SUM(A1:A2)", "-2+3"]
LINK_FORMULA = '=HYPERLINK("https://evil.example/study","open")'
COMMENT_FORMULA = "=1+1 great chat"


def test_formulas_are_neutralised_in_csv_and_kept_in_jsonl(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'study.db'}"
    server = StudyServer(db_url=db_url, log=tmp_path / "server.log").start()
    try:
        person = ApiParticipant(GradioCall(server.url), "FORMULA0000000000000000A", {"STUDY_ID": LINK_FORMULA})
        person.step("enter")
        person.step("consent")
        person.step("pre_survey", 3)
        for text in FORMULAS:
            if person.phase == "rating":  # the study's ratings start from a later message
                person.step("rate", 4)
            person.step("send", text)
        if person.phase == "rating":
            person.step("rate", 4)
        person.step("finish")
        person.step("post_survey", 4, 3, "Strongly disagree", 4, 4, "0.5", COMMENT_FORMULA)  # the comments item
        person.expect("complete")
    finally:
        server.stop()

    export_study(db_url, tmp_path / "out", raw_ids=True)
    messages = pd.read_csv(tmp_path / "out" / "messages.csv", keep_default_na=False)
    typed = messages[messages["speaker"] == "user"]["text"].tolist()
    assert typed == ["'" + text for text in FORMULAS]
    participants = pd.read_csv(tmp_path / "out" / "participants.csv", keep_default_na=False)
    assert participants["recruitment.STUDY_ID"].tolist() == ["'" + LINK_FORMULA]
    for line in (tmp_path / "out" / "messages.csv").read_text(encoding="utf-8").splitlines()[1:]:
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), line  # no cell a spreadsheet would run

    answers = pd.read_csv(tmp_path / "out" / "answers.csv", keep_default_na=False)
    assert answers.loc[answers["item"] == "comments", "value"].tolist() == ["'" + COMMENT_FORMULA]
    raw_answers = [json.loads(line) for line in (tmp_path / "out" / "answers.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["value"] for row in raw_answers if row["item"] == "comments"] == [COMMENT_FORMULA]

    rows = [json.loads(line) for line in (tmp_path / "out" / "messages.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["text"] for row in rows if row["speaker"] == "user"] == FORMULAS  # the raw text for analysis
    raw_participants = [json.loads(line) for line in (tmp_path / "out" / "participants.jsonl").read_text().splitlines()]
    assert raw_participants[0]["recruitment.STUDY_ID"] == LINK_FORMULA
