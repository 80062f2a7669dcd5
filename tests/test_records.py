"""The one dialogue record: a chat's transcript round-trips, newer files are refused, torn lines skipped."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.settings import ROLES
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import (
    SCHEMA_VERSION,
    DialogueRecord,
    PlannerTurn,
    RecordError,
    TurnRecord,
    append_record,
    load_records,
    save_record,
)

SMALL_SEARCH = GDPZeroConfig(simulations=3, realizations=2, prior_samples=3, value_samples=3, seed=3)


async def test_a_chat_transcript_is_a_dialogue_record_with_per_turn_settings(fake_server, make_settings, tmp_path):
    session = build_session(make_settings(fake_server.base_url), ChatOptions(planner="gdpzero", search=SMALL_SEARCH))
    try:
        await session.open()
        await session.send("Hello there.")
        # Settings changed mid-dialogue must be recorded on the turns that ran with them.
        session.change_planner("gdpzero", replace(SMALL_SEARCH, simulations=2, q0=0.0))
        await session.send("What does the charity do?")
        record = session.record()
    finally:
        await session.aclose()

    assert record.schema_version == SCHEMA_VERSION and record.source == "chat" and record.app_version
    assert [t.speaker for t in record.turns] == ["system", "user", "system", "user", "system"]
    system_turns = [t for t in record.turns if t.speaker == "system"]
    assert [t.planned.settings["simulations"] for t in system_turns] == [3, 3, 2]
    assert [t.planned.settings["q0"] for t in system_turns] == [0.25, 0.25, 0.0]
    assert set(system_turns[0].planned.settings["models"]) == set(ROLES)
    assert all(t.at for t in record.turns) and record.started_at <= record.turns[-1].at
    assert all(t.usage and sum(u["calls"] for u in t.usage.values()) >= 1 for t in system_turns)

    path = tmp_path / "transcript.json"
    save_record(path, record)
    assert "sk-test-key" not in path.read_text()
    (loaded,) = load_records(path)
    assert loaded == record
    assert loaded.dialogue == session.dialogue


def test_a_newer_schema_is_refused_and_a_broken_field_is_named(tmp_path):
    record = DialogueRecord(id="d1", source="chat", domain="p4g", turns=(TurnRecord("system", "greeting", "Hi"),))
    newer = record.to_dict() | {"schema_version": SCHEMA_VERSION + 1}
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(newer))
    with pytest.raises(RecordError, match="newer than this gdp-zero reads"):
        load_records(path)

    broken = record.to_dict()
    broken["turns"][0]["speaker"] = "persuader"
    path.write_text(json.dumps(broken))
    with pytest.raises(RecordError, match=r"turns\.0\.speaker: input should be 'system' or 'user', got 'persuader'"):
        load_records(path)

    path.write_text(json.dumps({"turns": []}))
    with pytest.raises(RecordError, match="schema_version"):
        load_records(path)


PLANNED = PlannerTurn(planner="gdpzero", act="greeting", reply="Hi", seconds=1.5, simulations=3, settings={"q0": 0.25})
A_RECORD = DialogueRecord(
    id="d1", source="selfplay", domain="p4g", outcome=0.5,
    turns=(TurnRecord("system", "greeting", "Hi", planned=PLANNED), TurnRecord("user", "neutral", "Hello", tag_fallback="unparsed")),
)


def test_a_key_added_by_a_later_version_of_the_same_schema_is_ignored(tmp_path):
    written = A_RECORD.to_dict() | {"rating": 4}
    written["turns"][0] |= {"highlighted": True}
    written["turns"][0]["planner_turn"] |= {"debate": {"rounds": 2}}
    path = tmp_path / "later.jsonl"
    path.write_text(json.dumps(written) + "\n")
    (loaded,) = load_records(path)
    assert loaded == A_RECORD
    assert loaded.turns[0].planned == PLANNED


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda r: r["turns"][0]["planner_turn"].update(seconds="fast"), r"turns\.0\.planner_turn\.seconds: input should be a valid number, got 'fast'"),
        (lambda r: r.update(outcome="lots"), r"outcome: input should be a valid number, got 'lots'"),
        (lambda r: r.update(outcome="0.5"), r"outcome: input should be a valid number, got '0.5'"),  # a number as text is not a number
        (lambda r: r["turns"][1].update(text=3), r"turns\.1\.text: input should be a valid string, got 3"),
        (lambda r: r["turns"][0]["planner_turn"].update(simulations=True), r"turns\.0\.planner_turn\.simulations: input should be a valid integer, got True"),
        (lambda r: r.update(turns={"0": {}}), r"turns: input should be a valid array"),
        (lambda r: r["turns"][0].pop("text"), r"turns\.0\.text: field required"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_file_line_and_field(tmp_path, change, named):
    written = A_RECORD.to_dict()
    change(written)
    path = tmp_path / "runs.jsonl"
    path.write_text(A_RECORD.to_json() + "\n" + json.dumps(written) + "\n")
    with pytest.raises(RecordError, match=f"^{re.escape(str(path))}:2: {named}"):
        load_records(path)


async def test_a_chat_resumes_from_a_record_and_goes_on(fake_server, make_settings):
    first = build_session(make_settings(fake_server.base_url), ChatOptions(planner="gdpzero", search=SMALL_SEARCH))
    try:
        await first.open()
        await first.send("Hello there.")
        kept = DialogueRecord.from_dict(json.loads(first.record().to_json()))  # as a store would keep it
    finally:
        await first.aclose()

    resumed = build_session(make_settings(fake_server.base_url), ChatOptions(planner="gdpzero", search=SMALL_SEARCH))
    try:
        resumed.resume(kept, pending="What does the charity do?")
        assert resumed.dialogue == kept.dialogue and resumed.id == kept.id and resumed.started_at == kept.started_at
        assert resumed.pending == "What does the charity do?"
        planned = await resumed.retry()  # the pending message is tagged, then answered
        record = resumed.record()
    finally:
        await resumed.aclose()
    assert planned is not None and record.turns[: len(kept.turns)] == kept.turns
    assert [t.speaker for t in record.turns] == ["system", "user", "system", "user", "system"]
    assert record.turns[1].usage is None and record.turns[2].usage == kept.turns[2].usage  # the resumed turns keep theirs
    assert record.turns[-1].usage and sum(u["calls"] for u in record.turns[-1].usage.values()) >= 1


def test_reading_records_imports_no_llm_client_planner_or_role() -> None:
    """Records are plain data: a tool that only reads runs files does not load the openai SDK."""
    probe = "import sys, gdp_zero.records; print(sorted(m for m in ('openai', 'gdp_zero.planners', 'gdp_zero.roles', 'gdp_zero.llm.client') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_a_runs_file_skips_a_line_torn_by_a_kill_but_not_a_broken_line_inside(tmp_path):
    runs = tmp_path / "run.jsonl"
    records = [DialogueRecord(id=f"d{i}", source="selfplay", domain="p4g", outcome=float(i % 2)) for i in range(3)]
    for record in records:
        append_record(runs, record)
    whole = runs.read_text()
    runs.write_text(whole + records[0].to_json()[:40])  # a write cut short
    assert [r.id for r in load_records(runs)] == ["d0", "d1", "d2"]

    lines = whole.splitlines()
    runs.write_text("\n".join([lines[0], lines[1][:30], lines[2]]) + "\n")
    with pytest.raises(RecordError, match=r"run.jsonl:2: not a JSON line"):
        load_records(runs)


def test_end_reason_says_why_a_dialogue_is_over():
    domain = load_domain()
    dialogue = Dialogue().add("system", domain.first_act, "Hi").add("user", domain.neutral_user_act, "Hello")
    assert domain.end_reason(dialogue) is None and domain.outcome(dialogue) is None
    donated = dialogue.add("system", "proposition of donation", "Would you donate?").add("user", domain.success_act, "Yes")
    assert domain.end_reason(donated) == "success" and domain.outcome(donated) == 1.0
    long = dialogue
    while long.exchanges < domain.max_exchanges:
        long = long.add("system", "logical appeal", "...").add("user", domain.neutral_user_act, "Hm.")
    assert domain.end_reason(long) == "turn_limit"
    assert domain.outcome(long) == domain.user_act_values[domain.neutral_user_act]
