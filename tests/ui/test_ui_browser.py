"""The web app in a real browser: chat, search tree, downloads, isolation, escaping, errors.

Plain sync tests on the `page` and `new_context` fixtures of tests/ui/conftest.py (Debian's chromium),
which override pytest-playwright's.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

ServedApp = Any  # tests/ui/conftest.py: url, demo, llm (the fake server), secret, healthy()

BOT = "#chat [data-testid='bot']"
USER = "#chat [data-testid='user']"
TIMEOUT_MS = 20_000

# Gradio's own event analytics build a DataFrame in a way pandas 3 warns about; not ours to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*no_silent_downcasting.*"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


# --- helpers ----------------------------------------------------------------------------------


def open_app(page: Page, app: ServedApp) -> None:
    """Load the page and wait for the persuader's greeting."""
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app.url)
    expect(page.locator(BOT)).to_have_count(1)
    expect(page.locator("#status .status-done")).to_be_visible()


def send(page: Page, text: str) -> None:
    """Send a message and wait for the reply to it."""
    bots = page.locator(BOT).count()
    page.fill("#message textarea", text)
    page.press("#message textarea", "Enter")
    expect(page.locator(BOT)).to_have_count(bots + 1)
    expect(page.locator("#status .status-done")).to_be_visible()


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def pick(page: Page, dropdown_id: str, label: str, *, prefix: bool = False) -> None:
    """Choose an option of a Gradio dropdown as a person would (by its label, or its label's start)."""
    page.click(f"#{dropdown_id} input")
    match = "^=" if prefix else "="
    page.locator(f"#{dropdown_id} [role=option][aria-label{match}'{label}']").click()


def plot_traces(page: Page) -> dict[str, Any]:
    """The Plotly figure's traces by name, read from the plot element in the DOM."""
    page.wait_for_function("() => document.querySelector('#tree-plot .js-plotly-plot')?.data?.length > 0")
    traces = page.evaluate(
        """() => document.querySelector('#tree-plot .js-plotly-plot').data.map(t => ({
            name: t.name, x: t.x, customdata: t.customdata || null,
            size: (t.marker && t.marker.size) || null }))"""
    )
    return {t["name"]: t for t in traces}


def download(page: Page, selector: str) -> tuple[str, str]:
    with page.expect_download() as info:
        page.click(selector)
    dl = info.value
    return dl.suggested_filename, Path(dl.path()).read_text(encoding="utf-8")


def shot(page: Page, folder: Path, name: str, selector: str | None = None) -> Path:
    path = folder / name
    (page.locator(selector).screenshot(path=str(path)) if selector else page.screenshot(path=str(path), full_page=True))
    print(f"screenshot: {path}")
    return path


# --- tests ------------------------------------------------------------------------------------


