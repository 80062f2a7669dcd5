"""A study server process for tests: drives participants through StudyService against its own fake LLM.

  complete DB STUDY GO PID...    wait for the file GO, then take each PID through the whole study;
                                 prints one JSON line per PID: its outcome and condition
  chat DB STUDY GO PID           take one PID into the chat and keep chatting; prints a JSON line
                                 after each committed bot turn (the test kills this process)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.settings import EndpointSettings, LLMSettings
from gdp_zero.study.db import open_database
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import ChatRules, load_study


def say(**fields) -> None:
    print(json.dumps(fields), flush=True)


async def complete(service: StudyService, pids: list[str]) -> None:
    for pid in pids:
        view = service.enter({"PROLIFIC_PID": pid})
        if view.phase == "refused":
            say(pid=pid, outcome="refused", reason=view.reason)
            continue
        token = view.token
        service.consent(token, True)
        service.answer(token, "pre", {"donation_intention": 3})
        view = await service.start_chat(token)
        service.rate(token, view.awaiting_rating, {"persuasive": 4})
        service.finish_chat(token)
        view = service.answer(token, "post", {"persuasive": 4, "attention": 1, "donation_intention": 4, "donation_amount": 1.0})
        say(pid=pid, outcome=view.phase, condition=_condition(service, token))


def _condition(service: StudyService, token: str) -> str:
    from gdp_zero.study import crud
    from gdp_zero.study.service import token_hash

    with service.database.transaction() as session:
        return crud.participation_by_token(session, token_hash(token)).condition.name


async def chat(service: StudyService, pid: str) -> None:
    view = service.enter({"PROLIFIC_PID": pid})
    token = view.token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    view = await service.start_chat(token)
    say(token=token, turn=0, transcript=[line.text for line in view.transcript])
    for turn in range(1, 1000):
        view = service.rate(token, view.awaiting_rating, {"persuasive": 3})
        view = await service.send(token, f"Message number {turn}, tell me more about the charity.")
        say(token=token, turn=turn, transcript=[line.text for line in view.transcript])


async def main(mode: str, db_url: str, study_file: str, go: str, pids: list[str]) -> None:
    study = load_study(study_file)
    if mode == "complete":
        study = study.model_copy(update={"chat": ChatRules(min_turns=0, max_turns=3)})
    else:
        study = study.model_copy(update={"chat": ChatRules(min_turns=0, max_turns=1000, idle_timeout_minutes=60)})
    latency = 0.05 if mode == "chat" else 0.0
    with FakeLLMServer(latency_s=latency) as server:
        llm = LLMSettings(default=EndpointSettings(model="fake-model", base_url=server.base_url, api_key="fake-key"), seed=5)
        database = open_database(db_url)
        service = StudyService(study, database, llm)
        while not Path(go).exists():
            time.sleep(0.01)
        try:
            await (complete(service, pids) if mode == "complete" else chat(service, pids[0]))
        finally:
            await service.aclose()
            database.dispose()


if __name__ == "__main__":
    mode, db_url, study_file, go, *pids = sys.argv[1:]
    asyncio.run(main(mode, db_url, study_file, go, pids))
