"""A whole participation in Debian's chromium against `gdp-zero study serve --llm fake` (demo mode).

Prolific's URL parameters in, consent, the pre-survey, a 3-turn chat rating every bot message,
a reload mid-chat, the post-survey with its attention check, the completion code out; then the
database must hold exactly what was clicked and typed, and the same PROLIFIC_PID must not get a
second participation. The same on a phone-sized screen.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.study import crud
from gdp_zero.study.db import open_database
from gdp_zero.study.models import Participation
from gdp_zero.study.spec import load_study

from tests.study.web.study_web import STUDY_FILE, StudyServer, publish_screenshot
from ui.study.participant import CHAT_OVER

BOT = "#study-chat [data-testid='bot']"
USER = "#study-chat [data-testid='user']"
TIMEOUT_MS = 30_000
VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def choose(page: Page, elem_id: str, value: int | str, study_item: Any) -> None:
    """Click a radio option as a person does: a Likert point by its value, a choice by its text."""
    if study_item.type == "likert":
        index = int(value) - study_item.min
        page.locator(f"#{elem_id} label").nth(index).click()
    else:
        page.locator(f"#{elem_id} label").filter(has_text=str(value)).first.click()


def rate_last(page: Page, value: int, item: Any) -> None:
    expect(page.locator("#rating-panel")).to_be_visible()
    expect(page.locator("#message-row")).to_be_hidden()  # no reply before the rating
    choose(page, f"rate-{item.id}", value, item)
    page.click("#rate-submit")
    expect(page.locator("#rating-panel")).to_be_hidden()


def bubbles(page: Page) -> list[tuple[str, str]]:
    return page.evaluate(
        """() => [...document.querySelectorAll("#study-chat [data-testid='bot'], #study-chat [data-testid='user']")]
              .map(e => [e.getAttribute('data-testid'), e.innerText.trim()])"""
    )


def participation_row(server: StudyServer, participant_id: str) -> dict[str, Any]:
    """The participation as stored: condition, status, answers, messages, ratings."""
    database = open_database(server.db_url)
    try:
        with database.transaction() as session:
            study_id = crud.study_row(session).id
            row: Participation | None = crud.participation_by_participant(session, study_id, participant_id)
            assert row is not None, f"no participation stored for {participant_id}"
            messages = crud.messages_of(session, row.id)
            by_id = {m.id: m.position for m in messages}
            return {
                "id": row.id, "condition": row.condition.name if row.condition else None, "status": row.status,
                "recruitment": dict(row.recruitment), "attention_passed": row.attention_passed,
                "answers": {(a.survey, a.item): a.value for a in crud.answers_of(session, row.id)},
                "messages": [(m.speaker, m.text, m.act) for m in messages],
                "ratings": {(by_id[r.message_id], r.item): r.value for r in crud.ratings_of(session, [row.id])},
                "bot_turns": [m.planner_turn for m in messages if m.speaker == "system"],
                "count": sum(p.participant_id == participant_id for p in crud.participations(session, study_id)),
            }
    finally:
        database.dispose()


def walk(page: Page, server: StudyServer, pid: str, shots: Path, tag: str) -> dict[str, Any]:
    """One whole participation; returns what was clicked and typed."""
    study = load_study(STUDY_FILE)
    post = {item.id: item for item in study.survey_items("post")}
    rating_item = study.turn_ratings[0]
    clicked: dict[str, Any] = {"pre": {"donation_intention": 2}, "ratings": [], "messages": []}
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server.participant_url(PROLIFIC_PID=pid, STUDY_ID="study-42", SESSION_ID=f"session-{tag}"))

    expect(page.locator("#consent-page")).to_be_visible()
    expect(page.locator("#consent-text")).to_contain_text("Research study")
    page.screenshot(path=str(shots / f"study-{tag}-1-consent.png"), full_page=True)
    page.click("#consent-agree")

    expect(page.locator("#pre-page")).to_be_visible()
    page.click("#pre-submit")  # nothing chosen: refused, naming the question, beside the button
    expect(page.locator("#pre-problems")).to_contain_text("please answer this question")
    expect(page.locator("#pre-problems")).to_be_in_viewport()
    expect(page.locator("#pre-page")).to_be_visible()
    choose(page, "pre-donation_intention", 2, study.pre_survey[0])
    page.screenshot(path=str(shots / f"study-{tag}-2-pre.png"), full_page=True)
    page.click("#pre-submit")

    expect(page.locator("#chat-page")).to_be_visible()
    expect(page.locator(BOT)).to_have_count(1)  # the partner opens the chat
    expect(page.locator("#rating-panel")).to_be_hidden()  # its greeting is not rated (rate_from = 1)
    expect(page.locator("#partner-label")).to_have_text(study.conditions[0].label)
    for turn, (text, rating) in enumerate([("Hi! What is this about?", 4), ("I have heard of them.", 2), ("Maybe a little.", 5)]):
        if CHAT_OVER in page.locator("#chat-status").inner_text():
            break  # the fake tagger read a message as agreeing to donate: the dialogue has ended
        if turn < study.chat.min_turns:
            expect(page.locator("#study-finish")).to_be_hidden()  # fewer than min_turns messages so far
        page.fill("#study-message textarea", text)
        page.click("#study-send")
        clicked["messages"].append(text)
        expect(page.locator(BOT)).to_have_count(turn + 2)
        if turn == 0:
            # Reload mid-chat: the same transcript comes back, awaiting the same rating.
            expect(page.locator("#rating-panel")).to_be_visible()
            before = bubbles(page)
            page.reload()
            expect(page.locator("#chat-page")).to_be_visible()
            expect(page.locator(BOT)).to_have_count(2)
            assert bubbles(page) == before
            page.screenshot(path=str(shots / f"study-{tag}-3-chat-after-reload.png"), full_page=True)
        rate_last(page, rating, rating_item)
        clicked["ratings"].append(rating)
    else:
        expect(page.locator("#chat-status")).to_contain_text("You may end the chat now")
    clicked["transcript"] = bubbles(page)
    page.screenshot(path=str(shots / f"study-{tag}-4-chat.png"), full_page=True)
    if tag == "phone":
        publish_screenshot(shots / f"study-{tag}-4-chat.png", "study-phone.png")
    page.click("#study-finish")

    expect(page.locator("#post-page")).to_be_visible()
    page.click("#post-submit")  # nothing answered: every problem on a line of its own, where the person is
    problems = page.locator("#post-problems li")
    expect(problems).to_have_count(len([item for item in post.values() if item.required]))
    expect(problems.first).to_be_in_viewport()
    if tag == "phone":  # the list wraps within the screen: nothing sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]
    clicked["post"] = {"persuasive": 4, "natural": 3, "attention": "Strongly disagree", "coherent": 5,
                       "donation_intention": 4}
    for item_id, value in clicked["post"].items():
        choose(page, f"post-{item_id}", value, post[item_id])
    page.fill("#post-donation_amount input", "0.5")
    page.fill("#post-comments textarea", "A friendly chat.")
    clicked["post"] |= {"donation_amount": 0.5, "comments": "A friendly chat."}
    page.screenshot(path=str(shots / f"study-{tag}-5-post.png"), full_page=True)
    page.click("#post-submit")

    expect(page.locator("#completion-code")).to_have_text("C1GDPZ0")
    expect(page.locator("#completion-link")).to_have_attribute("href", "https://app.prolific.com/submissions/complete?cc=C1GDPZ0")
    page.screenshot(path=str(shots / f"study-{tag}-6-complete.png"), full_page=True)
    return clicked


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_whole_participation(viewport: str, study_server: StudyServer, ui_browser: Browser, screenshot_dir: Path) -> None:
    context = ui_browser.new_context(viewport=VIEWPORTS[viewport])
    try:
        page = context.new_page()
        pid = f"PID{uuid.uuid4().hex[:12]}"
        clicked = walk(page, study_server, pid, screenshot_dir, viewport)
        if viewport == "phone":  # nothing wider than the screen: no sideways scrolling on a phone
            assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS["phone"]["width"]

        stored = participation_row(study_server, pid)
        assert stored["status"] == "completed"
        assert stored["condition"] in ("gdpzero", "prompting")
        assert stored["recruitment"] == {"STUDY_ID": "study-42", "SESSION_ID": f"session-{viewport}"}
        assert stored["answers"] == {("pre", "donation_intention"): 2,
                                     **{("post", item): value for item, value in clicked["post"].items()}}
        assert stored["attention_passed"] is True
        speakers = [speaker for speaker, _, _ in stored["messages"]]
        turns = len(clicked["messages"])  # 3, unless the dialogue ended early (see walk)
        assert speakers == ["system", "user"] * turns + ["system"]
        assert [text for speaker, text, _ in stored["messages"] if speaker == "user"] == clicked["messages"]
        assert all(act for _, _, act in stored["messages"])  # every turn tagged or planned
        # The transcript the person saw is the stored one, in order.
        assert [text for _, text in clicked["transcript"]] == [text for _, text, _ in stored["messages"]]
        # Every reply rated as clicked; the greeting (position 0) not at all.
        assert [stored["ratings"][(2 * turn, "persuasive")] for turn in range(1, turns + 1)] == clicked["ratings"]
        assert {position for position, _ in stored["ratings"]} == {2 * turn for turn in range(1, turns + 1)}
        # Each bot turn keeps its PlannerTurn: act, reply, tree (GDP-Zero), usage, timings.
        for turn, (_, text, act) in zip(stored["bot_turns"], [m for m in stored["messages"] if m[0] == "system"]):
            assert turn["act"] == act and turn["reply"] == text and turn["seconds"] >= 0
            assert (turn["tree"] is not None) == (stored["condition"] == "gdpzero")
        # The page never showed the condition's name, an act or a strategy.
        page_text = page.locator("body").inner_text()
        assert "gdpzero" not in page_text.lower() and "prompting" not in page_text.lower()

        # The same PROLIFIC_PID again, in a new browser (no stored token): no second participation.
        again = ui_browser.new_context(viewport=VIEWPORTS[viewport]).new_page()
        again.set_default_timeout(TIMEOUT_MS)
        again.goto(study_server.participant_url(PROLIFIC_PID=pid, STUDY_ID="study-42", SESSION_ID="another"))
        expect(again.locator("#closed-page")).to_be_visible()
        expect(again.locator("#closed-message")).to_contain_text("already completed")
        expect(again.locator("#consent-page")).to_be_hidden()
        again.context.close()
        # ... nor in the same browser, which still holds the token: it shows the completion again.
        page.goto(study_server.participant_url(PROLIFIC_PID=pid, STUDY_ID="study-42", SESSION_ID="third"))
        expect(page.locator("#completion-code")).to_have_text("C1GDPZ0")
        assert participation_row(study_server, pid)["count"] == 1
    finally:
        context.close()


def test_a_killed_server_restarted_on_the_same_database_resumes_the_chat(start_server: Any, ui_browser: Browser) -> None:
    """SIGKILL mid-chat, restart: the page, reloaded, shows every stored message and the chat goes on."""
    server = start_server()
    study = load_study(STUDY_FILE)
    page = ui_browser.new_context(viewport=VIEWPORTS["desktop"]).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    pid = f"KILL{uuid.uuid4().hex[:10]}"
    page.goto(server.participant_url(PROLIFIC_PID=pid))
    page.click("#consent-agree")
    choose(page, "pre-donation_intention", 4, study.pre_survey[0])
    page.click("#pre-submit")
    expect(page.locator(BOT)).to_have_count(1)
    page.fill("#study-message textarea", "Before the crash.")
    page.click("#study-send")
    expect(page.locator(BOT)).to_have_count(2)
    before = bubbles(page)
    condition = participation_row(server, pid)["condition"]

    server.kill()
    server.start()
    page.reload()
    expect(page.locator(BOT)).to_have_count(2)
    assert bubbles(page) == before  # the token in the browser still opens the participation
    rate_last(page, 2, study.turn_ratings[0])
    if CHAT_OVER not in page.locator("#chat-status").inner_text():
        page.fill("#study-message textarea", "After the crash.")
        page.click("#study-send")
        expect(page.locator(BOT)).to_have_count(3)
    stored = participation_row(server, pid)
    assert stored["condition"] == condition and stored["count"] == 1
    assert [text for _, text, _ in stored["messages"]][: len(before)] == [text for _, text in before]
    page.context.close()


def test_an_llm_failure_keeps_the_message_and_try_again_completes_the_turn(start_server: Any, ui_browser: Browser) -> None:
    with FakeLLMServer() as llm:
        server = start_server(llm)
        study = load_study(STUDY_FILE)
        page = ui_browser.new_context(viewport=VIEWPORTS["phone"]).new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server.participant_url(PROLIFIC_PID=f"FAIL{uuid.uuid4().hex[:10]}"))
        page.click("#consent-agree")
        choose(page, "pre-donation_intention", 3, study.pre_survey[0])
        page.click("#pre-submit")
        expect(page.locator(BOT)).to_have_count(1)
        llm.fault_rate, llm.faults = 1.0, ("500",)
        page.fill("#study-message textarea", "Will this get through?")
        page.click("#study-send")
        expect(page.locator("#study-notice")).to_contain_text("could not answer just now", timeout=60_000)
        expect(page.locator(USER)).to_have_count(1)  # the message is kept, shown, and not to be typed again
        expect(page.locator("#study-retry")).to_be_visible()
        expect(page.locator("#message-row")).to_be_hidden()
        llm.fault_rate = 0.0
        page.click("#study-retry")
        expect(page.locator(BOT)).to_have_count(2)
        expect(page.locator("#rating-panel")).to_be_visible()
        expect(page.locator("#study-notice")).to_be_empty()
        page.context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_message_to_rate_is_in_view_after_six_exchanges(viewport: str, study_server: StudyServer, ui_browser: Browser,
                                                            screenshot_dir: Path) -> None:
    """The chat box and the page follow the newest message, so "Rate the message above" is next to that message."""
    study = load_study(STUDY_FILE)
    context = ui_browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(study_server.participant_url(PROLIFIC_PID=f"SCROLL{uuid.uuid4().hex[:10]}"))
    page.click("#consent-agree")
    choose(page, "pre-donation_intention", 3, study.pre_survey[0])
    page.click("#pre-submit")
    expect(page.locator(BOT)).to_have_count(1)
    for exchange in range(1, 7):
        page.fill("#study-message textarea", f"Question number {exchange}: how would the money be spent?")
        page.click("#study-send")
        expect(page.locator(BOT)).to_have_count(exchange + 1)
        expect(page.locator("#rating-panel")).to_be_visible()
        expect(page.locator("#chat-status")).to_contain_text("Rate the message above")
        # The whole of the message to rate, not clipped by the chat box nor below the fold; its form starts under it.
        expect(page.locator(BOT).last).to_be_in_viewport(ratio=1)
        expect(page.locator("#rating-panel")).to_be_in_viewport()
        if exchange == 6:
            page.screenshot(path=str(screenshot_dir / f"study-{viewport}-after-6-exchanges.png"))
        rate_last(page, 3, study.turn_ratings[0])
    context.close()


def test_an_opening_message_the_llm_failed_is_retried_from_the_page(start_server: Any, ui_browser: Browser) -> None:
    """A 500 on the partner's first message: the page offers Try again (and no message box), which opens the chat."""
    study = load_study(STUDY_FILE)
    with FakeLLMServer() as llm:
        server = start_server(llm)
        for size in VIEWPORTS.values():
            page = ui_browser.new_context(viewport=size).new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(server.participant_url(PROLIFIC_PID=f"OPEN{uuid.uuid4().hex[:10]}"))
            page.click("#consent-agree")
            choose(page, "pre-donation_intention", 3, study.pre_survey[0])
            llm.fault_rate, llm.faults = 1.0, ("500",)
            page.click("#pre-submit")
            expect(page.locator("#study-notice")).to_contain_text("could not answer just now", timeout=60_000)
            expect(page.locator("#study-retry")).to_be_visible()
            expect(page.locator("#study-retry")).to_be_in_viewport()
            expect(page.locator("#message-row")).to_be_hidden()  # nothing to reply to yet
            expect(page.locator(BOT)).to_have_count(0)
            llm.fault_rate = 0.0
            page.click("#study-retry")
            expect(page.locator(BOT)).to_have_count(1)
            expect(page.locator("#message-row")).to_be_visible()
            expect(page.locator("#study-notice")).to_be_empty()
            page.fill("#study-message textarea", "Hello, who are you?")  # and the chat goes on
            page.click("#study-send")
            expect(page.locator(BOT)).to_have_count(2)
            page.context.close()