def test_chat_tree_and_downloads(page: Page, app: ServedApp, screenshot_dir: Path, publish_screenshots: Any) -> None:
    started = time.monotonic()
    open_app(page, app)
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner")).to_contain_text("Demo mode")

    send(page, "Hi, I'm fine. What is this about?")
    send(page, "I have heard of them, yes.")
    page.fill("#simulations input", "24")  # applies from the next turn: a fuller tree to look at
    send(page, "Maybe, tell me more.")
    bots, users = page.locator(BOT), page.locator(USER)
    expect(bots).to_have_count(4)  # the greeting and three replies
    expect(users).to_have_count(3)
    for i in range(4):
        expect(bots.nth(i).locator(".act-tag")).to_have_count(1)
        expect(bots.nth(i).locator(".act-tag")).not_to_be_empty()
    for i in range(3):
        expect(users.nth(i).locator(".act-tag.user-act")).not_to_be_empty()
    expect(bots.first.locator(".act-tag")).to_have_text("greeting")
    shot(page, screenshot_dir, "chat.png")

    # Usage: per session and per turn, by role.
    open_tab(page, "Usage")
    usage = page.locator("#usage-table")
    expect(usage).to_contain_text("session")
    expect(usage).to_contain_text("policy")
    expect(usage).to_contain_text("act_tagger")
    expect(usage).to_contain_text("turn 4")

    # The latest turn's tree: the figure has a node for every act the root visited.
    open_tab(page, "Search tree")
    assert page.locator("#turn-select input").input_value().startswith("turn 4 ·")
    name, text = download(page, "#download-tree")
    assert name == "gdp-zero-tree-turn-4.json"
    latest = json.loads(text)
    traces = plot_traces(page)
    visited = [act for act, n in latest["root"]["child_visits"].items() if n > 0]
    nodes = traces["nodes"]["customdata"]
    assert len(nodes) >= len(visited) + 1  # the root and every visited act, at least
    assert set(visited) <= set(nodes)
    assert len(traces["chosen path"]["x"]) >= 3  # one segment at least: root -> chosen act
    table = page.locator("#root-table")
    expect(table).to_contain_text(latest["chosen_act"])
    expect(table).to_contain_text("✓")
    assert len(latest["simulations"]) + latest["reused_simulations"] >= 24  # the new setting was used
    shot(page, screenshot_dir, "tree.png")
    # Hover the chosen act's node: its label shows N, Q, P, V and realizations.
    chosen_index = nodes.index(latest["chosen_act"])
    box = page.locator("#tree-plot .scatterlayer .trace").nth(2).locator(".point").nth(chosen_index).bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # Plotly's drag layer takes the events
    hover = page.locator("#tree-plot .hoverlayer .hovertext")
    expect(hover).to_contain_text("N(s,a)=")
    expect(hover).to_contain_text("Q=")
    expect(hover).to_contain_text("P=")
    expect(hover).to_contain_text("V=")
    shot(page, screenshot_dir, "tree-hover.png")

    # A node's details.
    node = next(n for n in nodes if n != "(root)")
    pick(page, "node-select", node)
    details = page.locator("#node-details")
    expect(details.locator(".node-path")).to_have_text(node)
    for stat in ("N(s,a)", "Q(s,a)", "P(a|s)", "V(s)", "realization"):
        expect(details).to_contain_text(stat)
    pick(page, "node-select", "(root)")
    expect(details.locator(".node-path")).to_have_text("(root)")
    expect(details).to_contain_text("1 realization")  # the root's: the real dialogue

    # The first turn's tree (the greeting).
    pick(page, "turn-select", "turn 1 ·", prefix=True)
    expect(page.locator("#tree-summary .act-tag")).to_have_text("greeting")
    page.wait_for_function(
        "() => document.querySelector('#tree-plot .js-plotly-plot').data.find(t => t.name === 'nodes').customdata.includes('greeting')"
    )
    name, text = download(page, "#download-tree")
    assert name == "gdp-zero-tree-turn-1.json"
    first = json.loads(text)
    assert first["chosen_act"] == "greeting"
    assert first["root"]["visits"] >= 1
    assert first["root"]["path"] == []
    shot(page, screenshot_dir, "tree-first-turn.png")

    # The transcript: acts, trees, usage; no key.
    open_tab(page, "Chat")
    name, text = download(page, "#download-transcript")
    assert name == "gdp-zero-transcript.json"
    assert app.secret not in text
    transcript = json.loads(text)
    turns = transcript["turns"]
    assert [t["speaker"] for t in turns] == ["system", "user"] * 3 + ["system"]
    assert all(t["act"] for t in turns)
    assert turns[0]["act"] == "greeting"
    assert turns[-1]["planner_turn"]["tree"]["root"]["visits"] == latest["root"]["visits"]
    assert turns[0]["planner_turn"]["tree"]["root"]["visits"] == first["root"]["visits"]
    assert transcript["usage"]["session"]["total"]["calls"] > 0
    assert transcript["llm"]["default"]["api_key_set"] is True

    publish_screenshots(screenshot_dir, "chat.png", "tree.png")  # the README shows them
    print(f"main flow took {time.monotonic() - started:.1f} s")


def test_browser_sessions_are_separate_and_do_not_block_each_other(page: Page, new_context: Any, app: ServedApp) -> None:
    open_app(page, app)
    send(page, "This is between me and the first persuader.")

    other = new_context().new_page()
    open_app(other, app)
    expect(other.locator(USER)).to_have_count(0)
    expect(other.locator("#chat")).not_to_contain_text("between me and the first persuader")

    # A slow search for the first page (60 simulations, 0.3 s a call: tens of seconds) must not
    # hold up the second page.
    page.fill("#simulations input", "60")
    app.llm.latency_s = 0.3
    page.fill("#message textarea", "Tell me everything.")
    page.press("#message textarea", "Enter")
    expect(page.locator("#status .status-busy")).to_contain_text("simulations done")
    clicked = time.monotonic()
    other.click("#undo")
    expect(other.locator("#status")).to_contain_text("Nothing to undo")
    assert time.monotonic() - clicked < 3.0
    expect(page.locator("#status .status-busy")).to_be_visible()  # the first search is still running
    app.llm.latency_s = 0.0  # the rest of the search goes fast (each request reads the latency)
    send(other, "A message from the second page.")
    expect(page.locator("#status .status-done")).to_be_visible(timeout=60_000)
    expect(page.locator("#chat")).not_to_contain_text("A message from the second page.")
    expect(other.locator("#chat")).not_to_contain_text("Tell me everything.")

    # Closing a page closes its chat on the server (demo.unload).
    sessions = len(app.registry)
    other.close()
    deadline = time.monotonic() + 15
    while len(app.registry) >= sessions and time.monotonic() < deadline:
        time.sleep(0.2)
    print(f"unload after {15 - (deadline - time.monotonic()):.1f} s")
    assert len(app.registry) == sessions - 1


