"""The study server bounds the LLM turns a client address may start, as the chat app does (gdp_zero/serving/limits.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.study.web.study_web import ApiParticipant, GradioCall, StudyServer


def test_a_participant_over_the_turn_rate_is_told_to_wait_and_nothing_is_stored(tmp_path: Path) -> None:
    db = tmp_path / "study.db"
    server = StudyServer(db_url=f"sqlite:///{db}", log=tmp_path / "server.log", turns_per_minute=2).start()
    try:
        participant = ApiParticipant(GradioCall(server.url), "RATE-LIMITED")
        participant.step("enter")
        participant.step("consent")
        participant.step("pre_survey", 3)  # the opening turn: 1 of 2 this minute (the greeting is not rated)
        participant.expect("chat")
        participant.step("send", "What does the charity do with the money?")  # 2 of 2
        participant.expect("rating")
        participant.step("rate", 4)
        participant.step("send", "Could you tell me more about it?")  # the third turn in a minute
        assert "Try again in" in participant.text(), participant.text()[:500]
        assert participant.phase == "chat"  # still in the chat, the refused message not taken
    finally:
        server.stop()
    with sqlite3.connect(db) as connection:
        sent = [text for (text,) in connection.execute("SELECT text FROM messages WHERE speaker = 'user'")]
    assert sent == ["What does the charity do with the money?"]
