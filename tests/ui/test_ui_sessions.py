"""Per-browser chats on the server: turns as tasks, guards, planner changes, cleanup."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from gdp_zero.factory import ChatOptions
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.session import MessageRejected, TurnLog
from ui.sessions import SessionRegistry, UserChat

SMALL = ChatOptions(search=GDPZeroConfig(simulations=3, realizations=1, prior_samples=2, value_samples=2))


@pytest.fixture
def settings(fake_server: Any, make_settings: Any) -> Any:
    return replace(make_settings(fake_server.base_url), max_retries=0)


async def test_a_turn_runs_as_a_task_and_reports_progress(settings: Any) -> None:
    chat = UserChat(settings, SMALL)
    seen = []
    try:
        task = chat.open()
        assert chat.busy and not chat.can_retry
        with pytest.raises(MessageRejected, match="still replying"):
            chat.send("hello")
        while not task.done():
            seen.append(chat.progress)
            await asyncio.sleep(0.01)
        planned = chat.finish()
        assert planned is not None and planned.act == "greeting"
        assert chat.progress is not None and chat.progress.done == chat.progress.total
        assert not chat.busy and chat.error is None
    finally:
        await chat.aclose()
    assert not chat.workdir.exists()


async def test_send_is_refused_while_a_message_has_no_reply(settings: Any) -> None:
    chat = UserChat(settings, SMALL)
    try:
        with pytest.raises(MessageRejected, match="Retry"):
            chat.send("too early")  # the greeting has not come
        assert chat.can_retry
        await chat.open()
        chat.finish()
        with pytest.raises(MessageRejected, match="empty"):
            chat.send("  ")
        # A failure after tagging leaves the message in the log with no reply: no second message.
        chat.session.log.append(TurnLog("user", "neutral", "first", 1))
        with pytest.raises(MessageRejected, match="no reply yet"):
            chat.send("second")
        assert chat.can_retry
        await chat.retry()
        assert chat.finish() is not None
        assert [t.speaker for t in chat.session.log] == ["system", "user", "system"]
    finally:
        await chat.aclose()


async def test_an_endpoint_failure_is_one_line_and_the_message_stays(settings: Any, fake_server: Any) -> None:
    chat = UserChat(settings, SMALL)
    try:
        await chat.open()
        chat.finish()
        fake_server.fault_rate, fake_server.faults = 1.0, ("500",)
        task = chat.send("I might.")
        await asyncio.wait({task})
        assert chat.finish() is None
        assert chat.error is not None and "500" in chat.error and "\n" not in chat.error
        assert chat.session.pending == "I might." and chat.can_retry
        fake_server.fault_rate = 0.0
        await chat.retry()
        assert chat.finish() is not None and chat.error is None
        assert chat.session.log[1].text == "I might."
    finally:
        await chat.aclose()


async def test_new_options_apply_from_the_next_turn(settings: Any) -> None:
    chat = UserChat(settings, SMALL)
    try:
        await chat.open()
        chat.finish()
        first_planner = chat.session.planner
        assert not chat.configure(SMALL)  # unchanged: the planner (and its reusable tree) stays
        assert chat.session.planner is first_planner
        assert chat.configure(replace(SMALL, planner="prompting"))
        await chat.send("Tell me more.")
        planned = chat.finish()
        assert planned is not None and planned.planner == "prompting" and planned.tree is None
        assert len(chat.session.log) == 3  # the dialogue so far was kept
    finally:
        await chat.aclose()


async def test_registry_closes_chats(settings: Any) -> None:
    registry = SessionRegistry(settings, capacity=2)
    a = await registry.create("a", SMALL)
    a.open()  # a turn in flight when the page goes away
    await registry.create("b", SMALL)
    assert registry.get("a") is a and len(registry) == 2
    await registry.create("c", SMALL)  # over capacity: the least recently used ("b") goes
    assert registry.get("b") is None and len(registry) == 2
    await registry.close("a")
    assert registry.get("a") is None and not a.busy and not a.workdir.exists()
    await registry.close_all()
    assert len(registry) == 0
