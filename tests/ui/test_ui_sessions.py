"""Per-browser chats on the server: turns as tasks, guards, planner changes, cleanup."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gdp_zero.factory import ChatOptions
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import TurnRecord
from gdp_zero.session import MessageRejected
from gdp_zero.serving.limits import ClientLimits, LimitExceeded, LimitSettings
from ui.sessions import SessionRegistry, UserChat

SMALL = ChatOptions(search=GDPZeroConfig(simulations=3, realizations=1, prior_samples=2, value_samples=2))


@pytest.fixture
def settings(fake_server: Any, make_settings: Any) -> Any:
    return replace(make_settings(fake_server.base_url), max_retries=0)


async def test_a_turn_runs_as_a_task_and_reports_progress(settings: Any, tmp_path: Path) -> None:
    chat = UserChat(settings, SMALL, tmp_path)
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


async def test_send_is_refused_while_a_message_has_no_reply(settings: Any, tmp_path: Path) -> None:
    chat = UserChat(settings, SMALL, tmp_path)
    try:
        with pytest.raises(MessageRejected, match="Retry"):
            chat.send("too early")  # the greeting has not come
        assert chat.can_retry
        await chat.open()
        chat.finish()
        with pytest.raises(MessageRejected, match="empty"):
            chat.send("  ")
        # A failure after tagging leaves the message in the log with no reply: no second message.
        chat.session.log.append(TurnRecord("user", "neutral", "first"))
        with pytest.raises(MessageRejected, match="no reply yet"):
            chat.send("second")
        assert chat.can_retry
        await chat.retry()
        assert chat.finish() is not None
        assert [t.speaker for t in chat.session.log] == ["system", "user", "system"]
    finally:
        await chat.aclose()


async def test_an_endpoint_failure_is_one_line_and_the_message_stays(settings: Any, fake_server: Any, tmp_path: Path) -> None:
    chat = UserChat(settings, SMALL, tmp_path)
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


async def test_new_options_apply_from_the_next_turn(settings: Any, tmp_path: Path) -> None:
    chat = UserChat(settings, SMALL, tmp_path)
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


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def take_a_turn(chat: UserChat) -> None:
    """What a person does: the greeting's turn, or a message once there is one."""
    task = chat.send("Tell me more.") if chat.session.log else chat.open()
    await task
    chat.finish()


async def test_a_chat_in_use_is_never_closed_for_a_newcomer_and_idle_ones_expire(settings: Any) -> None:
    clock = Clock()
    limits = ClientLimits(LimitSettings(max_sessions=2, idle_timeout_s=60), clock=clock)
    registry = SessionRegistry(settings, limits)
    try:
        person = await registry.create("person", "10.0.0.1", SMALL)
        idle = await registry.create("idle", "10.0.0.2", SMALL)
        with pytest.raises(LimitExceeded, match="server is full"):
            await registry.create("newcomer", "10.0.0.3", SMALL)
        assert registry.get("person") is person and registry.get("idle") is idle  # nobody was evicted

        idle.workdir.mkdir()
        (idle.workdir / "gdp-zero-transcript.json").write_text("{}")
        clock.now += 50
        await take_a_turn(person)
        clock.now += 20  # "idle" has had no turn for 70 s, "person" for 20 s
        busy_but_quiet = await registry.create("newcomer", "10.0.0.3", SMALL)  # the idle one made room
        assert registry.get("idle") is None and registry.get("person") is person
        assert len(registry) == 2 and not idle.workdir.exists()  # its downloads went with it

        busy_but_quiet.open()  # a long turn: no event for a while, but it is running
        clock.now += 120
        await take_a_turn(person)
        assert await registry.sweep() == 0  # a chat running a turn is not idle
        await busy_but_quiet.task
        busy_but_quiet.finish()
        assert await registry.sweep() == 1
        assert registry.get("newcomer") is None and registry.get("person") is person
    finally:
        await registry.close_all()


async def test_sessions_per_client_address(settings: Any) -> None:
    registry = SessionRegistry(settings, ClientLimits(LimitSettings(max_sessions_per_client=2)))
    try:
        await registry.create("tab1", "10.0.0.1", SMALL)
        await registry.create("tab2", "10.0.0.1", SMALL)
        with pytest.raises(LimitExceeded, match=r"Too many open sessions from your address \(2\)"):
            await registry.create("tab3", "10.0.0.1", SMALL)
        assert registry.get("tab3") is None
        await registry.create("other", "10.0.0.2", SMALL)  # another address is not affected
        await registry.close("tab1")  # a tab closed frees its place
        await registry.create("tab3", "10.0.0.1", SMALL)
        assert registry.snapshot() | {"busy": 0} == {"sessions": 3, "detached": 0, "clients": 2, "turns_in_flight": 0, "chats": 3,
                                                     "busy": 0}
    finally:
        await registry.close_all()


