"""`gdp-zero ui --memory FILE`: a chat that ends leaves its lessons in FILE, the next dialogue recalls them;
without a memory no file is made and nothing is embedded. Driven through the app's session registry on
the real fake server (it serves /v1/embeddings)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gdp_zero.backends import Backend
from gdp_zero.factory import ChatOptions
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.serving.limits import ClientLimits
from ui.sessions import SessionRegistry, UserChat

SEARCH = GDPZeroConfig(simulations=3, realizations=1, prior_samples=2, value_samples=2, seed=0)
OPTIONS = ChatOptions(search=SEARCH)


def lesson_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT dialogue_id, text FROM lessons ORDER BY id").fetchall()


async def chat_to_a_donation(chat: UserChat) -> None:
    """Open the dialogue, answer once, then donate (the fake tagger hears "I'll donate": the dialogue ends)."""
    for start in (chat.open, lambda: chat.send("Hi, who are you collecting for?"), lambda: chat.send("OK, I'll donate $1.")):
        await start()
        assert chat.finish() is not None or chat.session.ending is not None, chat.error
    assert chat.session.ending is not None


async def test_a_finished_chat_leaves_lessons_that_the_next_dialogue_recalls(fake_server, make_settings, tmp_path):
    memory = tmp_path / "lessons.sqlite"
    registry = SessionRegistry(make_settings(fake_server.base_url), ClientLimits(), memory)
    try:
        chat = await registry.create("page-1", "127.0.0.1", OPTIONS)
        await chat_to_a_donation(chat)
        first = chat.session.id
        rows = lesson_rows(memory)
        assert rows and {dialogue for dialogue, _ in rows} == {f"{first}.0"}
        reflections = fake_server.stats.requests.get("/v1/chat/completions", 0)

        # The same dialogue is reflected on once: a finished chat re-checked adds nothing.
        await chat._learn()
        assert lesson_rows(memory) == rows

        # A new dialogue (Restart) recalls them once the persuadee has spoken, and shows them in the turn's tree.
        chat.restart()
        await chat.open()
        chat.finish()
        await chat.send("Hi, who are you collecting for?")
        planned = chat.finish()
        assert planned is not None, chat.error
        recalled = planned.tree["lessons"]
        assert recalled and {lesson["from"] for lesson in recalled} == {f"{first}.0"}
        assert {lesson["text"] for lesson in recalled} <= {text for _, text in rows}
        assert fake_server.stats.requests.get("/v1/chat/completions", 0) > reflections

        # A second page shares the memory, and a planner changed mid-chat still reads it.
        other = await registry.create("page-2", "127.0.0.1", OPTIONS)
        assert other.configure(ChatOptions(search=GDPZeroConfig(simulations=2, realizations=1, prior_samples=2, value_samples=2)))
        await chat_to_a_donation(other)
        assert {d for d, _ in lesson_rows(memory)} == {f"{first}.0", f"{other.session.id}.0"}
        assert other.session.log[-2].planned.tree["lessons"]  # the reply before the donation recalled lessons
    finally:
        await registry.close_all()


async def test_without_memory_no_file_is_made_and_nothing_is_embedded(fake_server, make_settings, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    registry = SessionRegistry(make_settings(fake_server.base_url), ClientLimits())
    try:
        chat = await registry.create("page-1", "127.0.0.1", OPTIONS)
        await chat_to_a_donation(chat)
        assert all("lessons" not in t.planned.tree for t in chat.session.log if t.planned is not None)
    finally:
        await registry.close_all()
    assert "/v1/embeddings" not in fake_server.stats.requests
    assert list(tmp_path.iterdir()) == []


def test_the_page_says_when_memory_is_on(fake_server, make_settings, tmp_path):
    from ui.app import build_app

    backend = Backend("fake", make_settings(fake_server.base_url))
    on = build_app(backend, search=SEARCH, memory=tmp_path / "lessons.sqlite")
    off = build_app(backend, search=SEARCH)
    notes = lambda demo: [b.value for b in demo.blocks.values() if getattr(b, "elem_id", None) == "memory-on"]  # noqa: E731
    assert notes(on) == ["Memory is on: the persuader recalls lessons from earlier chats, and learns from this one when it ends."]
    assert notes(off) == []
    assert not (tmp_path / "lessons.sqlite").exists()  # opened by the first chat, not by building the page
