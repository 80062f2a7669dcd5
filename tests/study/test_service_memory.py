"""A study condition with `memory = "FILE"`: its chats recall lessons from FILE, and each participation's
chat that ends is reflected on and adds its lessons once, recorded as a "reflected" event; a condition
without one makes no file and no /v1/embeddings request. The fake LLM over HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from gdp_zero.study import crud
from gdp_zero.study.service import StudyService, token_hash
from gdp_zero.study.spec import load_study, study_from_dict

PROLIFIC = {"PROLIFIC_PID": "5f1e0000aaaa1111bbbb2222", "STUDY_ID": "study-77", "SESSION_ID": "sess-1"}


def with_memory(small_study_file: Path, memory: Path | None):
    """The small study's gdpzero condition alone, with `memory` as its lesson file (None: off)."""
    study = load_study(small_study_file)
    data = study.model_dump(mode="json", exclude_none=True)
    data["conditions"] = [c for c in data["conditions"] if c["name"] == "gdpzero"]
    if memory is not None:
        data["conditions"][0]["memory"] = str(memory)
    return study_from_dict(data)


async def participate(service: StudyService, messages: list[str]) -> str:
    """A participant from consent to the end of the chat (finished after `messages`); their token."""
    token = service.enter(PROLIFIC | {"PROLIFIC_PID": f"p{len(messages)}{id(messages)}"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    view = await service.start_chat(token)
    for text in messages:
        view = service.rate(token, view.awaiting_rating, {"persuasive": 3})
        view = await service.send(token, text)
    service.rate(token, view.awaiting_rating, {"persuasive": 3})
    # As the web page does: finish_chat runs in a worker thread, the reflection then on the event loop.
    assert (await asyncio.to_thread(service.finish_chat, token)).phase == "post_survey"
    return token


def events(database, token: str) -> tuple[int, dict, list]:
    with database.transaction() as session:
        participation = crud.participation_by_token(session, token_hash(token))
        found = [(e.kind, e.detail) for e in crud.events_of(session, participation.id)]
        return participation.id, participation.condition.settings, found


def lesson_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT dialogue_id, text FROM lessons ORDER BY id").fetchall()


async def test_a_finished_participation_is_reflected_on_and_the_next_one_recalls_it(
    database, fake_server, make_settings, small_study_file, tmp_path
):
    memory = tmp_path / "study-lessons.sqlite"
    study = with_memory(small_study_file, memory)
    service = StudyService(study, database, make_settings(fake_server.base_url, seed=11))
    first = await participate(service, ["Hi! What is this about?", "How much reaches the children?"])
    for _ in range(200):  # the reflection runs in the background, without another request to start it
        first_id, settings, first_events = events(database, first)
        if "reflected" in [kind for kind, _ in first_events]:
            break
        await asyncio.sleep(0.05)
    assert settings["memory"] == str(memory)  # the participation's condition records its memory
    rows = lesson_rows(memory)
    assert rows and {d for d, _ in rows} == {f"small-{first_id}"}
    (reflected,) = [detail for kind, detail in first_events if kind == "reflected"]
    assert reflected["lessons_added"] == len(rows) and reflected["usage"]["reflection"]["calls"] == 1

    second = await participate(service, ["Hi! What is this about?"])
    await service.aclose()  # reflects on the chat that just finished, then closes the memory
    second_id, _, second_events = events(database, second)
    with database.transaction() as session:
        replies = [m.planner_turn for m in crud.messages_of(session, second_id) if m.speaker == "system"]
    assert replies[0]["tree"]["lessons"] == []  # the opening: the participant has not spoken yet
    assert {lesson["from"] for lesson in replies[1]["tree"]["lessons"]} == {f"small-{first_id}"}
    assert [kind for kind, _ in second_events].count("reflected") == 1
    assert {d for d, _ in lesson_rows(memory)} == {f"small-{first_id}", f"small-{second_id}"}


async def test_a_condition_without_memory_makes_no_file_and_embeds_nothing(
    database, fake_server, make_settings, small_study_file, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    service = StudyService(with_memory(small_study_file, None), database, make_settings(fake_server.base_url, seed=11))
    token = await participate(service, ["Hi! What is this about?"])
    await service.aclose()
    _, settings, found = events(database, token)
    assert "memory" not in settings and "reflected" not in [kind for kind, _ in found]
    assert "/v1/embeddings" not in fake_server.stats.requests
    assert not any(p.suffix == ".sqlite" for p in tmp_path.iterdir())


def test_memory_is_a_gdpzero_condition_setting(small_study_file):
    data = load_study(small_study_file).model_dump(mode="json", exclude_none=True)
    prompting = next(c for c in data["conditions"] if c["name"] == "prompting")
    prompting["memory"] = "lessons.sqlite"
    with pytest.raises(Exception, match="memory: lessons guide the gdpzero planner's search; the prompting planner has none"):
        study_from_dict(data)
