"""The chat a researcher keeps open (issue 22), in chromium: the first screen, reload, regenerate,
👍/👎 with a note, copy and the act glossary, each landing in the downloaded transcript."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import ServedApp
from tests.ui.test_ui_browser import BOT, download, open_app, send, shot

USER = "#chat [data-testid=user]"


def in_view(page: Page, selector: str) -> bool:
    """The element's box lies within the window (the part of the page a person sees without scrolling)."""
    return page.evaluate(
        """(selector) => { const el = document.querySelector(selector); if (!el) return false;
            const box = el.getBoundingClientRect();
            return box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0; }""",
        selector,
    )


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_the_box_and_the_newest_message_are_in_view_after_each_of_the_first_turns(
        page: Page, app: ServedApp, screenshot_dir: Path, width: int, height: int) -> None:
    page.set_viewport_size({"width": width, "height": height})
    open_app(page, app)
    assert in_view(page, "#message textarea") and in_view(page, f"{BOT}:last-of-type")
    for turn, text in enumerate(["Hi, who are you?", "What does the charity do?", "Why should I trust it?"], 1):
        send(page, text)
        page.wait_for_timeout(400)  # the autoscroll's last frame
        assert in_view(page, "#message textarea"), f"turn {turn}: the message box is below the screen"
        newest = page.locator(BOT).last.bounding_box()
        assert newest is not None and newest["y"] + min(newest["height"], 40) <= height and newest["y"] >= 0, (turn, newest)
    shot(page, screenshot_dir, f"first-screen-{width}x{height}.png")


def messages(page: Page) -> list[str]:
    return page.locator(f"{USER}, {BOT}").all_inner_texts()


def test_a_reload_keeps_the_dialogue_and_the_chat_goes_on(page: Page, app: ServedApp) -> None:
    """A reload dropped 3 user and 4 bot messages without a word (issue 22 item 2): the page now takes
    its chat back from the server (the resume token in localStorage), tree and transcript included."""
    open_app(page, app)
    send(page, "Hello there.")
    send(page, "What does the charity do?")
    before = messages(page)
    chats = len(app.registry)
    page.reload()
    expect(page.locator(BOT)).to_have_count(3)
    expect(page.locator("#status")).to_contain_text("Your dialogue is back")
    assert messages(page) == before and len(app.registry) == chats  # the same chat, not a new one beside it
    expect(page.locator("#turn-select input")).to_have_value(re.compile(r"^turn 3 "))  # its trees came back too
    send(page, "Why should I trust it?")
    transcript = json.loads(download(page, "#download-transcript")[1])
    said = [t["text"] for t in transcript["turns"] if t["speaker"] == "user"]
    assert said == ["Hello there.", "What does the charity do?", "Why should I trust it?"]


def test_a_reload_mid_turn_shows_the_turn_finish(page: Page, app: ServedApp) -> None:
    open_app(page, app)
    app.llm.latency_s = 0.3  # a turn of a few seconds
    page.fill("#message textarea", "Tell me about the charity.")
    page.press("#message textarea", "Enter")
    expect(page.locator("#status")).to_contain_text("simulation")  # the search is running
    page.reload()
    expect(page.locator(USER)).to_have_count(1)  # the message was kept
    expect(page.locator(BOT)).to_have_count(2, timeout=60_000)  # and its reply arrives on the reloaded page
    expect(page.locator("#status .status-done")).to_be_visible()


def test_a_second_tab_gets_its_own_chat(page: Page, app: ServedApp) -> None:
    open_app(page, app)
    send(page, "Hello from the first tab.")
    second = page.context.new_page()
    open_app(second, app)  # the same browser, so the same resume token: the first tab is still open
    assert second.locator(USER).count() == 0
    send(page, "Still here.")  # the first tab's chat was not taken
    expect(page.locator(USER)).to_have_count(2)
    second.close()


def test_regenerate_feedback_copy_and_glossary_land_in_the_transcript(page: Page, app: ServedApp,
                                                                      screenshot_dir: Path) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_app(page, app)
    send(page, "What is this about?")
    first = page.locator(BOT).last.inner_text()

    # Regenerate: the reply is planned again; both versions are in the transcript.
    page.click("#regenerate")
    expect(page.locator("#status .status-done")).to_be_visible()
    expect(page.locator(BOT)).to_have_count(2)
    expect(page.locator(BOT).last).to_contain_text("version 2")

    # 👍 on the greeting, 👎 and a note on the regenerated reply.
    page.locator("#chat button[aria-label='Like']").first.click()  # each bot message's own row of buttons
    expect(page.locator("#status")).to_contain_text("👍 saved")
    page.locator("#chat button[aria-label='Dislike']").last.click()
    expect(page.locator("#status")).to_contain_text("👎 saved")
    page.fill("#note textarea", "Too pushy for a second message.")
    page.click("#save-note")
    expect(page.locator("#status")).to_contain_text("Note saved")

    # Copy a message; the glossary on hover and in its panel.
    page.locator("#chat button[aria-label='Copy message']").first.click()
    page.wait_for_timeout(300)
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.locator(f"{BOT} .message-text").first.inner_text()  # the text, not the tag's markup
    tag = page.locator(f"{BOT} .act-tag").first
    assert "Say hello or open the conversation politely." in (tag.get_attribute("title") or "")
    page.click("#glossary")
    expect(page.locator("#glossary")).to_contain_text("Elicit feelings such as empathy, guilt or hope")
    shot(page, screenshot_dir, "feedback-and-glossary.png")

    _, text = download(page, "#download-transcript")
    turns = json.loads(text)["turns"]
    assert turns[0]["feedback"]["rating"] == "up"
    reply: dict[str, Any] = turns[2]
    assert reply["feedback"] == {**reply["feedback"], "rating": "down", "note": "Too pushy for a second message."}
    assert len(reply["replaced"]) == 1 and reply["replaced"][0]["text"] in first
    assert reply["replaced"][0]["planner_turn"]["tree"] is not None


def test_a_turns_simulations_are_stepped_through_in_order(page: Page, app: ServedApp) -> None:
    open_app(page, app)
    page.fill("#simulations input", "10")
    send(page, "Tell me about the charity.")
    details = page.locator("#sim-details")
    expect(details).to_contain_text("Simulation ")
    count = int(re.search(r"Simulation (\d+) of (\d+)", details.inner_text()).group(2))  # type: ignore[union-attr]
    assert count >= 6  # 10 this turn, less what the last turn's tree gave (at most its 4)
    expect(details).to_contain_text(f"Simulation {count} of {count}")  # the last, as the tree stands
    box = page.locator("#sim-step input[type=number]")
    box.fill("1")
    box.press("Enter")
    expect(details).to_contain_text(f"Simulation 1 of {count}")
    expect(details).to_contain_text("this turn's simulations 1–1")
