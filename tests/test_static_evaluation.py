"""The paper's static evaluation on P4G contexts: every judgment saved, order balanced, position bias cancelled."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from scipy.stats import binomtest

from gdp_zero.domain import load_domain
from gdp_zero.evaluation.jobs import RunMismatch, only_writer
from gdp_zero.evaluation.static import (
    StaticEvaluation,
    contexts,
    load_judgments,
    opponent_replies,
    run_static_evaluation,
)
from gdp_zero.evaluation.summary import summarize_judgments
from gdp_zero.factory import ChatOptions
from gdp_zero.llm import fake_server as fake_module
from gdp_zero.llm.client import LLMClient
from gdp_zero.p4g import load_p4g
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import RecordError
from gdp_zero.roles.evaluator import CANT_TELL, comparison_prompt, majority, Vote

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
DOMAIN = load_domain()
SEARCH = GDPZeroConfig(simulations=2, realizations=1, prior_samples=2, value_samples=2)


@pytest.fixture(scope="module")
def three_dialogues(p4g_dir: Path):
    return load_p4g(p4g_dir, DOMAIN).records[:3]


async def evaluate(settings, records, out: Path, **kw) -> list:
    client = LLMClient(settings)
    evaluation = StaticEvaluation(run=out.stem, out=out, options=ChatOptions(search=SEARCH), **kw)
    try:
        await run_static_evaluation(evaluation, records, client)
    finally:
        await client.aclose()
    return load_judgments(out)


async def test_every_context_is_judged_and_saved_with_swap_flag_and_votes(fake_server, make_settings, three_dialogues, tmp_path):
    out = tmp_path / "gdpzero.jsonl"
    judgments = await evaluate(make_settings(fake_server.base_url), three_dialogues, out)
    expected = contexts(three_dialogues, DOMAIN)
    # Every persuader turn after a persuadee turn (or opening the dialogue), counted here from the raw turns.
    persuader_turns = {
        (r.id, i) for r in three_dialogues for i, t in enumerate(r.turns)
        if t.speaker == "system" and (i == 0 or r.turns[i - 1].speaker == "user")
    }
    assert {j.key for j in judgments} == persuader_turns == {c.key for c in expected}
    assert len(judgments) == len(persuader_turns) >= 20
    by_key = {c.key: c for c in expected}
    for j in judgments:
        context = by_key[j.key]
        assert j.opponent == "human" and j.opponent_reply == context.text and j.opponent_act == context.act
        assert len(j.votes) == len(j.choices) == 5 and all(c in ("A", "B", CANT_TELL) for c in j.choices)
        winner = majority([Vote(raw, choice, None) for raw, choice in zip(j.votes, j.choices)])
        planner_letter = "B" if j.swapped else "A"
        assert j.verdict == ("draw" if winner == CANT_TELL else "win" if winner == planner_letter else "lose")
        assert j.planner_reply and j.planner_act in DOMAIN.legal_system_acts(context.history)
        assert j.planner_turn["settings"]["simulations"] == 2 and j.judge_usage["evaluator"]["calls"] == 1
    # Which reply is shown first is balanced: a binomial test does not reject one half.
    shown_first = sum(not j.swapped for j in judgments)
    assert binomtest(shown_first, len(judgments), 0.5).pvalue > 0.05

    # Resumable: nothing is judged twice; a context lost to a kill (its line torn) is judged again.
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:100])
    again = await evaluate(make_settings(fake_server.base_url), three_dialogues, out)
    assert len(again) == len(judgments) and {j.key for j in again} == {j.key for j in judgments}
    assert out.read_text().splitlines()[:-1] == lines[:-1]
    # Resuming with another search, or against another opponent, would mix two runs in one file.
    client = LLMClient(make_settings(fake_server.base_url))
    try:
        other_search = StaticEvaluation(run=out.stem, out=out, options=ChatOptions(search=replace(SEARCH, simulations=3)))
        with pytest.raises(RunMismatch, match="simulations: file 2, now 3"):
            await run_static_evaluation(other_search, three_dialogues, client)
        other_opponent = StaticEvaluation(run=out.stem, out=out, options=ChatOptions(search=SEARCH), against={},
                                          against_name="someone")
        with pytest.raises(RunMismatch, match="judge.against: file 'human', now 'someone'"):
            await run_static_evaluation(other_opponent, three_dialogues, client)
    finally:
        await client.aclose()


async def test_resuming_with_other_judge_settings_or_dialogues_is_refused_naming_the_fields(
    fake_server, make_settings, three_dialogues, tmp_path
):
    out = tmp_path / "judged.jsonl"
    await evaluate(make_settings(fake_server.base_url), three_dialogues[:1], out, votes=3)
    written = out.read_text()
    conditions = json.loads(written.splitlines()[0])["run_header"]["conditions"]
    assert (conditions["judge.votes"], conditions["judge.order_seed"], conditions["judge.dialogues"]) == (3, 0, 1)
    assert conditions["llm.evaluator.model"] == "fake-model"
    changes = [
        ({"votes": 5}, three_dialogues[:1], r"judge\.votes: file 3, now 5"),
        ({"votes": 3, "seed": 1}, three_dialogues[:1], r"judge\.order_seed: file 0, now 1"),
        ({"votes": 3}, three_dialogues[:2], r"judge\.dialogues: file 1, now 2"),
    ]
    for settings, records, problem in changes:
        with pytest.raises(RunMismatch, match=problem):
            await evaluate(make_settings(fake_server.base_url), records, out, **settings)
    with pytest.raises(RunMismatch, match=r"llm\.evaluator\.model: file 'fake-model', now 'judge-2'"):
        await evaluate(make_settings(fake_server.base_url, model="judge-2"), three_dialogues[:1], out, votes=3)
    assert out.read_text() == written  # nothing judged under the other settings
    again = await evaluate(make_settings(fake_server.base_url), three_dialogues[:1], out, votes=3)
    assert len(again) == len(written.splitlines()) - 1 and out.read_text() == written  # the same settings resume


def test_against_a_runs_file_says_what_it_is(tmp_path: Path):
    runs = tmp_path / "runs.jsonl"
    runs.write_text(json.dumps({"id": "d1", "source": "selfplay", "domain": "p4g", "turns": [], "schema_version": 1}) + "\n")
    with pytest.raises(RecordError, match=r"runs\.jsonl:1: a dialogue record .*not a judgment: give a judgments file"):
        load_judgments(runs)


async def test_a_second_evaluation_on_the_same_file_is_refused_while_the_first_writes(
    fake_server, make_settings, three_dialogues, tmp_path
):
    out = tmp_path / "judged.jsonl"
    with only_writer(out, "evaluation"):  # the first run, holding the file
        with pytest.raises(RunMismatch, match="another evaluation is writing this file"):
            await evaluate(make_settings(fake_server.base_url), three_dialogues, out)
    assert out.read_text() == ""  # nothing judged twice, nothing interleaved


async def test_a_judge_that_always_answers_a_wins_half_the_time(fake_server, make_settings, three_dialogues, tmp_path, monkeypatch):
    canned = fake_module.canned_reply

    def always_a(prompt: str, rng: random.Random) -> str:
        return "[A]" if f"[{CANT_TELL}]" in prompt else canned(prompt, rng)

    monkeypatch.setattr(fake_module, "canned_reply", always_a)
    judgments = await evaluate(make_settings(fake_server.base_url), three_dialogues, tmp_path / "always-a.jsonl")
    assert all(j.choices == ["A"] * 5 for j in judgments)
    summary = summarize_judgments(judgments)
    # The verdict follows the order, not the replies: exactly the unswapped contexts are wins.
    assert summary.wins == sum(not j.swapped for j in judgments) and summary.losses == sum(j.swapped for j in judgments)
    assert summary.draws == 0 and summary.judge_chose_a == len(judgments)
    assert 0.3 < summary.win_rate < 0.7 and summary.ci_low < 0.5 < summary.ci_high  # near 50%, not 100%


async def test_against_another_run_compares_with_its_replies(fake_server, make_settings, three_dialogues, tmp_path):
    first = await evaluate(make_settings(fake_server.base_url), three_dialogues[:1], tmp_path / "first.jsonl")
    name, theirs = opponent_replies(first, "first.jsonl")
    assert name == "first"
    second = await evaluate(make_settings(fake_server.base_url), three_dialogues[:1], tmp_path / "second.jsonl",
                            against=theirs, against_name="first")
    assert {j.key for j in second} == set(theirs)
    for j in second:
        assert j.opponent == "first" and (j.opponent_act, j.opponent_reply) == theirs[j.key]


def test_an_opponent_file_must_hold_one_run():
    with pytest.raises(RecordError, match="other.jsonl: holds no judgments"):
        opponent_replies([], "other.jsonl")


def test_the_judge_prompt_shows_texts_in_order_and_no_acts():
    history = load_domain().example_dialogue
    prompt = comparison_prompt(DOMAIN, history, "first reply", "second reply")
    assert "A: first reply\nB: second reply" in prompt.user
    assert "[greeting]" not in prompt.user  # acts would tell the judge who wrote which
    assert prompt.user.rstrip().endswith("Allowed acts: [A] [B] [can't tell]\nReply format: [act]")


def test_majority_vote():
    votes = lambda *choices: [Vote(c, c, None) for c in choices]  # noqa: E731
    assert majority(votes("A", "A", "B", CANT_TELL, "A")) == "A"
    assert majority(votes("A", "B", "B", CANT_TELL, CANT_TELL)) == CANT_TELL  # B ties with can't tell
    assert majority(votes("A", "A", "B", "B", CANT_TELL)) == CANT_TELL  # A and B tie


def test_evaluate_command_prints_counts_and_a_win_rate(tmp_path: Path, p4g_dir: Path):
    out = tmp_path / "cli.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "evaluate", "--llm", "fake", "--p4g", str(p4g_dir), "--dialogues", "1",
         "--sims", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=ENV,
    )
    assert result.returncode == 0, result.stderr
    judgments = load_judgments(out)
    s = summarize_judgments(judgments)
    assert f"cli vs human: {len(judgments)} judgments, win {s.wins} / draw {s.draws} / lose {s.losses}" in result.stdout
    assert f"[95% Wilson CI {s.ci_low:.1%}, {s.ci_high:.1%}]" in result.stdout

    baseline = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "evaluate", "--llm", "fake", "--p4g", str(p4g_dir), "--dialogues", "1",
         "--planner", "prompting", "--against", str(out), "--out", str(tmp_path / "prompting.jsonl")],
        capture_output=True, text=True, timeout=300, env=ENV,
    )
    assert baseline.returncode == 0, baseline.stderr
    assert f"prompting vs cli: {len(judgments)} judgments" in baseline.stdout


def test_evaluate_out_a_folder_is_one_line_before_anything_starts(tmp_path: Path, p4g_dir: Path):
    done = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "evaluate", "--llm", "fake", "--p4g", str(p4g_dir), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )
    assert done.returncode == 2 and done.stderr == f"error: {tmp_path}: is a folder; give the file to write, e.g. {tmp_path / 'run.jsonl'}\n"
    assert list(tmp_path.iterdir()) == []
