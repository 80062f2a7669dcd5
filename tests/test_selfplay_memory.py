"""Self-play with a reflection memory: lessons reflected, stored once, recalled, and kept once across a kill."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.prompt import Prompt
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import load_records
from gdp_zero.roles.prompts import lessons_preamble
from gdp_zero.selfplay import SelfPlayRun, run_selfplay

PERSONAS = tuple(load_personas([PERSONAS_DIR]))
PREAMBLE = lessons_preamble(["x"]).split("\n")[0]  # the line that introduces recalled lessons in a prompt
SEARCH = GDPZeroConfig(simulations=3, realizations=1, prior_samples=3, value_samples=3, seed=0)


def lesson_rows(path: Path) -> list[tuple[str, int, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT dialogue_id, ordinal, text FROM lessons ORDER BY dialogue_id, ordinal").fetchall()


def carried_lessons(out: Path) -> list[tuple[str, int, str]]:
    """The lessons the run's records carry, as the store should hold them."""
    return sorted(
        (record.id, ordinal, text)
        for record in load_records(out)
        for ordinal, text in enumerate(record.meta["memory"]["lessons"])
    )


async def test_lessons_are_reflected_stored_and_recalled_by_later_dialogues(make_settings, fake_server, tmp_path, monkeypatch):
    memory = tmp_path / "memory.sqlite"
    client = LLMClient(make_settings(fake_server.base_url))
    prompts: list[tuple[str, str]] = []  # (role, the prompt's text) of every generation, in order
    generate = LLMClient.generate

    async def recorded(self: LLMClient, role: str, prompt: Prompt, *args: Any, **kwargs: Any) -> list[str]:
        prompts.append((role, prompt.system + prompt.user + prompt.completion))
        return await generate(self, role, prompt, *args, **kwargs)

    monkeypatch.setattr(LLMClient, "generate", recorded)
    options = ChatOptions(search=SEARCH, max_exchanges=3, memory=memory)
    run = SelfPlayRun("mem", tmp_path / "runs.jsonl", PERSONAS[:2], 4, options, concurrency=1)
    try:
        progress = await run_selfplay(run, client)
    finally:
        await client.aclose()
    records = sorted(load_records(run.out), key=lambda r: r.meta["index"])
    assert progress.lessons_added == len(lesson_rows(memory)) == len(carried_lessons(run.out)) > 0
    assert lesson_rows(memory) == carried_lessons(run.out)
    assert records[0].meta["memory"]["lessons_at_start"] == 0
    assert records[0].meta["memory"]["usage"]["reflection"]["calls"] == 1
    assert records[0].planner["memory"]["file"] == str(memory)
    # The third dialogue (the first persona again) recalled the first one's lesson at its later turns.
    recalled = [t.planned.tree["lessons"] for t in records[2].turns if t.planned is not None]
    assert recalled[0] == []  # the opening: the persuadee has not spoken yet
    assert any(lesson["from"] == records[0].id for turn in recalled[1:] for lesson in turn)
    assert all(t.planned.usage.get("embedding", {}).get("calls") == 1 for t in records[2].turns[2:] if t.planned)
    # A recalled lesson went into the prompts of both roles it guides: the policy prior and the responder.
    texts = {lesson["text"] for turn in recalled for lesson in turn}
    for role in ("policy", "responder"):
        advised = [text for r, text in prompts if r == role and PREAMBLE in text]
        assert advised and all(any(lesson in text for lesson in texts) for text in advised), role
    assert not any(PREAMBLE in text for r, text in prompts if r not in ("policy", "responder"))


async def test_without_memory_nothing_is_recalled_reflected_or_embedded(make_settings, fake_server, tmp_path):
    client = LLMClient(make_settings(fake_server.base_url))
    run = SelfPlayRun("plain", tmp_path / "runs.jsonl", PERSONAS[:2], 2, ChatOptions(search=SEARCH, max_exchanges=2))
    try:
        progress = await run_selfplay(run, client)
    finally:
        await client.aclose()
    assert progress.lessons_added == 0
    assert "/v1/embeddings" not in fake_server.stats.requests
    for record in load_records(run.out):
        assert "memory" not in record.meta and "memory" not in (record.planner or {})
        assert all("lessons" not in t.planned.tree for t in record.turns if t.planned is not None)
        assert all("reflection" not in (t.planned.usage if t.planned else {}) for t in record.turns)


async def test_a_record_saved_before_its_lessons_gets_them_on_resume_once(make_settings, fake_server, tmp_path):
    memory = tmp_path / "memory.sqlite"
    client = LLMClient(make_settings(fake_server.base_url))
    run = SelfPlayRun("mem", tmp_path / "runs.jsonl", PERSONAS[:2], 2,
                      ChatOptions(search=SEARCH, max_exchanges=2, memory=memory), concurrency=1)
    try:
        await run_selfplay(run, client)
        with sqlite3.connect(memory) as db:  # as if killed between appending the record and storing its lessons
            lost = db.execute("DELETE FROM lessons WHERE dialogue_id = ?", (load_records(run.out)[-1].id,)).rowcount
        resumed = await run_selfplay(run, client)
        again = await run_selfplay(run, client)
    finally:
        await client.aclose()
    assert lost > 0 and resumed.lessons_added == lost and again.lessons_added == 0
    assert lesson_rows(memory) == carried_lessons(run.out)


CHILD = """
import asyncio, sys
from pathlib import Path
from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.settings import EndpointSettings, LLMSettings
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.selfplay import SelfPlayRun, run_selfplay

base_url, out, memory = sys.argv[1:4]
search = GDPZeroConfig(simulations=3, realizations=1, prior_samples=3, value_samples=3, seed=0)
run = SelfPlayRun("mem", Path(out), tuple(load_personas([PERSONAS_DIR])), 8,
                  ChatOptions(search=search, max_exchanges=3, memory=Path(memory)), concurrency=2)
client = LLMClient(LLMSettings(default=EndpointSettings(model="fake-model", base_url=base_url, api_key="sk-test")))
progress = asyncio.run(run_selfplay(run, client))
print(progress.lessons_added, progress.skipped)
"""


def test_a_killed_run_resumes_without_adding_the_same_lessons_twice(tmp_path: Path):
    out, memory = tmp_path / "runs.jsonl", tmp_path / "memory.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    with FakeLLMServer(latency_s=0.02) as server:
        command = [sys.executable, "-c", CHILD, server.base_url, str(out), str(memory)]
        child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(_records_in(out)) < 3:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed_at = len(_records_in(out))
        assert 3 <= killed_at < 8, "the kill should land mid-run"
        stored_at_kill = len(lesson_rows(memory))
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
    added, skipped = map(int, finished.stdout.split())
    assert skipped == killed_at
    rows = lesson_rows(memory)
    assert rows == carried_lessons(out)  # every record's lessons, each once
    assert len({(d, o) for d, o, _ in rows}) == len(rows) and len(load_records(out)) == 8
    assert added == len(rows) - stored_at_kill > 0  # what the resumed run reports is what it wrote


def _records_in(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip().startswith('{"id"')]
