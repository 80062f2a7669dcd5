"""The study server holds no LLM connection between turns (it kept 277 sockets in CLOSE-WAIT for
40 chats): after every turn the fake LLM server sees none open, and the next turn reconnects."""

from __future__ import annotations

import asyncio

from gdp_zero.study.db import open_database
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import load_study


async def connections_drop_to_zero(fake_server) -> int:
    for _ in range(40):  # the server's handler sees the close when it next reads
        if fake_server.open_connections == 0:
            return 0
        await asyncio.sleep(0.05)
    return fake_server.open_connections


async def test_no_llm_connection_stays_open_between_turns(db_url, fake_server, make_settings, small_study_file):
    database = open_database(db_url)
    service = StudyService(load_study(small_study_file), database, make_settings(fake_server.base_url, seed=5))
    try:
        for n in range(4):
            token = service.enter({"PROLIFIC_PID": f"conn-{n}"}).token
            service.consent(token, True)
            service.answer(token, "pre", {"donation_intention": 3})
            view = await service.start_chat(token)
            assert await connections_drop_to_zero(fake_server) == 0
            for text in ("Hello, who are you?", "What does the charity do?"):
                if view.awaiting_rating is not None:
                    view = service.rate(token, view.awaiting_rating, {"persuasive": 4})
                view = await service.send(token, text)
                assert view.transcript[-1].speaker == "bot"  # the turn went through on a new connection
                assert await connections_drop_to_zero(fake_server) == 0
    finally:
        await service.aclose()
        database.dispose()
