"""`gdp-zero chat` driven through stdin, as a person at a terminal would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from gdp_zero.llm.fake_server import TEXT_FAULTS, FakeLLMServer
from gdp_zero.text import MAX_LLM_TEXT_CHARS

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}


def run_chat(args: list[str], stdin: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "chat", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, env=ENV,
    )


def test_fake_chat_from_a_script_completes_three_turns_and_prints_acts(tmp_path: Path):
    saved = tmp_path / "transcript.json"
    script = "Hi!\nWhat is Save the Children?\n/undo\nWhy should I give?\nMaybe.\n/quit\n"
    result = run_chat(["--llm", "fake", "--sims", "4", "--save", str(saved)], script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "canned" in out  # the demo is labelled as such
    bot_lines = [line for line in out.splitlines() if line.startswith("Persuader [")]
    assert len(bot_lines) == 1 + 4  # greeting, then one per message (the undone one included)
    assert bot_lines[0].startswith("Persuader [greeting]")
    assert out.count("your message was labelled [") == 4
    assert "Undone." in out
    assert "simulations" in result.stderr  # the progress bar
    transcript = json.loads(saved.read_text())
    assert [t["speaker"] for t in transcript["turns"]] == ["system"] + ["user", "system"] * 3
    assert all(t["act"] for t in transcript["turns"])


def test_a_wrong_api_key_gives_one_line_that_says_what_to_do():
    with FakeLLMServer(api_key="sk-right") as server:
        url = server.base_url
        result = run_chat(["--llm", "openai", "--base-url", url, "--api-key", "sk-wrong-secret"], "Hi\n")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "API key" in lines[0] and url in lines[0]
    assert "sk-wrong-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_an_unreachable_endpoint_gives_one_line_naming_it():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    result = run_chat(["--llm", "openai", "--base-url", url, "--api-key", "x"], "Hi\n")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0]
    assert "Traceback" not in result.stderr


def test_a_broken_config_file_names_the_field(tmp_path: Path):
    config = tmp_path / "llm.toml"
    config.write_text('[llm]\nmodel = "m"\n[llm.roles.judge]\ntemperature = "hot"\n')
    result = run_chat(["--llm", "openai", "--config", str(config)], "")
    assert result.returncode == 2
    assert str(config) in result.stderr and "llm.roles.judge.temperature" in result.stderr


def test_the_gumbel_root_is_chosen_from_the_command_line(tmp_path: Path):
    saved = tmp_path / "transcript.json"
    # No reuse: the greeting's search would otherwise carry all 6 simulations into the answer.
    result = run_chat(["--llm", "fake", "--sims", "6", "--root", "gumbel", "--no-reuse", "--save", str(saved)],
                      "Hi!\n/quit\n")
    assert result.returncode == 0, result.stderr
    transcript = json.loads(saved.read_text())
    assert transcript["planner"]["root"] == "gumbel"
    answer = transcript["turns"][-1]
    assert answer["speaker"] == "system"
    rounds = answer["planner_turn"]["tree"]["rounds"]
    assert rounds and answer["act"] in rounds[-1]["acts"]
    bad = run_chat(["--llm", "fake", "--root", "ucb"], "")
    assert bad.returncode == 2 and "--root" in bad.stderr and "gumbel" in bad.stderr


def test_hostile_llm_text_reaches_the_terminal_as_printable_text_and_prompts_stay_bounded(tmp_path: Path):
    """Every reply carries a lone surrogate, escape sequences, U+202E or 20,000 characters."""
    saved = tmp_path / "transcript.json"
    with FakeLLMServer(fault_rate=1.0, faults=TEXT_FAULTS, seed=3) as server:
        result = run_chat(
            ["--llm", "openai", "--base-url", server.base_url, "--api-key", "x", "--model", "fake-model",
             "--sims", "3", "--save", str(saved)],
            "Hello.\nTell me more.\nWhy?\n/quit\n",
        )
        stats = server.stats
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert set(stats.faults) == set(TEXT_FAULTS)  # each kind reached the chat
    bot_lines = [line for line in result.stdout.splitlines() if line.startswith("Persuader [")]
    assert len(bot_lines) == 4  # the greeting and three replies: the dialogue went on
    for line in bot_lines:
        assert line.isprintable(), repr(line)
    assert not any(ch in result.stdout for ch in "\x1b\x07\x00\u202e\ud83d")
    turns = json.loads(saved.read_text(encoding="utf-8"))["turns"]
    assert all(len(t["text"]) <= MAX_LLM_TEXT_CHARS for t in turns)
    # Without the cut, the 20,000-character replies would be in every later prompt.
    print(f"largest prompt: {stats.max_prompt_chars} characters")
    assert stats.max_prompt_chars < 12_000