async def test_turns_per_minute_and_in_flight_hold_their_slot_until_the_turn_ends(settings: Any) -> None:
    clock = Clock()
    limits = ClientLimits(LimitSettings(turns_per_minute=3, max_turns_in_flight=2), clock=clock)
    registry = SessionRegistry(settings, limits)
    try:
        a = await registry.create("a", "10.0.0.1", SMALL)
        b = await registry.create("b", "10.0.0.2", SMALL)
        c = await registry.create("c", "10.0.0.3", SMALL)
        a.open()
        b.open()
        assert limits.snapshot()["turns_in_flight"] == 2
        with pytest.raises(LimitExceeded, match=r"server is busy \(2 turns running\)"):
            c.open()
        assert c.task is None and not c.busy  # refused before anything started
        await asyncio.gather(a.task, b.task)
        a.finish()
        b.finish()
        await asyncio.sleep(0)  # done callbacks run on the next loop iteration
        assert limits.snapshot()["turns_in_flight"] == 0
        await c.open()
        c.finish()

        # The same address, three turns in a minute, then a refusal that says when to try again.
        a.send("one")
        await a.task
        a.finish()
        a.undo()
        a.send("two")
        await a.task
        a.finish()
        a.undo()
        clock.now += 30
        with pytest.raises(LimitExceeded, match=r"at most 3 a minute. Try again in 30 s"):
            a.send("three")
        assert a.session.pending is None  # the refused message changed nothing
        clock.now += 31
        a.send("three")
        await a.task
        assert a.finish() is not None
    finally:
        await registry.close_all()


async def test_download_folders_live_under_one_root_removed_with_the_registry(settings: Any) -> None:
    registry = SessionRegistry(settings)
    root = registry.root
    assert root.name.startswith("gdp-zero-ui-") and root.is_dir()
    a = await registry.create("../../etc", "10.0.0.1", SMALL)  # a session hash is the client's to choose
    b = await registry.create("b", "10.0.0.1", SMALL)
    assert a.workdir.parent == root and b.workdir.parent == root and a.workdir != b.workdir
    for chat in (a, b):
        chat.workdir.mkdir()
        (chat.workdir / "transcript.json").write_text("{}")
    await registry.close("b")
    assert not b.workdir.exists() and a.workdir.exists()
    await registry.close_all()
    assert not root.exists()


async def test_looking_keeps_no_chat_alive_and_a_full_server_makes_room_for_a_newcomer(settings: Any) -> None:
    """Cheap events (looking at a tree) every few seconds held a full server for ever: only turns count.
    A newcomer whose address holds no session takes the place of one idle for yield_after_idle_s,
    and its page is then told why; before that, the refusal says when to come back."""
    clock = Clock()
    limits = ClientLimits(LimitSettings(max_sessions=2, idle_timeout_s=600, yield_after_idle_s=120), clock=clock)
    registry = SessionRegistry(settings, limits)
    try:
        person = await registry.create("person", "10.0.0.1", SMALL)
        flood = await registry.create("flood", "10.0.0.2", SMALL)
        await take_a_turn(person)
        await take_a_turn(flood)
        clock.now += 100
        with pytest.raises(LimitExceeded, match=r"server is full \(2 open sessions, all in use\)\. Please try again in 20 seconds"):
            await registry.create("newcomer", "10.0.0.3", SMALL)
        assert "This page has no chat: The server is full" in (registry.why_gone("newcomer") or "")
        for _ in range(10):  # the flood looks at its chat every 20 s: that is not a turn
            clock.now += 20
            assert registry.get("flood") is flood
        await take_a_turn(person)
        newcomer = await registry.create("newcomer", "10.0.0.3", SMALL)
        assert registry.get("flood") is None and registry.get("person") is person and registry.get("newcomer") is newcomer
        assert "closed to make room for a newcomer" in (registry.why_gone("flood") or "")
        assert registry.why_gone("newcomer") is None
        clock.now += 601
        assert await registry.sweep() == 2  # no turn for 601 s: the person's and the newcomer's chats expire
        assert "closed after 10 minutes without a message" in (registry.why_gone("person") or "")
    finally:
        await registry.close_all()


async def test_a_page_that_went_away_is_taken_back_by_its_token_within_the_resume_window(settings: Any) -> None:
    """A reload keeps the dialogue: the chat waits for a page with its resume token, under that page's
    key; a reload does not count as use (the idle clock runs on); past the window the chat is closed."""
    clock = Clock()
    limits = ClientLimits(LimitSettings(idle_timeout_s=600, resume_window_s=120), clock=clock)
    registry = SessionRegistry(settings, limits)
    try:
        chat = await registry.create("page-1", "10.0.0.1", SMALL)
        await take_a_turn(chat)
        assert await registry.resume("made-up", "page-2", "10.0.0.1") is None
        assert await registry.resume(chat.resume_token, "page-2", "10.0.0.1") is None  # page-1 is open: another tab

        registry.detach("page-1")  # the page reloads
        clock.now += 500
        assert await registry.resume(chat.resume_token, "page-2", "10.0.0.1") is chat
        assert registry.get("page-1") is None and registry.get("page-2") is chat and len(registry) == 1
        assert limits.snapshot()["sessions"] == 1
        clock.now += 101  # 601 s since the person's last turn: the reload did not keep it alive
        assert await registry.sweep() == 1 and registry.get("page-2") is None

        closed = await registry.create("page-3", "10.0.0.1", SMALL)
        registry.detach("page-3")  # a tab closed for good
        clock.now += 119
        assert await registry.sweep() == 0
        clock.now += 2
        assert await registry.sweep() == 1
        assert await registry.resume(closed.resume_token, "page-4", "10.0.0.1") is None  # too late: a new chat
    finally:
        await registry.close_all()
