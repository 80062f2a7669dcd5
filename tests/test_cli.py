"""`gdp-zero chat` driven through stdin, as a person at a terminal would."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from gdp_zero.cli.chat import PROMPT, TerminalChat
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.errors import ModelNotFoundError
from gdp_zero.llm.fake_server import TEXT_FAULTS, FakeLLMServer
from gdp_zero.llm.settings import load_llm_settings
from gdp_zero.mcts.search import SearchProgress
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.text import MAX_LLM_TEXT_CHARS

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}


def run_chat(args: list[str], stdin: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return run_cli(["chat", *args], stdin, timeout)


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
    assert "\r" not in result.stderr  # no progress bar frames when stderr is not a terminal
    assert out.count(PROMPT) == script.count("\n")  # a prompt before every line read, echoed in a log
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


def run_cli(args: list[str], stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gdp_zero.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=ENV)


def one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --- /retry, unknown commands, the prompt, the progress bar ---------------------------------------


def test_retry_with_nothing_to_retry_is_a_hint_and_the_chat_goes_on():
    result = run_chat(["--llm", "fake", "--sims", "2"], "/retry\nHello\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "nothing to retry" in result.stdout
    assert "your message was labelled [" in result.stdout  # the message after it was answered


def test_an_unknown_command_lists_the_commands_and_is_not_sent():
    result = run_chat(["--llm", "fake", "--sims", "1"], "/foo\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Unknown command /foo. Commands: /undo  /restart  /retry  /save [FILE]  /quit" in result.stdout
    assert "labelled" not in result.stdout  # nothing went to the persuader
    assert "(1 simulation, 0 reused" in result.stdout  # the greeting, counted in good English


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_on_a_terminal_only():
    progress = SearchProgress(done=3, total=4, in_flight=1, elapsed_s=0.5)
    shown, logged = Terminal(), io.StringIO()
    TerminalChat(None, io.StringIO(), shown, None).progress(progress)  # type: ignore[arg-type]
    TerminalChat(None, io.StringIO(), logged, None).progress(progress)  # type: ignore[arg-type]
    assert shown.getvalue().startswith("\r  searching [") and "3 of 4 simulations done" in shown.getvalue()
    assert logged.getvalue() == ""
    one = Terminal()
    TerminalChat(None, io.StringIO(), one, None).progress(SearchProgress(done=1, total=1, in_flight=0, elapsed_s=0.1))  # type: ignore[arg-type]
    assert "1 of 1 simulation done" in one.getvalue() and one.getvalue().endswith("\n")  # a finished bar ends its line


# --- invalid numbers, files and endpoints: one line, exit 2 -----------------------------------------


@pytest.mark.parametrize("flag, value, problem", [
    ("--sims", "0", "must be at least 1"),
    ("--sims", "-5", "must be at least 1"),
    ("--realizations", "0", "must be at least 1"),
    ("--time-budget", "0", "must be more than 0"),
    ("--in-flight", "0", "must be at least 1"),
    ("--prior-samples", "0", "must be at least 1"),
    ("--value-samples", "0", "must be at least 1"),
    ("--q0", "nan", "must be a finite number"),
    ("--q0", "5", "must be between -1 and 1"),
    ("--cpuct", "-1", "must be at least 0"),
    ("--sims", "many", "invalid int value"),
    ("--considered-acts", "0", "must be at least 1"),
    ("--gumbel-scale", "-1", "must be at least 0"),
])
def test_an_invalid_planner_number_is_one_argparse_line_and_exit_2(flag: str, value: str, problem: str):
    result = run_chat(["--llm", "fake", flag, value], "")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert line.startswith(f"gdp-zero chat: error: argument {flag}: ") and problem in line
    assert result.stdout == ""  # refused before any backend started


def test_the_published_search_refuses_simulations_in_flight():
    result = run_chat(["--llm", "fake", "--sequential", "--in-flight", "8"], "")
    assert result.returncode == 2
    assert "argument --in-flight: --sequential runs one simulation at a time" in one_line(result.stderr)


@pytest.mark.parametrize("command", [["selfplay", "--out", "runs.jsonl"], ["evaluate", "--p4g", ".", "--out", "judged.jsonl"]])
def test_selfplay_and_evaluate_check_planner_numbers_as_the_chat_does(command: list[str], tmp_path: Path):
    out = tmp_path / command[-1]
    result = run_cli([*command[:-1], str(out), "--llm", "fake", "--sims", "0"])
    assert result.returncode == 2
    assert one_line(result.stderr) == (f"gdp-zero {command[0]}: error: argument --sims: must be at least 1, got 0 "
                                       f"(see gdp-zero {command[0]} --help)")
    assert not out.exists()


def test_a_config_file_that_is_not_utf8_is_one_line(tmp_path: Path):
    config = tmp_path / "llm.toml"
    config.write_bytes('[llm]\nmodel = "caf\u00e9"\n'.encode("latin-1"))
    result = run_chat(["--llm", "openai", "--config", str(config)], "")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert str(config) in line and "UTF-8" in line


def test_an_endpoint_that_answers_with_a_login_page_is_one_line():
    with FakeLLMServer(login_page=True) as server:
        result = run_chat(["--llm", "openai", "--base-url", server.base_url, "--api-key", "k"], "Hi\n")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert server.base_url in line and "web page" in line


# --- the model: checked at start-up, and a setup error mid-chat ends it -----------------------------


def test_a_model_the_endpoint_does_not_list_stops_the_chat_naming_the_served_ones():
    with FakeLLMServer(models=("fake-model", "other-model")) as server:
        result = run_chat(["--llm", "openai", "--base-url", server.base_url, "--api-key", "k",
                           "--model", "nope-model"], "Hi\n")
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "'nope-model'" in line and "'fake-model', 'other-model'" in line
    assert "Persuader [" not in result.stdout


def test_a_model_the_endpoint_does_not_list_stops_the_web_app_before_it_serves():
    with FakeLLMServer() as server:  # no --model: the default, gpt-4o-mini, is not served here
        result = run_cli(["ui", "--llm", "openai", "--base-url", server.base_url, "--api-key", "k", "--port", "1"],
                         timeout=60)
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert "'gpt-4o-mini'" in line and "fake-model" in line


def test_a_server_that_serves_any_model_name_is_accepted():
    # llama.cpp lists its one model but answers under any name: the probe request succeeds.
    with FakeLLMServer(models=("fake-model", "served-under-any-name")) as server:
        server.models = ("fake-model",)  # what GET /models lists ...
        server.any_model = True  # ... and what it answers
        result = run_chat(["--llm", "openai", "--base-url", server.base_url, "--api-key", "k",
                           "--model", "served-under-any-name", "--sims", "1"], "/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Persuader [greeting]" in result.stdout


def test_a_rejected_key_first_seen_mid_chat_ends_the_chat_with_one_line_and_exit_2():
    # Some servers do not check the key on GET /models: the first 401 comes with the first turn.
    with FakeLLMServer(api_key="sk-right", check_key_on_models=False) as server:
        result = run_chat(["--llm", "openai", "--base-url", server.base_url, "--api-key", "sk-wrong",
                           "--sims", "1"], "Hi\n/quit\n")
    assert result.returncode == 2
    assert "API key" in one_line(result.stderr)
    assert "sk-wrong" not in result.stderr + result.stdout


def test_a_model_that_disappears_mid_chat_saves_the_dialogue_and_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    class Lines(io.StringIO):
        """The person's lines; before the second, the endpoint stops serving the model."""

        def __init__(self, server: FakeLLMServer) -> None:
            super().__init__("I'm fine, what is this about?\nTell me more.\n")
            self.server, self.reads = server, 0

        def readline(self, *args: object) -> str:
            self.reads += 1
            if self.reads == 2:
                self.server.models = ("replacement-model",)
            return super().readline(*args)

    async def chat(server: FakeLLMServer, out: io.StringIO) -> None:
        settings = load_llm_settings(None, {}, base_url=server.base_url, api_key="k", model="fake-model")
        search = GDPZeroConfig(simulations=2, realizations=1, prior_samples=2, value_samples=2, concurrency=2)
        session = build_session(settings, ChatOptions(search=search))
        try:
            await TerminalChat(session, out, io.StringIO(), None).run(Lines(server))
        finally:
            await session.aclose()

    monkeypatch.chdir(tmp_path)  # the dialogue is saved in the working directory when --save was not given
    out = io.StringIO()
    with FakeLLMServer() as server, pytest.raises(ModelNotFoundError):
        asyncio.run(chat(server, out))
    saved = list(tmp_path.glob("gdp-zero-transcript-*.json"))
    assert len(saved) == 1
    assert f"Transcript saved to {saved[0].name}" in out.getvalue()
    transcript = json.loads(saved[0].read_text(encoding="utf-8"))
    assert [t["speaker"] for t in transcript["turns"]] == ["system", "user", "system"]
    assert transcript["meta"]["pending_message"] == "Tell me more."  # the message that failed is kept too
    assert "/retry" not in out.getvalue().split("Tell me more.")[-1]  # not offered as a passing failure