def test_markup_in_a_message_is_literal_text(page: Page, app: ServedApp) -> None:
    open_app(page, app)
    hostile = "<script>window.__pwned=1</script><b>bold</b> **not bold** <img src=x onerror=\"window.__pwned=2\">"
    send(page, hostile)
    last_user = page.locator(USER).last
    expect(last_user).to_contain_text("<script>window.__pwned=1</script><b>bold</b> **not bold**")
    expect(last_user).to_contain_text('<img src=x onerror="window.__pwned=2">')
    assert last_user.locator("b, strong, img, script").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    # The tree panel escapes it too (see test_ui_tree_view for the node details and hover labels).
    open_tab(page, "Search tree")
    page.wait_for_function("() => document.querySelector('#tree-plot .js-plotly-plot')?.data?.length > 0")
    assert page.locator("#tree-plot script, #node-details script, #node-details img").count() == 0
    assert page.evaluate("() => window.__pwned") is None


def test_empty_and_too_long_messages_are_refused_with_a_hint(page: Page, app: ServedApp) -> None:
    open_app(page, app)
    page.fill("#message textarea", "   ")
    page.press("#message textarea", "Enter")
    expect(page.locator("#status .status-hint")).to_contain_text("empty")
    expect(page.locator(USER)).to_have_count(0)
    expect(page.locator(BOT)).to_have_count(1)

    page.fill("#message textarea", "x" * 2001)
    page.click("#send")
    expect(page.locator("#status .status-hint")).to_contain_text("limit is 2000")
    expect(page.locator(USER)).to_have_count(0)
    assert len(page.locator("#message textarea").input_value()) == 2001  # kept, to shorten


def test_endpoint_failure_keeps_the_message_and_retry_completes_it(page: Page, app: ServedApp, screenshot_dir: Path) -> None:
    open_app(page, app)
    expect(page.locator("#retry")).to_be_disabled()
    app.llm.faults, app.llm.fault_rate = ("500",), 1.0
    page.fill("#message textarea", "I could give a little.")
    page.press("#message textarea", "Enter")
    error = page.locator("#chat-error .chat-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("kept failing")
    expect(error).to_contain_text("Retry")
    expect(page.locator("#status .status-error")).to_be_visible()
    expect(page.locator(USER)).to_have_count(1)
    expect(page.locator(USER).last).to_contain_text("I could give a little.")
    expect(page.locator(BOT)).to_have_count(1)
    shot(page, screenshot_dir, "error.png")

    app.healthy()
    expect(page.locator("#retry")).to_be_enabled()
    page.click("#retry")
    expect(page.locator(BOT)).to_have_count(2)
    expect(page.locator("#status .status-done")).to_be_visible()
    expect(page.locator("#chat-error .chat-error")).to_have_count(0)
    expect(page.locator(USER)).to_have_count(1)
    expect(page.locator(USER).last.locator(".act-tag.user-act")).not_to_be_empty()
    expect(page.locator(USER).last).to_contain_text("I could give a little.")
    expect(page.locator(BOT).last.locator(".act-tag")).not_to_be_empty()


def test_planner_settings_apply_from_the_next_turn(page: Page, app: ServedApp) -> None:
    open_app(page, app)
    # A time budget far shorter than the search: the reply says the search was cut.
    page.fill("#simulations input", "200")
    page.fill("#time-budget textarea", "0.4")
    app.llm.latency_s = 0.05
    send(page, "Go on.")
    expect(page.locator(BOT).last.locator(".budget-note")).to_contain_text("time budget")
    expect(page.locator("#status")).to_contain_text("time budget")
    app.healthy()

    page.fill("#time-budget textarea", "")
    page.fill("#simulations input", "3")
    page.get_by_label("Prompting (no search)").check()
    send(page, "Okay.")
    expect(page.locator(BOT).last.locator(".turn-meta")).to_contain_text("Prompting")
    open_tab(page, "Search tree")
    expect(page.locator("#tree-summary")).to_contain_text("does not search")

    open_tab(page, "Chat")
    page.fill("#time-budget textarea", "soon")
    page.fill("#message textarea", "Hello?")
    page.press("#message textarea", "Enter")
    expect(page.locator("#status .status-hint")).to_contain_text("Time budget")
    expect(page.locator(USER)).to_have_count(2)


def test_undo_and_restart(page: Page, app: ServedApp) -> None:
    open_app(page, app)
    send(page, "First message.")
    page.click("#undo")
    expect(page.locator("#status")).to_contain_text("Undone")
    expect(page.locator(USER)).to_have_count(0)
    expect(page.locator(BOT)).to_have_count(1)
    send(page, "Second message.")
    page.click("#restart")
    expect(page.locator(USER)).to_have_count(0)
    expect(page.locator("#status .status-done")).to_be_visible()
    expect(page.locator(BOT)).to_have_count(1)
    expect(page.locator(BOT).first.locator(".act-tag")).to_have_text("greeting")


def test_no_secret_reaches_the_browser(app: ServedApp) -> None:
    with urllib.request.urlopen(app.url + "config", timeout=10) as response:
        config = response.read().decode()
    assert "fake-model" in config  # the public settings are there ...
    assert app.secret not in config  # ... the key is not
