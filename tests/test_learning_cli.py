"""The command line of issue 23: `selfplay --memory FILE` and `traces RUNS --format ... --out FILE`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from gdp_zero.cli import main
from gdp_zero.records import load_records
from gdp_zero.traces import CHAT_SCHEMA

SMALL = ["--llm", "fake", "--sims", "3", "--realizations", "1", "--prior-samples", "3", "--value-samples", "3",
         "--max-turns", "3", "--parallel", "1"]


def test_selfplay_with_memory_then_traces_of_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    runs, memory, train = tmp_path / "runs.jsonl", tmp_path / "memory.sqlite", tmp_path / "train.jsonl"
    assert main(["selfplay", *SMALL, "--dialogues", "3", "--memory", str(memory), "--out", str(runs)]) == 0
    out = capsys.readouterr().out
    with sqlite3.connect(memory) as db:
        (stored,) = db.execute("SELECT count(*) FROM lessons").fetchone()
    assert stored > 0 and f"{stored} lessons added to {memory}." in out
    assert all(r.meta["memory"]["file"] == str(memory) for r in load_records(runs))

    # Resuming with the memory dropped is another condition: refused, nothing written.
    before = runs.read_text()
    assert main(["selfplay", *SMALL, "--dialogues", "4", "--out", str(runs)]) == 2
    assert "memory" in capsys.readouterr().err and runs.read_text() == before

    assert main(["traces", str(runs), "--format", "exploratory", "--out", str(train)]) == 0
    lines = train.read_text().splitlines()
    planned = sum(t.planned is not None for r in load_records(runs) for t in r.turns)
    assert f"{planned} exploratory lines from 3 dialogues" in capsys.readouterr().out and len(lines) == planned
    for line in lines:
        jsonschema.validate(json.loads(line), CHAT_SCHEMA)

    # A saved transcript (.json, as the chat app and the terminal save one) gives the same lines as its run's record.
    first = load_records(runs)[0]
    saved, from_transcript, from_run = tmp_path / "chat.json", tmp_path / "t.jsonl", tmp_path / "r.jsonl"
    saved.write_text(json.dumps(first.to_dict()))
    (tmp_path / "one.jsonl").write_text(json.dumps(first.to_dict()) + "\n")
    assert main(["traces", str(saved), "--format", "imitation", "--out", str(from_transcript)]) == 0
    assert main(["traces", str(tmp_path / "one.jsonl"), "--format", "imitation", "--out", str(from_run)]) == 0
    assert from_transcript.read_text() == from_run.read_text()
    assert len(from_transcript.read_text().splitlines()) == sum(t.planned is not None for t in first.turns) > 0


def test_memory_needs_the_search_planner(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as stopped:
        main(["selfplay", "--llm", "fake", "--planner", "prompting", "--memory", str(tmp_path / "m.sqlite"),
              "--out", str(tmp_path / "r.jsonl")])
    assert stopped.value.code == 2
    assert "argument --memory: lessons guide the gdpzero planner's search, not prompting" in capsys.readouterr().err
    assert not (tmp_path / "m.sqlite").exists()


def test_traces_refuses_to_overwrite_a_source_and_names_a_missing_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    runs = tmp_path / "runs.jsonl"
    runs.write_text("")
    assert main(["traces", str(runs), "--out", str(runs)]) == 2
    assert "is one of the sources" in capsys.readouterr().err
    assert main(["traces", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "t.jsonl")]) == 2
    assert "nope.jsonl: no such file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.jsonl"]  # no training file, whole or half


def test_the_value_flags_reach_the_planner_and_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    runs = tmp_path / "runs.jsonl"
    assert main(["selfplay", *SMALL, "--dialogues", "1", "--value", "debate", "--debate-rounds", "2", "--out", str(runs)]) == 0
    (record,) = load_records(runs)
    assert record.planner["value"] == "debate" and record.planner["debate_rounds"] == 2
    planned = [t.planned for t in record.turns if t.planned is not None]
    assert sum(p.usage.get("advocate", {}).get("calls", 0) for p in planned) > 0
    assert all("judge" not in p.usage for p in planned)
    for flags, named in ((["--value", "vote"], "--value"), (["--debate-rounds", "0"], "--debate-rounds")):
        with pytest.raises(SystemExit):
            main(["selfplay", "--llm", "fake", *flags, "--out", str(tmp_path / "x.jsonl")])
        assert f"argument {named}:" in capsys.readouterr().err