# --- the other commands -----------------------------------------------------------------------------


def test_fake_server_command_takes_its_options():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert "--latency" in run_cli(["fake-server", "--help"]).stdout
    proc = subprocess.Popen([sys.executable, "-m", "gdp_zero.cli", "fake-server", "--port", str(port),
                             "--models", "m1,m2"], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert f"127.0.0.1:{port}/v1" in proc.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=5) as response:
            assert [m["id"] for m in json.load(response)["data"]] == ["m1", "m2"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    assert proc.returncode == 0  # Ctrl-C is how it is stopped, not a failure
    for flags, said in ((["--faults", "500,flood"], "argument --faults: unknown fault kinds ['flood']"),
                        (["--fault-rate", "3"], "argument --fault-rate: a share of requests, from 0 to 1, got 3.0")):
        refused = run_cli(["fake-server", "--port", str(port), *flags], timeout=30)
        assert refused.returncode == 2 and said in one_line(refused.stderr), refused.stderr


def test_ui_help_shows_the_address_defaults():
    out = run_cli(["ui", "--help"]).stdout
    assert "default: 127.0.0.1" in out and "default: 7860" in out


def test_the_web_app_does_not_import_the_cli():
    code = "import sys, ui.app; assert 'gdp_zero.cli' not in sys.modules, 'ui.app imports the CLI'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_dialogue_that_ended_says_why_and_refuses_messages_until_restart(tmp_path: Path):
    saved = tmp_path / "t.json"
    script = "Sure, I'll give $1.\nAre you still there?\n/retry\n/restart\nHello again.\n/quit\n"
    result = run_chat(["--llm", "fake", "--sims", "2", "--save", str(saved)], script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    ended = "The dialogue has ended: success, the persuadee's last act was [donate]. Outcome +1.0."
    assert f"{ended} Type /restart for a new dialogue" in out
    after = out.split("Are you still there?", 1)[1]
    assert after.startswith(f"\n{ended} Type /restart for a new dialogue.")  # refused, not sent
    assert "nothing to retry" in after
    bots = [line for line in out.splitlines() if line.startswith("Persuader [")]
    assert len(bots) == 3  # greeting; no reply to the donation; greeting after /restart, reply to "Hello again."
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert record["end_reason"] is None and [t["text"] for t in record["turns"]][1] == "Hello again."


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
