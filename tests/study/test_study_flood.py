"""Study flood (issue 21 item 2): ids of the platform's form only, and slots of starts that never chat released.

Through StudyService on a real database (SQLite and PostgreSQL, see tests/study/conftest.py)
with the fake LLM over HTTP.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from gdp_zero.study import crud
from gdp_zero.study.service import NOTICES, StudyService
from gdp_zero.study.spec import load_study
from gdp_zero.validation import ConfigError
from tests.study.conftest import Clock
from tests.study.test_service import stored

PROLIFIC_ID = "5f1e0000aaaa1111bbbb2222"


@pytest.fixture
def settings(fake_server, make_settings):
    return make_settings(fake_server.base_url, seed=11)


def with_rules(study, quota: int | None = None, **recruitment):
    """The study with one condition (of `quota` places, if given) and the recruitment rules changed."""
    condition = study.conditions[0]
    if quota is not None:
        condition = condition.model_copy(update={"quota": quota})
    return study.model_copy(update={"conditions": (condition,), "recruitment": study.recruitment.model_copy(update=recruitment)})


def held(database, service) -> int:
    with database.transaction() as session:
        return crud.slots_held_unstarted(session, service.study_id)


async def reach_chat(service, participant_id: str) -> str:
    token = service.enter({"PROLIFIC_PID": participant_id}).token
    assert token, participant_id
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    view = await service.start_chat(token)
    assert view.phase in ("chat", "rating"), view.phase
    return token


def test_only_ids_of_the_platforms_form_are_accepted(database, settings, small_study_file):
    service = StudyService(with_rules(load_study(small_study_file), id_pattern="prolific"), database, settings)
    for wrong in ("invented-123", "5f1e0000aaaa1111bbbb222", "5f1e0000aaaa1111bbbb22223", "5f1e0000aaaa1111bbbb222z"):
        view = service.enter({"PROLIFIC_PID": wrong})
        assert (view.phase, view.reason, view.token) == ("refused", "invalid_id", None), wrong
        assert view.notice == NOTICES["invalid_id"]
    missing = service.enter({})  # with an id form, no generated id either
    assert (missing.phase, missing.reason) == ("refused", "missing_id")
    assert service.enter({"PROLIFIC_PID": PROLIFIC_ID}).phase == "consent"
    with database.transaction() as session:
        assert [p for *_, p in crud.status_counts(session, service.study_id)] == [1]  # the refused ones left nothing


def test_a_regular_expression_names_the_form_and_a_broken_one_is_refused_at_load(database, settings, small_study_file, tmp_path):
    study = with_rules(load_study(small_study_file), id_pattern=r"P-\d{4}")
    service = StudyService(study, database, settings)
    assert service.enter({"PROLIFIC_PID": "P-1234x"}).reason == "invalid_id"
    assert service.enter({"PROLIFIC_PID": "P-1234"}).phase == "consent"
    broken = tmp_path / "broken.toml"
    broken.write_text(small_study_file.read_text() + '\n[recruitment]\nid_pattern = "P-(\\\\d"\n')
    with pytest.raises(ConfigError, match="id_pattern"):
        load_study(broken)


async def test_a_start_that_never_chats_gives_its_slot_back(database, settings, small_study_file):
    clock = Clock()
    study = with_rules(load_study(small_study_file), quota=1, start_timeout_minutes=5)
    service = StudyService(study, database, settings, clock=clock)
    faker = await reach_chat(service, "made-up-1")
    assert held(database, service) == 1
    clock.now += timedelta(minutes=4)
    service.rate(faker, 0, {"persuasive": 3})  # activity keeps it from the idle timeout (10 min)...
    assert service.enter({"PROLIFIC_PID": "real-person"}).reason == "study_full"
    clock.now += timedelta(minutes=2)  # ...but 6 minutes after entering it has written nothing
    person = await reach_chat(service, "real-person-2")
    assert held(database, service) == 1  # the person's own, until they write
    participation, *_ = stored(database, faker)
    assert (participation.status, participation.end_reason) == ("timed_out", "not_started")
    assert service.view(faker).phase == "timed_out"
    service.rate(person, 0, {"persuasive": 4})
    await service.send(person, "Hello, tell me more about the charity.")
    assert held(database, service) == 0
    clock.now += timedelta(minutes=9)  # writing keeps the slot past the start timeout
    assert service.enter({"PROLIFIC_PID": "latecomer"}).reason == "study_full"
    participation, *_ = stored(database, person)
    assert participation.status == "active"
