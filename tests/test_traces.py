"""Search traces as training data: both formats from a recorded self-play run, valid chat-format JSONL."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import load_records
from gdp_zero.selfplay import SelfPlayRun, run_selfplay
from gdp_zero.traces import CHAT_SCHEMA, export_traces

PERSONAS = tuple(load_personas([PERSONAS_DIR]))


@pytest.fixture
async def recorded_run(make_settings, fake_server, tmp_path) -> Path:
    client = LLMClient(make_settings(fake_server.base_url))
    search = GDPZeroConfig(simulations=4, realizations=2, prior_samples=3, value_samples=3, seed=0)
    run = SelfPlayRun("r", tmp_path / "runs.jsonl", PERSONAS[:3], 3, ChatOptions(search=search, max_exchanges=3))
    try:
        await run_selfplay(run, client)
    finally:
        await client.aclose()
    return run.out


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_both_formats_are_valid_chat_jsonl_with_a_line_per_planned_turn(recorded_run: Path, tmp_path: Path):
    records = load_records(recorded_run)
    planned = [(r, i) for r in records for i, t in enumerate(r.turns) if t.planned is not None]
    imitation, exploratory = tmp_path / "imitation.jsonl", tmp_path / "exploratory.jsonl"
    stats = {fmt: export_traces([recorded_run], fmt, out) for fmt, out in
             (("imitation", imitation), ("exploratory", exploratory))}
    lines = {"imitation": read_lines(imitation), "exploratory": read_lines(exploratory)}
    for fmt, examples in lines.items():
        assert stats[fmt].lines == len(examples) == len(planned) and stats[fmt].dialogues == len(records)
        for example in examples:
            jsonschema.validate(example, CHAT_SCHEMA)
            assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
    for (record, index), copy, searched in zip(planned, lines["imitation"], lines["exploratory"]):
        turn = record.turns[index]
        target = f"[{turn.act}] {turn.text}"
        assert copy["messages"][2]["content"] == target
        assert copy["messages"][1] == searched["messages"][1]  # the same context
        # The exploratory target walks the search in simulation order, then gives the same answer.
        trace = searched["messages"][2]["content"].splitlines()
        assert trace[-1] == target and trace[-2].startswith(f"Back up to the root. Choose [{turn.act}]")
        tried = [line for line in trace if line.startswith("Simulation ")]
        assert len(tried) == len(turn.planned.tree["simulations"])
        for line, simulation in zip(tried, turn.planned.tree["simulations"]):
            assert line.endswith(" > ".join(f"[{act}]" for act in simulation["path"]))
        # The context is the dialogue before the turn, not after it.
        before = record.turns[index - 1].text if index else "(the conversation has not started yet)"
        assert before in copy["messages"][1]["content"]


def test_a_line_that_breaks_the_schema_is_caught():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x"}]}, CHAT_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"messages": [{"role": "assistant", "content": ""}], "extra": 1}, CHAT_SCHEMA)


async def test_turns_without_a_search_give_imitation_lines_only(make_settings, fake_server, tmp_path):
    client = LLMClient(make_settings(fake_server.base_url))
    run = SelfPlayRun("p", tmp_path / "p.jsonl", PERSONAS[:1], 1, ChatOptions(planner="prompting", max_exchanges=2))
    try:
        await run_selfplay(run, client)
    finally:
        await client.aclose()
    assert export_traces([run.out], "imitation", tmp_path / "i.jsonl").lines > 0
    assert export_traces([run.out], "exploratory", tmp_path / "e.jsonl").lines == 0
