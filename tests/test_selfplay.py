"""Self-play against simulated persuadees: complete runs, kills and resumes, and summaries that match scipy."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import proportion_confint

from gdp_zero.evaluation.summary import summarize_run
from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import DialogueRecord, TurnRecord, append_record, load_records
from gdp_zero.evaluation.jobs import RunMismatch
from gdp_zero.selfplay import SelfPlayRun, run_selfplay

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
DIALOGUES = 20
MAX_TURNS = 4
SEARCH_FLAGS = ["--sims", "3", "--realizations", "2", "--prior-samples", "3", "--value-samples", "3"]
PERSONAS = load_personas([PERSONAS_DIR])
EXPECTED_IDS = {f"{PERSONAS[i % len(PERSONAS)].id}-{i:04d}" for i in range(DIALOGUES)}


def selfplay_command(base_url: str, out: Path, planner: str, concurrency: int = 4) -> list[str]:
    return [
        sys.executable, "-m", "gdp_zero.cli", "selfplay", "--base-url", base_url, "--api-key", "sk-test",
        "--model", "fake-model", "--planner", planner, *SEARCH_FLAGS, "--dialogues", str(DIALOGUES),
        "--max-turns", str(MAX_TURNS), "--parallel", str(concurrency), "--out", str(out),
    ]


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_two_planners_play_20_dialogues_survive_a_kill_and_summarize_like_scipy(tmp_path: Path):
    gdpzero_out, prompting_out = tmp_path / "gdpzero.jsonl", tmp_path / "prompting.jsonl"
    with FakeLLMServer(latency_s=0.03) as server:
        # The search run is killed (SIGKILL) once some dialogues are on disk, then run again.
        process = subprocess.Popen(selfplay_command(server.base_url, gdpzero_out, "gdpzero", concurrency=2),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        deadline = time.monotonic() + 120
        while len(lines_of(gdpzero_out)) < 4 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        before_kill = lines_of(gdpzero_out)
        assert 4 <= len(before_kill) < DIALOGUES, "the run should have been killed halfway"
        # A kill in the middle of a write leaves half a line; the resumed run must cut it off and redo it.
        cut = json.loads(before_kill[-1])
        with open(gdpzero_out, "a") as runs:
            runs.write(json.dumps(cut | {"id": "torn"})[:200])

        resumed = subprocess.run(selfplay_command(server.base_url, gdpzero_out, "gdpzero"),
                                 capture_output=True, text=True, timeout=300, env=ENV)
        assert resumed.returncode == 0, resumed.stderr
        assert f"({len(before_kill) - 1} were already there)" in resumed.stdout  # the first line is the run's header
        baseline = subprocess.run(selfplay_command(server.base_url, prompting_out, "prompting"),
                                  capture_output=True, text=True, timeout=300, env=ENV)
        assert baseline.returncode == 0, baseline.stderr

    # The progress bar ran to the end and showed the success so far.
    for result in (resumed, baseline):
        assert re.search(rf"{DIALOGUES}/{DIALOGUES} \[.*success \d+/{DIALOGUES}", result.stderr), result.stderr[-500:]

    # Nothing repeated, nothing lost, the dialogues finished before the kill kept as they were.
    after = lines_of(gdpzero_out)
    assert after[: len(before_kill)] == before_kill
    for path in (gdpzero_out, prompting_out):
        records = load_records(path)
        assert len(records) == DIALOGUES and {r.id for r in records} == EXPECTED_IDS
        for record in records:
            assert record.source == "selfplay" and record.condition == path.stem
            assert record.end_reason in ("success", "turn_limit")
            assert record.turns[-1].speaker == "user"  # every persuader turn was answered
            system_turns = [t for t in record.turns if t.speaker == "system"]
            assert len(system_turns) <= MAX_TURNS and (record.end_reason == "success" or len(system_turns) == MAX_TURNS)
            assert record.meta["exchanges"] == len(system_turns) and record.meta["max_exchanges"] == MAX_TURNS
            assert record.persona["id"] == record.id.rsplit("-", 1)[0]
            assert all(t.usage and sum(u["calls"] for u in t.usage.values()) >= 1 for t in record.turns)
            assert record.planner["planner"] == path.stem

    summary = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "selfplay", "summarize", str(gdpzero_out), str(prompting_out)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )
    assert summary.returncode == 0, summary.stderr
    counts = {}
    for path in (gdpzero_out, prompting_out):
        records = load_records(path)
        counts[path.stem] = sum(r.end_reason == "success" for r in records)
        low, high = proportion_confint(counts[path.stem], DIALOGUES, alpha=0.05, method="wilson")
        row = next(line for line in summary.stdout.splitlines() if line.startswith(f"| {path.stem} |"))
        assert f"{counts[path.stem]}/{DIALOGUES} = {counts[path.stem] / DIALOGUES:.1%} [{low:.1%}, {high:.1%}]" in row
        s = summarize_run(path.stem, records)
        assert s.ci_low == pytest.approx(low, abs=1e-9) and s.ci_high == pytest.approx(high, abs=1e-9)
        turns = [len([t for t in r.turns if t.speaker == "system"]) if r.end_reason == "success" else MAX_TURNS
                 for r in records]
        assert s.average_turns == pytest.approx(sum(turns) / DIALOGUES)
        assert s.success_by_turn[-1] == pytest.approx(counts[path.stem] / DIALOGUES)
    table = [[counts["gdpzero"], DIALOGUES - counts["gdpzero"]], [counts["prompting"], DIALOGUES - counts["prompting"]]]
    odds, p_value = fisher_exact(table)
    assert f"gdpzero vs prompting: odds ratio {odds:.3g}, p = {p_value:.4g}" in summary.stdout


async def test_resuming_with_other_planner_settings_is_refused(fake_server, make_settings, tmp_path: Path):
    client = LLMClient(make_settings(fake_server.base_url))
    search = GDPZeroConfig(simulations=2, realizations=1, prior_samples=2, value_samples=2)
    run = SelfPlayRun("r", tmp_path / "r.jsonl", tuple(PERSONAS[:2]), 2, ChatOptions(search=search, max_exchanges=2))
    try:
        await run_selfplay(run, client)
        again = await run_selfplay(run, client)
        assert again.skipped == 2 and again.done == 2
        changed = SelfPlayRun("r", run.out, run.personas, 2, ChatOptions(search=GDPZeroConfig(simulations=3), max_exchanges=2))
        with pytest.raises(RunMismatch, match="simulations: file 2, now 3"):
            await run_selfplay(changed, client)
        longer = SelfPlayRun("r", run.out, run.personas, 2, ChatOptions(search=search, max_exchanges=4))
        with pytest.raises(RunMismatch, match="max_exchanges: file 2, now 4"):
            await run_selfplay(longer, client)
    finally:
        await client.aclose()
    assert len(load_records(run.out)) == 2


async def test_dialogues_share_one_request_limit_and_keep_their_own_usage(make_settings, tmp_path: Path):
    with FakeLLMServer(latency_s=0.02) as server:
        client = LLMClient(make_settings(server.base_url, max_concurrency=5))
        search = GDPZeroConfig(simulations=4, realizations=1, prior_samples=2, value_samples=2, concurrency=4)
        run = SelfPlayRun("r", tmp_path / "r.jsonl", tuple(PERSONAS), 6, ChatOptions(search=search, max_exchanges=3),
                          concurrency=6)
        try:
            await run_selfplay(run, client)
        finally:
            await client.aclose()
        assert server.stats.max_in_flight == 5  # 6 dialogues x 4 simulations wanted more; the client's limit held
    records = load_records(run.out)
    assert client.ledger.total().calls == 0  # every call went to a dialogue's own ledger
    for record in records:
        planner_calls = sum(u["calls"] for t in record.turns if t.speaker == "system" for u in t.usage.values())
        assert planner_calls == record.usage["session"]["total"]["calls"]  # the record's ledger holds its turns only
        assert all(set(t.usage) == {"user_simulator"} for t in record.turns if t.speaker == "user")


async def test_a_heard_message_keeps_its_act_without_tagging_and_waits_for_retry(fake_server, make_settings):
    from gdp_zero.factory import build_session
    from gdp_zero.session import MessageRejected

    session = build_session(make_settings(fake_server.base_url), ChatOptions(planner="prompting"))
    try:
        with pytest.raises(RuntimeError, match="has not started"):
            session.hear("Hello", "neutral")
        await session.open()
        calls = session.client.ledger.total().calls
        session.hear("Maybe, tell me more.", "neutral", "no_brackets")
        assert session.client.ledger.total().calls == calls  # no tagging call
        assert session.end_reason is None and session.log[-1].tag_fallback == "no_brackets"
        with pytest.raises(MessageRejected, match="no reply yet"):
            session.hear("Again", "neutral")
        await session.retry()
        assert [t.speaker for t in session.log] == ["system", "user", "system"]
        # A heard donation ends the dialogue: nothing is left to reply to.
        session.hear("Fine, I'll give a dollar.", "donate")
        assert session.end_reason == "success"
        with pytest.raises(MessageRejected, match="nothing to retry"):
            await session.retry()
    finally:
        await session.aclose()


async def test_resuming_with_another_model_or_persona_set_is_refused_naming_the_fields(fake_server, make_settings, tmp_path: Path):
    search = GDPZeroConfig(simulations=2, realizations=1, prior_samples=2, value_samples=2)
    run = SelfPlayRun("r", tmp_path / "r.jsonl", tuple(PERSONAS[:2]), 2, ChatOptions(search=search, max_exchanges=2))
    client = LLMClient(make_settings(fake_server.base_url))
    try:
        await run_selfplay(run, client)
    finally:
        await client.aclose()
    written = run.out.read_text()
    header = json.loads(written.splitlines()[0])["run_header"]
    assert header["run"] == "r" and header["conditions"]["llm.responder.model"] == "fake-model"
    assert header["conditions"]["planner.simulations"] == 2 and header["conditions"]["domain.max_exchanges"] == 2
    assert re.fullmatch(r"[0-9a-f]{64}", header["conditions"]["personas.sha256"])
    assert "sk-test" not in written  # endpoints are recorded, keys never
    assert len(load_records(run.out)) == 2  # readers skip the header

    other_model = LLMClient(make_settings(fake_server.base_url, model="other-model"))
    try:
        with pytest.raises(RunMismatch, match=r"llm\.responder\.model: file 'fake-model', now 'other-model'"):
            await run_selfplay(run, other_model)
    finally:
        await other_model.aclose()
    client = LLMClient(make_settings(fake_server.base_url))
    try:
        # Another persona set, or the same ids with another description: the content differs.
        for personas in (PERSONAS[2:4], (PERSONAS[0].model_copy(update={"description": "Someone else entirely."}), PERSONAS[1])):
            with pytest.raises(RunMismatch, match=r"personas\.sha256: file '[0-9a-f]{64}', now '[0-9a-f]{64}'"):
                await run_selfplay(replace(run, personas=tuple(personas)), client)
        longer = replace(run, options=ChatOptions(search=search, max_exchanges=4))
        with pytest.raises(RunMismatch, match=r"domain\.max_exchanges: file 2, now 4"):
            await run_selfplay(longer, client)
        # The same condition under another run name is another run, in the same file.
        await run_selfplay(replace(run, name="r2", personas=tuple(PERSONAS[2:4])), client)
    finally:
        await client.aclose()
    assert run.out.read_text().startswith(written)  # the refusals appended nothing
    assert sorted(r.condition for r in load_records(run.out)) == ["r", "r", "r2", "r2"]


def test_out_must_be_a_jsonl_file_and_summarize_refuses_a_chat_transcript(tmp_path: Path):
    def selfplay(out: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gdp_zero.cli", "selfplay", "--llm", "fake", "--dialogues", "1",
                               "--max-turns", "1", *SEARCH_FLAGS, "--out", str(out)],
                              capture_output=True, text=True, timeout=120, env=ENV)

    for out, problem in ((tmp_path, "is a folder"), (tmp_path / "x.json", "must end in .jsonl")):
        done = selfplay(out)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and problem in done.stderr, done.stderr
        assert done.stderr.startswith(f"error: {out}: ")
    assert list(tmp_path.iterdir()) == []  # nothing written
    transcript = tmp_path / "chat.json"
    subprocess.run([sys.executable, "-m", "gdp_zero.cli", "chat", "--llm", "fake", "--sims", "2", "--realizations", "1",
                    "--save", str(transcript)], input="Hello\n/quit\n", capture_output=True, text=True, timeout=120, env=ENV)
    done = subprocess.run([sys.executable, "-m", "gdp_zero.cli", "selfplay", "summarize", str(transcript)],
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "is a chat record, not self-play" in done.stderr


def test_a_resume_reads_the_run_header_as_a_record_a_newer_key_ignored_a_wrong_value_named(fake_server, tmp_path: Path):
    out = tmp_path / "runs.jsonl"

    def selfplay() -> subprocess.CompletedProcess[str]:  # one server throughout: its address is a run condition
        return subprocess.run([sys.executable, "-m", "gdp_zero.cli", "selfplay", "--base-url", fake_server.base_url,
                               "--api-key", "sk-test", "--model", "fake-model", "--dialogues", "1", "--max-turns", "1",
                               *SEARCH_FLAGS, "--name", "r", "--out", str(out)],
                              capture_output=True, text=True, timeout=120, env=ENV)

    assert selfplay().returncode == 0
    first, *records = out.read_text().splitlines(keepends=True)
    header = json.loads(first)["run_header"]

    def with_header(value: object) -> None:
        out.write_text(json.dumps({"run_header": value}) + "\n" + "".join(records))

    with_header(header | {"written_by": "a newer gdp-zero"})
    done = selfplay()
    assert done.returncode == 0 and "(1 were already there)" in done.stdout, done.stderr
    for value, field in ((header | {"conditions": ["x"]}, "conditions"), (5, "run_header")):
        with_header(value)
        done = selfplay()
        last = done.stderr.splitlines()[-1]
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert last.startswith(f"error: {out}:1") and field in last, last


def test_summarize_draws_success_by_round_and_stops_quietly_when_its_reader_does(tmp_path: Path):
    runs = tmp_path / "runs.jsonl"
    for index, rounds in enumerate([1, 2, 2, 3]):
        turns = []
        for k in range(rounds):
            turns += [TurnRecord("system", "logical appeal", "It helps."), TurnRecord("user", "donate" if k == rounds - 1 else "neutral", "OK.")]
        append_record(runs, DialogueRecord(id=f"d{index}", source="selfplay", domain="p4g", turns=tuple(turns), outcome=1.0,
                                           end_reason="success", condition="run", meta={"max_exchanges": 3}))
    command = [sys.executable, "-m", "gdp_zero.cli", "selfplay", "summarize", str(runs), "--figure", str(tmp_path / "f.html")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "f.html").read_text(encoding="utf-8")
    assert "run (n = 4 dialogues)" in page and "plotly.js v" in page
    assert '"y":[0.25,0.75,1.0]' in page.replace(" ", "")  # succeeded by round 1, 2, 3: 1, 3 and 4 of 4
    # `summarize RUNS | head` with head gone before anything is written: no traceback, a non-zero exit.
    reader = subprocess.Popen(command[:-2], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
    reader.stdout.close()
    assert reader.wait(timeout=120) == 141 and reader.stderr.read() == b""


def test_a_demo_run_resumes_though_the_built_in_server_starts_on_another_port(tmp_path: Path):
    out = tmp_path / "demo.jsonl"

    def selfplay(dialogues: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gdp_zero.cli", "selfplay", "--llm", "fake", "--dialogues", str(dialogues),
                               "--max-turns", "1", *SEARCH_FLAGS, "--out", str(out)],
                              capture_output=True, text=True, timeout=120, env=ENV)

    assert selfplay(1).returncode == 0
    done = selfplay(2)
    assert done.returncode == 0 and "(1 were already there)" in done.stdout, done.stderr
    header = json.loads(out.read_text().splitlines()[0])["run_header"]["conditions"]
    assert header["llm.policy.base_url"] == "built-in fake server"  # not its port, which changes at every start
    assert len(load_records(out)) == 2
