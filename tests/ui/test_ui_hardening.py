"""The public app under abuse: an API flood beside a person chatting, hostile text from the LLM and
from the API, numbers the controls would never send, credentials in the base URL.

The flood and the API calls use plain HTTP (tests/ui/gradio_http.py), as the probe of issue 13
did; the person is Debian's chromium through Playwright. Caps are small so that the behaviour
beyond them shows in seconds; benchmarks/api_sessions.py measures 600 sessions.
"""

from __future__ import annotations

import html
import json
import logging
import resource
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from gdp_zero.llm.fake_server import TEXT_FAULTS
from gdp_zero.text import MAX_LLM_TEXT_CHARS
from tests.ui.gradio_http import NO_TOKEN, ON_LOAD, ON_SEND, Completed, call, new_session
from tests.ui.test_ui_browser import BOT, USER, open_app, send
from gdp_zero.serving.limits import LimitSettings

ServedApp = Any  # tests/ui/conftest.py
URL_SECRET = "url-SECRET-5"
CONTROLS = ["gdpzero", 4, 2, 0.25, 1.0, "", "puct"]  # planner, simulations, k, Q0, c_puct, time budget, root rule
FLOOD = ["random", 1, 1, 0.25, 1, "", "puct"]  # the probe's payload: a session and one cheap LLM turn

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def chat_texts(done: Completed) -> list[str]:
    """The chat messages' HTML from an event's final output (none if the chat was not updated)."""
    output = done.data[0]
    messages = output.get("value") if isinstance(output, dict) else output  # a full value, or an update's
    messages = messages if isinstance(messages, list) else []
    return [part["text"] for message in messages for part in message["content"]]


@pytest.fixture(scope="module")
def guarded(start_app: Callable[..., Any]) -> Iterator[ServedApp]:
    """An app whose LLM base URL carries a user name and password."""
    limits = LimitSettings(max_sessions_per_client=50, turns_per_minute=200)
    with start_app(limits=limits, userinfo=f"alice:{URL_SECRET}") as app:
        yield app


def test_an_api_flood_never_evicts_a_person_and_the_limits_answer(
    page: Page, start_app: Callable[..., Any], screenshot_dir: Any
) -> None:
    limits = LimitSettings(max_sessions=8, max_sessions_per_client=3, turns_per_minute=6)
    with start_app(limits=limits) as app:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        open_app(page, app)  # the person, from 127.0.0.1
        send(page, "First, a question: what does the charity do?")

        one_address = [("198.51.100.7", new_session()) for _ in range(12)]
        many_addresses = [(f"203.0.113.{i}", new_session()) for i in range(30)]
        with ThreadPoolExecutor(8) as pool:
            flood = [pool.submit(call, app.url, ON_LOAD, [*FLOOD, NO_TOKEN], session, client=client)
                     for client, session in one_address + many_addresses]
            send(page, "And how much of a donation reaches the children?")  # while the flood runs
            results = [f.result(timeout=120) for f in flood]

        assert all(r.success for r in results)  # refusals are answers, not errors
        statuses = [r.status for r in results]
        from_one = statuses[: len(one_address)]
        assert sum("Too many open sessions from your address (3)" in s for s in from_one) == 12 - 3
        assert sum("The server is full (8 open sessions, all in use)" in s for s in statuses) == 30 - (8 - 1 - 3)
        admitted = [s for s in statuses if "Your turn" in s]
        assert len(admitted) == 8 - 1  # everyone else's sessions fill the server, the person keeps theirs
        assert len(app.registry) == 8
        gradio_states = len(app.demo.state_holder.session_data)
        assert gradio_states <= 2 * limits.max_sessions  # Gradio's own per-session state is bounded too

        # The person's dialogue survived and goes on.
        send(page, "Fine, I will think about it.")
        expect(page.locator(USER)).to_have_count(3)
        expect(page.locator(USER).first).to_contain_text("what does the charity do?")
        page.screenshot(path=str(screenshot_dir / "after-flood.png"), full_page=True)

        # Turns per minute from one address: three sessions opened (3 turns), 3 more, then refused.
        sessions = [session for (_, session), s in zip(one_address, from_one) if "Your turn" in s]
        replies = [call(app.url, ON_SEND, [f"message {i}", *FLOOD], sessions[i % 3], client="198.51.100.7")
                   for i in range(4)]
        assert ["Your turn" in r.status for r in replies] == [True, True, True, False]
        assert "Too many turns from your address: at most 6 a minute. Try again in" in replies[-1].status
        refused = app.registry.get(sessions[0]).session
        assert refused.pending is None and "message 3" not in [t.text for t in refused.log]  # nothing kept

        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"sessions {len(app.registry)} (cap {limits.max_sessions}), Gradio states {gradio_states}, "
              f"peak RSS of the test process {rss_before / 1024:.0f} -> {rss_after / 1024:.0f} MiB")


