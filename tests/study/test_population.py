"""Who the study's statistics count: completers by default, everyone only when asked, each table saying so.

Four participants complete (two per condition, by balanced assignment); one fails the attention
check after answering the whole post-survey, one times out mid-chat, one is still chatting. The
default analysis must count the four completers only, in every table; the exports carry each
row's status and whether the analysis counts it.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from gdp_zero.study.db import open_database
from gdp_zero.study.export import study_data
from gdp_zero.study.results import results_of
from gdp_zero.study.service import StudyService
from gdp_zero.study.spec import load_study
from gdp_zero.study.stats import FAILED_ATTENTION, exclusions, is_completer
from tests.study.conftest import Clock

POST = {"persuasive": 4, "attention": 1, "donation_intention": 5, "donation_amount": 0.75}


async def into_chat(service: StudyService, pid: str) -> str:
    token = service.enter({"PROLIFIC_PID": pid}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 2})
    view = await service.start_chat(token)
    view = service.rate(token, view.awaiting_rating, {"persuasive": 3})
    await service.send(token, "What does the charity do?")
    return token


async def through(service: StudyService, pid: str, attention: int) -> None:
    token = await into_chat(service, pid)
    service.rate(token, service.view(token).awaiting_rating, {"persuasive": 5})
    service.finish_chat(token)
    service.answer(token, "post", {**POST, "attention": attention})


@pytest.fixture
async def mixed_study(db_url, fake_server, make_settings, small_study_file):
    """The database of a study with 4 completers, an attention-check failure, a timeout and an active participant."""
    database = open_database(db_url)
    clock = Clock()
    service = StudyService(load_study(small_study_file), database, make_settings(fake_server.base_url, seed=3), clock=clock)
    for n in range(4):
        await through(service, f"DONE-{n}", attention=1)
    await through(service, "FAILED-CHECK", attention=5)
    await into_chat(service, "TIMED-OUT")
    clock.now += timedelta(minutes=service.study.chat.idle_timeout_minutes + 1)
    await into_chat(service, "ACTIVE")  # entering expires the idle one
    await service.aclose()
    yield database
    database.dispose()


def by_condition(frame: pd.DataFrame, **where: str) -> dict[str, int]:
    chosen = frame
    for column, value in where.items():
        chosen = chosen[chosen[column] == value]
    return dict(zip(chosen["condition"], chosen["n"]))


def test_the_default_analysis_counts_completers_only_and_says_who_it_left_out(mixed_study):
    data = study_data(mixed_study, raw_ids=True)
    people = data.participants.set_index("participant")
    assert people.loc["FAILED-CHECK", "status"] == "screened_out" and people.loc["TIMED-OUT", "status"] == "timed_out"
    assert people.loc["ACTIVE", "status"] == "active"
    completers = people[people.index.str.startswith("DONE")]["condition"].value_counts().to_dict()
    assert completers == {"gdpzero": 2, "prompting": 2}  # balanced assignment
    assert list(people["completer"]) == [p.startswith("DONE") for p in people.index]

    results = results_of(data)
    assert results.population == "completers" and results.participants == completers
    assert results.excluded == {FAILED_ATTENTION: 1, "timed out": 1, "still active": 1}
    # Every table's n per condition is the completers: the screened-out participant's post-survey answers
    # and the others' pre-survey answers and ratings are not in it.
    for source, item in (("pre", "donation_intention"), ("post", "persuasive"), ("post", "attention"), ("turn", "persuasive")):
        assert by_condition(results.means, source=source, item=item) == completers, (source, item)
    for _, row in results.tests.iterrows():
        assert (row["n_a"], row["n_b"]) == (completers[row["condition_a"]], completers[row["condition_b"]]), row
    assert dict(zip(results.prepost["condition"], results.prepost["n"])) == completers
    first = results.curves[results.curves["turn"] == 0]
    assert dict(zip(first["condition"], first["n"])) == completers
    analysed_bot_messages = 4 * 2  # each completer: the greeting and one reply
    assert results.strategies["count"].sum() == analysed_bot_messages

    # Everyone, on request: every participant assigned a condition, labelled as such.
    everyone = results_of(data, "everyone")
    assert everyone.population == "everyone" and everyone.total == 7 and everyone.excluded == {}
    assert sum(by_condition(everyone.means, source="pre", item="donation_intention").values()) == 7
    assert sum(by_condition(everyone.means, source="post", item="persuasive").values()) == 5  # the check's failure answered
    assert everyone.strategies["count"].sum() == analysed_bot_messages + 3 * 2


def test_the_exports_carry_each_rows_status_and_whether_the_analysis_counts_it(mixed_study):
    data = study_data(mixed_study, raw_ids=True)
    for table in (data.answers, data.ratings, data.messages):
        statuses = dict(zip(table["participant"], table["status"]))
        assert statuses["FAILED-CHECK"] == "screened_out" and statuses["ACTIVE"] == "active"
        assert set(table[table["completer"]]["participant"]) == {f"DONE-{n}" for n in range(4)}
    # What a pandas user does to reproduce the dashboard: keep the completers' rows.
    post = data.answers[data.answers["completer"] & (data.answers["survey"] == "post") & (data.answers["item"] == "persuasive")]
    assert len(post) == 4


def test_a_failed_check_that_only_records_the_failure_still_leaves_the_participant_out():
    assert is_completer("completed", None) and is_completer("completed", True)
    assert not is_completer("completed", False)  # on_failure = "continue": completed, yet not analysed
    assert not is_completer("timed_out", True) and not is_completer("active", None)
    participants = pd.DataFrame({"condition": ["a", "a", "b", None], "status": ["completed", "completed", "declined", "declined"],
                                 "attention_passed": [True, False, None, None]})
    participants["completer"] = [is_completer(s, a) for s, a in zip(participants["status"], participants["attention_passed"])]
    assert exclusions(participants) == {FAILED_ATTENTION: 1, "declined": 1}  # the unassigned one is in no condition
