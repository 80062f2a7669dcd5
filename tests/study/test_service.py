"""The participant flow through StudyService on a real database and the fake LLM over HTTP."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from gdp_zero.domain import load_domain
from gdp_zero.llm.errors import LLMError
from gdp_zero.session import MessageRejected
from gdp_zero.study import crud
from gdp_zero.study.dialogues import participation_record
from gdp_zero.study.models import Message, Participation, Rating
from gdp_zero.study.service import NOTICES, AccessDenied, StudyRefusal, StudyService, SurveyInvalid, token_hash
from gdp_zero.study.spec import load_study, study_from_dict
from gdp_zero.validation import ConfigError
from tests.study.conftest import Clock

PROLIFIC = {"PROLIFIC_PID": "5f1e0000aaaa1111bbbb2222", "STUDY_ID": "study-77", "SESSION_ID": "sess-1", "utm": "ignored"}
POST = {"persuasive": 4, "attention": 1, "donation_intention": 5, "donation_amount": 0.75}


def only(study, condition: str, **chat):
    """The study with a single condition (so the test knows which one runs) and optional chat rules."""
    update = {"conditions": tuple(c for c in study.conditions if c.name == condition)}
    if chat:
        update["chat"] = study.chat.model_copy(update=chat)
    return study.model_copy(update=update)


@pytest.fixture
def small(small_study_file):
    return load_study(small_study_file)


@pytest.fixture
def settings(fake_server, make_settings, monkeypatch):
    # Chats run their full length: the fake tagger hears a donation only in words like "I'll donate".
    return make_settings(fake_server.base_url, seed=11)


def stored(database, token):
    with database.transaction() as session:
        participation = crud.participation_by_token(session, token_hash(token))
        messages = crud.messages_of(session, participation.id)
        answers = {(a.survey, a.item): a.value for a in crud.answers_of(session, participation.id)}
        ratings = session.execute(
            select(Message.position, Rating.item, Rating.value).join(Message, Rating.message_id == Message.id)
            .where(Rating.participation_id == participation.id).order_by(Rating.id)
        ).all()
        events = [e.kind for e in crud.events_of(session, participation.id)]
        condition = participation.condition.name if participation.condition else None
        return participation, messages, answers, [tuple(r) for r in ratings], events, condition


async def test_a_whole_participation_is_stored_as_it_happened(database, settings, small):
    service = StudyService(only(small, "gdpzero"), database, settings)
    view = service.enter(PROLIFIC)
    assert view.phase == "consent" and view.token and "automated agent" in view.consent["text"]
    token = view.token
    view = service.consent(token, True)
    assert view.phase == "pre_survey" and [i["id"] for i in view.items] == ["donation_intention"]
    view = service.answer(token, "pre", {"donation_intention": 2})
    assert view.phase == "chat"
    view = await service.start_chat(token)
    assert view.phase == "rating" and view.awaiting_rating == 0 and view.partner_label == "Chat partner"
    assert [line.speaker for line in view.transcript] == ["bot"]

    with pytest.raises(StudyRefusal, match="rate your chat partner's last message"):
        await service.send(token, "Hello?")
    with pytest.raises(SurveyInvalid) as invalid:
        service.rate(token, 0, {"persuasive": 9})
    assert invalid.value.problems == {"persuasive": "expected a whole number from 1 to 5, got 9"}
    ratings_given = []
    sent = ["Hi! What is this about?", "How much of the money reaches children?", "OK, I might give a little."]
    for number, text in enumerate(sent):
        rating = {"persuasive": 1 + number, "off_topic": number == 1}
        view = service.rate(token, view.awaiting_rating, rating)
        ratings_given.append((2 * number, rating))
        assert view.phase == "chat" and view.can_finish == (number >= 1)  # min_turns = 1
        view = await service.send(token, text)
        last_word = number == 2  # max_turns = 3 exchanges: the answer to the third bot message gets no reply
        mine = view.transcript[-1] if last_word else view.transcript[-2]
        assert view.turns == number + 1 and mine.text == text and mine.speaker == "you"
        assert view.must_finish == last_word
        assert view.awaiting_rating == (None if last_word else 2 * number + 2)
    assert view.must_finish and view.turns == 3 and not view.awaiting_reply
    with pytest.raises(StudyRefusal, match="The chat has ended"):
        await service.send(token, "one more")
    view = service.finish_chat(token)
    assert view.phase == "post_survey" and [i["id"] for i in view.items] == ["persuasive", "attention", "donation_intention", "donation_amount"]
    view = service.answer(token, "post", POST)
    assert (view.phase, view.completion_code, view.redirect_url) == ("complete", "CDONE", "https://app.prolific.com/submissions/complete?cc=CDONE")

    participation, messages, answers, ratings, events, condition = stored(database, token)
    assert (participation.participant_id, participation.status, condition) == (PROLIFIC["PROLIFIC_PID"], "completed", "gdpzero")
    assert participation.recruitment == {"STUDY_ID": "study-77", "SESSION_ID": "sess-1"}
    assert participation.attention_passed is True and participation.end_reason == "max_turns"
    assert [m.speaker for m in messages] == ["system", "user"] * 3  # the participant has the last word
    assert [m.text for m in messages if m.speaker == "user"] == sent
    for message in messages:
        assert message.act  # every user message tagged, every bot message planned
        if message.speaker == "system":
            planned = message.planner_turn
            assert planned["planner"] == "gdpzero" and planned["act"] == message.act and planned["reply"] == message.text
            assert planned["tree"]["root"] and planned["simulations"] >= 1 and planned["settings"]["simulations"] == 2
            assert message.usage and message.wait_seconds > 0
    assert answers == {("pre", "donation_intention"): 2, **{("post", k): v for k, v in POST.items()}}
    expected = [(position, item, value) for position, given in ratings_given for item, value in {"off_topic": False, **given}.items()]
    assert sorted(ratings) == sorted(expected)
    assert events[:5] == ["entered", "consent", "answers", "assigned", "bot_turn"]
    assert events[-4:] == ["chat_finished", "answers", "attention_check", "completion"]
    assert events.count("rating") == 3 and events.count("message") == 3 and events.count("bot_turn") == 3

    # The same Prolific id cannot start again, with or without the browser's token.
    again = service.enter(PROLIFIC)
    assert (again.phase, again.reason, again.token) == ("refused", "already_completed", None)
    assert service.enter(PROLIFIC, browser_token=token).phase == "complete"

    record = participation_record("small", participation, messages, load_domain("p4g"), participant="P1")
    assert record.source == "study" and record.condition == "gdpzero" and len(record.turns) == 6
    assert record.turns[0].planned.tree is not None and record.meta["participant"] == "P1"
    await service.aclose()


async def test_a_reload_or_a_restarted_server_resumes_with_the_same_condition_and_transcript(database, settings, small):
    first = StudyService(small, database, settings, rng=random.Random(4))
    token = first.enter({"PROLIFIC_PID": "reloader"}).token
    first.consent(token, True)
    first.answer(token, "pre", {"donation_intention": 3})
    view = await first.start_chat(token)
    chat = next(iter(first._chats.values())).session
    view = first.rate(token, 0, {"persuasive": 3})
    view = await first.send(token, "Tell me about the charity.")
    # While the process runs, the chat stays in memory (GDP-Zero keeps its tree between turns).
    assert next(iter(first._chats.values())).session is chat and len(chat.log) == 3
    before = view.transcript
    # A reload: the browser comes back with its token and the same URL.
    assert first.enter({"PROLIFIC_PID": "reloader"}, browser_token=token).transcript == before
    # Another browser with the same id gets no access to it.
    elsewhere = first.enter({"PROLIFIC_PID": "reloader"})
    assert (elsewhere.phase, elsewhere.reason, elsewhere.transcript) == ("refused", "in_progress_elsewhere", ())
    await first.aclose()

    restarted = StudyService(small, database, settings)
    view = restarted.view(token)
    assert view.transcript == before and view.phase == "rating" and view.awaiting_rating == 2
    _, _, _, _, _, condition = stored(database, token)
    restarted.rate(token, 2, {"persuasive": 4})
    view = await restarted.send(token, "Does it really help?")
    texts = [(line.speaker, line.text) for line in view.transcript]
    assert texts[: len(before)] == [(line.speaker, line.text) for line in before] and len(texts) == len(before) + 2
    participation, messages, *_ , condition_after = stored(database, token)
    assert condition_after == condition
    # The rebuilt chat planned with the whole dialogue: its bot turn answered the 4th turn.
    last = messages[-1]
    assert last.speaker == "system" and last.position == 4 and last.planner_turn["act"] == last.act
    await restarted.aclose()


async def test_a_message_survives_an_llm_failure_and_retry_completes_the_turn(database, fake_server, make_settings, small):
    settings = make_settings(fake_server.base_url, max_retries=0, seed=3)
    service = StudyService(only(small, "prompting"), database, settings)
    token = service.enter({"PROLIFIC_PID": "unlucky"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    view = await service.start_chat(token)
    service.rate(token, 0, {"persuasive": 2})
    fake_server.fault_rate, fake_server.faults = 1.0, ("500",)
    with pytest.raises(LLMError):
        await service.send(token, "Will my message be kept?")
    view = service.view(token)
    assert view.awaiting_reply and view.transcript[-1].text == "Will my message be kept?"
    with pytest.raises(StudyRefusal, match="no reply yet"):
        await service.send(token, "Hello??")
    with pytest.raises(StudyRefusal, match="no reply yet"):
        service.finish_chat(token)
    await service.aclose()

    fake_server.fault_rate = 0.0
    restarted = StudyService(only(small, "prompting"), database, settings)
    view = await restarted.retry(token)
    assert not view.awaiting_reply and view.transcript[-2].text == "Will my message be kept?" and view.transcript[-1].speaker == "bot"
    _, messages, *_ = stored(database, token)
    assert [m.speaker for m in messages] == ["system", "user", "system"] and messages[1].act
    await restarted.aclose()


async def test_a_reload_while_the_bot_plans_waits_for_that_turn_instead_of_planning_it_again(database, fake_server, settings, small):
    """The page, reloaded mid-turn, asks to complete the pending message: it gets the one reply being written."""
    service = StudyService(only(small, "prompting"), database, settings)
    token = service.enter({"PROLIFIC_PID": "impatient"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    await service.start_chat(token)
    service.rate(token, 0, {"persuasive": 3})
    fake_server.latency_s = 0.3
    requests_before = sum(fake_server.stats.requests.values())
    sending = asyncio.create_task(service.send(token, "Tell me more."))
    chat = next(iter(service._chats.values())).session
    while chat.log[-1].text != "Tell me more.":  # committed and tagged: the bot is planning its reply
        await asyncio.sleep(0.01)
    reloaded = await service.retry(token)
    sent = await sending
    assert reloaded.transcript == sent.transcript and sent.transcript[-1].speaker == "bot"
    _, messages, *_ = stored(database, token)
    assert [m.speaker for m in messages] == ["system", "user", "system"]
    assert sum(fake_server.stats.requests.values()) - requests_before == 2  # one tagging, one reply: planned once
    await service.aclose()


def test_survey_answers_are_checked_per_item_and_nothing_is_stored_when_one_is_wrong(database, settings, small):
    service = StudyService(small, database, settings)
    token = service.enter({"PROLIFIC_PID": "careless"}).token
    with pytest.raises(StudyRefusal, match="This step is over"):
        service.answer(token, "pre", {"donation_intention": 3})  # before consent
    service.consent(token, True)
    with pytest.raises(SurveyInvalid) as invalid:
        service.answer(token, "pre", {"donation_intention": "very", "age": 40})
    assert invalid.value.problems == {"age": "not a question of this page", "donation_intention": "expected a whole number from 1 to 5"}
    with pytest.raises(SurveyInvalid, match="donation_intention: please answer this question"):
        service.answer(token, "pre", {})
    _, _, answers, _, _, _ = stored(database, token)
    assert answers == {}
    assert service.answer(token, "pre", {"donation_intention": 1}).phase == "chat"


async def test_a_failed_attention_check_screens_out_with_its_own_code(database, settings, small):
    service = StudyService(only(small, "prompting", min_turns=0), database, settings)
    token = service.enter({"PROLIFIC_PID": "inattentive"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    await service.start_chat(token)
    service.rate(token, 0, {"persuasive": 3})
    service.finish_chat(token)
    view = service.answer(token, "post", {**POST, "attention": 4})
    assert (view.phase, view.reason, view.completion_code) == ("screened_out", "attention_check", "CSCREEN")
    assert view.redirect_url == "https://app.prolific.com/submissions/complete?cc=CSCREEN"
    participation, _, answers, _, events, _ = stored(database, token)
    assert (participation.status, participation.attention_passed, answers[("post", "attention")]) == ("screened_out", False, 4)
    assert events[-1] == "attention_check" and "completion" not in events
    assert service.enter({"PROLIFIC_PID": "inattentive"}).reason == "already_participated"


def test_declining_consent_ends_the_study_without_a_condition(database, settings, small):
    service = StudyService(small, database, settings)
    token = service.enter({"PROLIFIC_PID": "no-thanks"}).token
    view = service.consent(token, False)
    assert (view.phase, view.completion_code) == ("declined", None)
    participation, *_ , condition = stored(database, token)
    assert (participation.status, condition) == ("declined", None)


async def test_an_idle_participant_times_out_and_is_told_so(database, settings, small):
    clock = Clock()
    service = StudyService(small, database, settings, clock=clock)
    token = service.enter({"PROLIFIC_PID": "sleepy"}).token
    service.consent(token, True)
    clock.now += timedelta(minutes=11)  # idle timeout: 10 minutes
    with pytest.raises(StudyRefusal, match="inactive for too long"):
        service.answer(token, "pre", {"donation_intention": 3})
    assert service.view(token).phase == "timed_out"
    assert service.enter({"PROLIFIC_PID": "sleepy"}).reason == "timed_out"
    participation, *_ = stored(database, token)
    assert participation.status == "timed_out"


async def test_tokens_are_the_only_way_in(database, settings, small):
    service = StudyService(small, database, settings)
    alice = service.enter({"PROLIFIC_PID": "alice"}).token
    bob = service.enter({"PROLIFIC_PID": "bob"}).token
    for token in (alice, bob):
        service.consent(token, True)
        service.answer(token, "pre", {"donation_intention": 3})
        await service.start_chat(token)
        service.rate(token, 0, {"persuasive": 3})
    await service.send(alice, "Alice's secret message")
    assert all("Alice" not in line.text for line in service.view(bob).transcript)
    # Alice's id with Bob's token resumes Bob (his own browser), never Alice's chat.
    assert all("Alice" not in line.text for line in service.enter({"PROLIFIC_PID": "alice"}, browser_token=bob).transcript)
    for forged in ("", "x", alice[:-1] + ("A" if alice[-1] != "A" else "B"), token_hash(alice)):
        with pytest.raises(AccessDenied):
            service.view(forged)
        with pytest.raises(AccessDenied):
            await service.send(forged, "hi")
    with database.transaction() as session:
        stored_hashes = set(session.scalars(select(Participation.token_hash)))
    assert alice not in stored_hashes and token_hash(alice) in stored_hashes  # only the hash is stored
    # Another study on the same database does not accept this study's tokens.
    other = small.model_copy(update={"id": "other"})
    with pytest.raises(AccessDenied):
        StudyService(other, database, settings).view(alice)
    await service.aclose()


async def test_a_preview_walks_the_flow_in_the_condition_asked_for_and_is_not_counted(database, settings, small):
    service = StudyService(small, database, settings)
    view = service.enter({}, preview=True, preview_condition="prompting")
    assert view.preview and view.phase == "consent"
    token = view.token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    await service.start_chat(token)
    participation, messages, *_, condition = stored(database, token)
    assert condition == "prompting" and participation.preview and participation.participant_id.startswith("preview-")
    assert messages[0].planner_turn["planner"] == "prompting"
    with database.transaction() as session:
        assert crud.slots_used(session, participation.study_id) == {}
    with pytest.raises(StudyRefusal, match="no condition 'nope'"):
        service.enter({}, preview=True, preview_condition="nope")
    await service.aclose()


def test_ids_from_the_url_are_checked_and_generated_when_the_study_allows(database, settings, small):
    service = StudyService(small, database, settings)
    assert service.enter({"PROLIFIC_PID": "a b<script>"}).reason == "invalid_id"
    anonymous = service.enter({})
    assert anonymous.phase == "consent"
    participation, *_ = stored(database, anonymous.token)
    assert participation.id_generated and participation.participant_id.startswith("anon-")
    strict = small
    strict = strict.model_copy(update={"id": "strict", "recruitment": strict.recruitment.model_copy(update={"generate_missing_id": False})})
    assert StudyService(strict, database, settings).enter({}).reason == "missing_id"


async def test_messages_longer_than_the_study_allows_are_refused_before_storing(database, settings, small):
    service = StudyService(only(small, "prompting"), database, settings)
    token = service.enter({"PROLIFIC_PID": "verbose"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    await service.start_chat(token)
    service.rate(token, 0, {"persuasive": 3})
    with pytest.raises(MessageRejected, match="the limit is 200"):
        await service.send(token, "x" * 201)
    with pytest.raises(StudyRefusal, match="at least 1 messages"):
        service.finish_chat(token)
    _, messages, *_ = stored(database, token)
    assert len(messages) == 1
    await service.aclose()


async def test_a_donation_ends_the_chat_before_max_turns(database, fake_server, make_settings, monkeypatch, small):
    # The fake tagger labels "I'll donate, count me in." as donate (gdp_zero/llm/fake_world.py).
    service = StudyService(only(small, "prompting", min_turns=3), database, make_settings(fake_server.base_url))
    token = service.enter({"PROLIFIC_PID": "generous"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 5})
    await service.start_chat(token)
    service.rate(token, 0, {"persuasive": 5})
    view = await service.send(token, "I'll donate, count me in.")
    # A message that ends the dialogue gets no reply (ChatSession), so there is nothing left to rate.
    assert view.turns == 1 and view.must_finish and view.can_finish and view.awaiting_rating is None
    with pytest.raises(StudyRefusal, match="The chat has ended"):
        await service.send(token, "more")
    assert service.finish_chat(token).phase == "post_survey"
    participation, *_ = stored(database, token)
    assert participation.end_reason == "success"
    await service.aclose()


async def test_the_dashboards_participation_list_counts_each_ones_messages(database, settings, small):
    from ui.study.admin_views import StudyReader

    service = StudyService(only(small, "prompting"), database, settings)
    chatted = service.enter({"PROLIFIC_PID": "talker"}).token
    service.consent(chatted, True)
    service.answer(chatted, "pre", {"donation_intention": 3})
    await service.start_chat(chatted)
    service.rate(chatted, 0, {"persuasive": 3})
    await service.send(chatted, "Tell me more.")
    service.enter({"PROLIFIC_PID": "silent"})
    labels = [label for label, _ in StudyReader(service).participation_choices()]
    assert len(labels) == 2
    assert "silent" in labels[0] and labels[0].endswith("0 messages")  # newest first
    assert "talker" in labels[1] and labels[1].endswith("3 messages")
    await service.aclose()


async def test_a_study_rates_bot_messages_from_the_one_its_file_names(database, settings, small):
    """rate_from = 1: the greeting is not rated; the reply to the first message is, and every one after it."""
    study = only(small, "prompting", rate_from=1)
    service = StudyService(study, database, settings)
    token = service.enter({"PROLIFIC_PID": "no-greeting-rating"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    view = await service.start_chat(token)
    assert (view.phase, view.awaiting_rating) == ("chat", None) and [line.speaker for line in view.transcript] == ["bot"]
    with pytest.raises(StudyRefusal, match="cannot be rated now"):
        service.rate(token, 0, {"persuasive": 3})
    view = await service.send(token, "What is this about?")
    assert (view.phase, view.awaiting_rating) == ("rating", 2)
    view = service.rate(token, 2, {"persuasive": 4})
    view = await service.send(token, "Tell me more.")
    assert view.awaiting_rating == 4
    _, _, _, ratings, _, _ = stored(database, token)
    assert {position for position, _, _ in ratings} == {2}
    await service.aclose()
    with pytest.raises(ConfigError, match=r"chat.rate_from: the chat has at most 3 bot messages \(0 to 2\), got 3"):
        study_from_dict({**small.public_dict(), "chat": {**small.chat.model_dump(), "rate_from": 3}})


async def test_an_opening_message_the_llm_failed_is_owed_and_retried(database, fake_server, make_settings, small):
    """The page needs a way on when the partner's first message fails: the view says a message is owed (Try again)."""
    settings = make_settings(fake_server.base_url, max_retries=0, seed=3)
    service = StudyService(only(small, "prompting"), database, settings)
    token = service.enter({"PROLIFIC_PID": "opening-fails"}).token
    service.consent(token, True)
    service.answer(token, "pre", {"donation_intention": 3})
    fake_server.fault_rate, fake_server.faults = 1.0, ("500",)
    with pytest.raises(LLMError):
        await service.start_chat(token)
    view = service.view(token)
    assert view.phase == "chat" and view.transcript == () and view.awaiting_reply and not view.can_finish
    fake_server.fault_rate = 0.0
    view = await service.retry(token)
    assert not view.awaiting_reply and [line.speaker for line in view.transcript] == ["bot"]
    await service.aclose()


async def test_a_participant_who_finds_the_study_full_after_the_pre_survey_gets_its_own_outcome(database, settings, small):
    quota_one = tuple(c.model_copy(update={"quota": 1}) for c in small.conditions[:1])
    completion = small.completion.model_copy(update={"full_code": "CFULL"})
    study = small.model_copy(update={"conditions": quota_one, "completion": completion})
    service = StudyService(study, database, settings)
    first, second = (service.enter({"PROLIFIC_PID": pid}).token for pid in ("first", "second"))
    for token in (first, second):  # both enter while there is room
        service.consent(token, True)
        service.answer(token, "pre", {"donation_intention": 3})
    await service.start_chat(first)  # takes the only place
    view = await service.start_chat(second)
    assert (view.phase, view.reason, view.completion_code) == ("screened_out", "study_full", "CFULL")
    assert "last places in this study were taken" in view.notice and view.notice != NOTICES["attention_check"]
    assert view.redirect_url == "https://app.prolific.com/submissions/complete?cc=CFULL"
    # Without a code of its own the study asks them to return the submission: no screened-out code, no link.
    plain = small.model_copy(update={"id": "plain", "conditions": quota_one})
    assert plain.completion.redirect(screened_out=True, full=True) == (None, None)
    await service.aclose()
