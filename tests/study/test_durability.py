"""Durability: a server process killed with SIGKILL mid-chat loses no committed turn, and its participant resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gdp_zero.study import crud
from gdp_zero.study.db import open_database
from gdp_zero.study.service import StudyService, token_hash
from gdp_zero.study.spec import load_study

WORKER = Path(__file__).parent / "study_worker.py"


async def test_sigkill_mid_chat_keeps_every_committed_turn_and_the_participant_resumes(db_url, tmp_path, small_study_file, fake_server, make_settings):
    open_database(db_url).dispose()
    go = tmp_path / "go"
    go.touch()
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), "chat", db_url, str(small_study_file), str(go), "durable-1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    reported = []
    try:
        for line in worker.stdout:  # each line is printed after the turn it reports was committed
            reported.append(json.loads(line))
            if reported[-1]["turn"] >= 3:
                break
        # Kill it mid-turn: once its next message is committed and the bot is still planning the reply.
        pending = _wait_for_pending_message(db_url, reported[-1]["token"])
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
        assert pending, f"the worker never sent its next message: {worker.stderr.read()[-2000:]}"
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL, worker.stderr.read()[-2000:]
    last = reported[-1]
    token = last["token"]

    database = open_database(db_url)
    if database.engine.dialect.name == "sqlite":
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    with database.transaction() as session:
        participation = crud.participation_by_token(session, token_hash(token))
        texts = [m.text for m in crud.messages_of(session, participation.id)]
        condition = participation.condition.name
    # Every turn the worker saw committed is there, in order, and the message of the killed turn after them.
    assert texts[: len(last["transcript"])] == last["transcript"]
    assert len(texts) == len(last["transcript"]) + 1

    settings = make_settings(fake_server.base_url, seed=9)
    study = load_study(small_study_file)
    study = study.model_copy(update={"chat": study.chat.model_copy(update={"max_turns": 1000})})  # as the worker ran it
    service = StudyService(study, database, settings)
    view = service.view(token)
    assert [line.text for line in view.transcript] == texts and view.partner_label == "Chat partner"
    assert view.awaiting_reply and view.transcript[-1].speaker == "you"  # the message sent before the kill
    view = await service.retry(token)
    view = service.rate(token, view.awaiting_rating, {"persuasive": 2})
    view = await service.send(token, "I am back after the outage.")
    assert view.transcript[-2].text == "I am back after the outage." and view.transcript[-1].speaker == "bot"
    with database.transaction() as session:
        participation = crud.participation_by_token(session, token_hash(token))
        assert participation.condition.name == condition and participation.status == "active"
    await service.aclose()
    database.dispose()


def _wait_for_pending_message(db_url: str, token: str, timeout_s: float = 20.0) -> bool:
    """Poll the database (as another process would) until the participant's last message awaits its reply."""
    database = open_database(db_url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with database.transaction() as session:
                participation = crud.participation_by_token(session, token_hash(token))
                messages = crud.messages_of(session, participation.id)
            if messages and messages[-1].speaker == "user" and messages[-1].act is None:
                return True
            time.sleep(0.005)
        return False
    finally:
        database.dispose()