def test_numbers_the_controls_never_send_are_refused_through_the_api(guarded: ServedApp) -> None:
    session = new_session()
    assert "Your turn" in call(guarded.url, ON_LOAD, [*CONTROLS, NO_TOKEN], session).status
    for sims in (float("inf"), float("-inf"), float("nan"), 1.5, "lots", None):
        done = call(guarded.url, ON_SEND, ["Hello there.", "gdpzero", sims, 2, 0.25, 1.0, "", "puct"], session)
        assert done.success and done.error is None, (sims, done)
        assert "Simulations and k must be whole numbers" in done.status, (sims, done.status)
    for q0 in (float("inf"), float("nan")):
        done = call(guarded.url, ON_SEND, ["Hello there.", "gdpzero", 4, 2, q0, 1.0, "", "puct"], session)
        assert "Q0 must be a finite number" in done.status
    done = call(guarded.url, ON_SEND, ["Hello there.", "gdpzero", 10**6, 2, 0.25, 1.0, "", "puct"], session)
    assert "Simulations must be at most 200 on this server" in done.status
    done = call(guarded.url, ON_SEND, ["Hello there.", "gdpzero", 0, 2, 0.25, 1.0, "", "puct"], session)
    assert "Simulations must be at least 1" in done.status
    done = call(guarded.url, ON_SEND, ["Hello there.", "gdpzero", 4, 2, 0.25, 1.0, "", {"rule": "gumbel"}], session)
    assert "Root act selection must be one of puct, gumbel" in done.status
    assert "Hello there" not in "".join(chat_texts(done))  # nothing was kept from the refused sends
    done = call(guarded.url, ON_SEND, ["Hello there.", "gdpzero", "3", 1, 0.25, 1.0, "", "puct"], session)
    assert "Replied with" in done.status and "after 3 simulations" in done.status


def test_a_page_opening_with_refused_settings_gets_no_chat_and_is_told_which(guarded: ServedApp) -> None:
    """The opening event used to put the defaults in place of a refused value, silently."""
    for controls, said in ((["gdpzero", 5000, 2, 0.25, 1.0, "", "puct"], "Simulations must be at most 200 on this server, got 5000."),
                           (["gdpzero", 4, 2, float("nan"), 1.0, "", "puct"], "Q0 must be a finite number"),
                           (["gdpzero", 4, 2, 0.25, 1.0, "soon", "puct"], "Time budget 'soon' is not a number of seconds"),
                           (["mystery", 4, 2, 0.25, 1.0, "", "puct"], "Unknown planner 'mystery'"),
                           (["gdpzero", 4, 2, 0.25, 1.0, "", "best"], "Root act selection must be one of puct, gumbel")):
        session = new_session()
        done = call(guarded.url, ON_LOAD, [*controls, NO_TOKEN], session)
        status = html.unescape(done.status)
        assert done.success and done.error is None, done
        assert status.startswith("This page has no chat: its planner settings were refused.") and said in status, status
        assert guarded.registry.get(session) is None and not chat_texts(done)  # no chat, no greeting from the LLM
        later = call(guarded.url, ON_SEND, ["Hello?", *CONTROLS], session)  # the page's next event is told the same
        assert said in html.unescape(later.status) and "server restarted" not in later.status, later.status


