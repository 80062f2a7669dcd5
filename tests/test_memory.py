"""The reflection memory: embeddings over HTTP, a persisted store, recall by similarity, off by default."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import load_domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.memory.reflection_memory import ReflectionMemory, situation
from gdp_zero.memory.store import LessonStore, NewLesson
from gdp_zero.roles.reflection import parse_reflection
from gdp_zero.validation import ConfigError

DOMAIN = load_domain()


def opening(*persuadee_lines: str) -> Dialogue:
    dialogue = Dialogue()
    for line in persuadee_lines:
        dialogue = dialogue.add("system", "greeting", "Hello!").add("user", "neutral", line)
    return dialogue


NURSE = opening("Fine, thanks. A bit about me: a retired nurse who volunteers at a food bank every week.")
STUDENT = opening("Okay. A bit about me: a graduate student doing this task between classes, short on time.")
ACCOUNTANT = opening("Hmm. A bit about me: an accountant who distrusts charities and their overhead.")


async def test_embeddings_come_from_the_server_and_similar_texts_are_closer(make_settings, fake_server):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    a, b, c = await client.embed("embedding", ["a retired nurse at a food bank", "a nurse who is retired", "tax audit"])
    await client.aclose()
    def dot(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y))

    assert len(a) == 256 and dot(a, a) == pytest.approx(1.0)
    assert dot(a, b) > dot(a, c)
    assert fake_server.stats.requests["/v1/embeddings"] == 1
    assert client.ledger.by_role()["embedding"].calls == 1 and client.ledger.by_role()["embedding"].prompt_tokens > 0


async def test_the_lesson_of_the_most_similar_situation_comes_first_and_survives_a_reopen(make_settings, fake_server, tmp_path):
    path = tmp_path / "memory.sqlite"
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    memory = ReflectionMemory.open(path, client, DOMAIN, k=2)
    for dialogue_id, dialogue, lesson in [
        ("nurse-1", NURSE, "Worked: [self-modeling]."),
        ("student-1", STUDENT, "Worked: [personal story]. Backfired: [logical appeal]."),
        ("accountant-1", ACCOUNTANT, "Worked: [credibility appeal]."),
    ]:
        assert await memory.keep(dialogue_id, dialogue, [lesson], outcome=-1.0) == 1
    memory.store.close()

    reopened = ReflectionMemory.open(path, client, DOMAIN, k=2)
    assert len(reopened.store) == 3
    # A new student, in other words: the student's lesson must come first.
    now = opening("Sure. A bit about me: a graduate student, and my classes start soon.")
    recalled = await reopened.recall(now)
    await client.aclose()
    assert recalled[0].lesson.dialogue_id == "student-1"
    assert recalled[0].lesson.text == "Worked: [personal story]. Backfired: [logical appeal]."
    assert len(recalled) == 2 and recalled[0].similarity > recalled[1].similarity


async def test_a_dialogues_lessons_are_added_once(make_settings, fake_server, tmp_path):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    memory = ReflectionMemory.open(tmp_path / "m.sqlite", client, DOMAIN)
    assert await memory.keep("d-1", NURSE, ["Lesson one.", "Lesson two."], 1.0) == 2
    assert await memory.keep("d-1", NURSE, ["Lesson one.", "Lesson two."], 1.0) == 0
    assert memory.store.add("d-1", [NewLesson("Lesson one.", "x", [1.0] * 256)], 1.0) == 0
    await client.aclose()
    rows = sqlite3.connect(tmp_path / "m.sqlite").execute("SELECT dialogue_id, ordinal, text FROM lessons").fetchall()
    assert rows == [("d-1", 0, "Lesson one."), ("d-1", 1, "Lesson two.")]


def test_the_store_refuses_another_embedding_size_and_a_file_that_is_not_one(tmp_path: Path):
    store = LessonStore(tmp_path / "m.sqlite")
    store.add("d", [NewLesson("L", "s", [0.0, 1.0, 0.0])], None)
    with pytest.raises(ConfigError, match="3-dimensional embeddings, this one has 2"):
        store.search([1.0, 0.0], k=1)
    (tmp_path / "notes.txt").write_text("not a database, just some text " * 100)
    with pytest.raises(ConfigError, match="notes.txt: not a lesson memory file"):
        LessonStore(tmp_path / "notes.txt")


def test_ties_and_k_larger_than_the_store(tmp_path: Path):
    store = LessonStore(tmp_path / "m.sqlite")
    store.add("a", [NewLesson("first", "s", [1.0, 0.0])], None)
    store.add("b", [NewLesson("second", "s", [2.0, 0.0]), NewLesson("away", "s", [0.0, 1.0])], None)
    assert [r.lesson.text for r in store.search([1.0, 0.0], k=10)] == ["first", "second", "away"]
    assert store.search([1.0, 0.0], k=0) == []


def test_the_situation_is_the_persuadees_first_lines():
    assert situation(DOMAIN, Dialogue()) == ""
    four = opening("one", "two", "three", "four")
    assert situation(DOMAIN, four) == "Persuadee: one\nPersuadee: two"


def test_reflections_are_read_from_lesson_lines_only():
    reply = "Thinking...\nLesson: ask after a story.\n- lesson 2: Ask after a story.\nlesson: ask after a story.\nLesson:  x  y "
    assert parse_reflection(reply).lessons == ("ask after a story.", "x y")
    assert parse_reflection("Nothing useful").fallback == "no_lesson" and parse_reflection(None).lessons == ()