def test_hostile_llm_text_is_shown_clean_isolated_and_bounded(page: Page, app: ServedApp, screenshot_dir: Any) -> None:
    app.llm.faults, app.llm.fault_rate = TEXT_FAULTS, 1.0
    open_app(page, app)
    for text in ("Hello.", "What is it about?", "Tell me more.", "Why?"):
        send(page, text)
    bots = page.locator(BOT)
    expect(bots).to_have_count(5)
    assert set(app.llm.stats.faults) >= set(TEXT_FAULTS)
    for i in range(5):
        shown = bots.nth(i).locator(".message-text")
        expect(shown).to_have_attribute("dir", "auto")
        text = shown.inner_text()
        assert not any(ch in text for ch in "\u202e\x1b\x07\x00\ufffe"), repr(text)
        assert len(text) <= MAX_LLM_TEXT_CHARS
    page.screenshot(path=str(screenshot_dir / "hostile-llm-text.png"), full_page=True)
    # Later prompts carry at most the cut text, not 20,000 characters.
    assert app.llm.stats.max_prompt_chars < 12_000, app.llm.stats.max_prompt_chars
    print(f"largest prompt: {app.llm.stats.max_prompt_chars} characters")


def test_a_lone_surrogate_or_control_characters_in_a_message_from_the_api(app: ServedApp) -> None:
    session = new_session()
    call(app.url, ON_LOAD, [*CONTROLS, NO_TOKEN], session)
    hostile = "Half an emoji \ud83d, a \u202ereversed\u202c word, a bell\x07 and \x1b[2Jescapes."
    done = call(app.url, ON_SEND, [hostile, *CONTROLS], session)
    assert done.success and "Your turn" in done.status, done
    kept = "".join(chat_texts(done))
    assert "Half an emoji \ufffd, a reversed word, a bell and escapes" in kept.replace("\\", "")
    # The event stream of the session still works: the next message gets its reply.
    done = call(app.url, ON_SEND, ["And now a plain one.", *CONTROLS], session)
    assert done.success and "Your turn" in done.status


def test_url_credentials_never_reach_config_the_page_or_logs(
    page: Page, guarded: ServedApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with urllib.request.urlopen(guarded.url + "config", timeout=10) as response:
        config = response.read().decode()
    assert "http://***@127.0.0.1" in config  # the settings panel shows the endpoint ...
    assert URL_SECRET not in config and "alice" not in config  # ... without its credentials
    assert guarded.secret not in config

    open_app(page, guarded)
    page.get_by_text("LLM settings (no secrets)").click()
    expect(page.locator("#llm-settings")).to_contain_text("***@127.0.0.1")
    guarded.llm.faults, guarded.llm.fault_rate = ("500",), 1.0
    try:
        page.fill("#message textarea", "Is the endpoint up?")
        page.press("#message textarea", "Enter")
        error = page.locator("#chat-error .chat-error")
        expect(error).to_contain_text("http://***@127.0.0.1")  # the error names the endpoint ...
    finally:
        guarded.healthy()
    html = page.content()
    assert URL_SECRET not in html and "alice" not in html  # ... and nothing on the page has them
    assert "HTTP Request: POST http://127.0.0.1" in caplog.text  # with a key, the URL's credentials are not sent
    assert URL_SECRET not in caplog.text and "alice:" not in caplog.text


def test_the_api_lists_no_endpoints(guarded: ServedApp) -> None:
    with urllib.request.urlopen(guarded.url + "gradio_api/info", timeout=10) as response:
        info = json.loads(response.read())
    assert info == {"named_endpoints": {}, "unnamed_endpoints": {}}
    request = urllib.request.Request(guarded.url + "gradio_api/run/on_send", json.dumps({"data": []}).encode(),
                                     {"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:  # no direct call skips the queue
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code in (404, 405)
