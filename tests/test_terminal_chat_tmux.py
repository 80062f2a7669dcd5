"""`gdp-zero chat` in a real terminal (tmux): Ctrl-C never loses the dialogue, a save path that cannot
be written is said plainly and the chat goes on."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from gdp_zero.llm.fake_server import FakeLLMServer
from tests.conftest import tmux

REPO = Path(__file__).resolve().parents[1]


def start_chat(socket: str, folder: Path, flags: str) -> Path:
    """The chat in a tmux pane, run in `folder`; its exit code lands in the returned file."""
    exit_file = folder / "exit-code"
    # The shell traps Ctrl-C (the chat, a child, gets the default handling back) so that it lives on to
    # write the chat's exit code.
    command = (f"trap true INT; cd {folder} && PYTHONPATH={REPO} GRADIO_ANALYTICS_ENABLED=False {sys.executable} -m gdp_zero.cli chat "
               f"{flags}; echo $? > {exit_file}; sleep 60")
    tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "200", "-y", "50", "sh", "-c", command)
    return exit_file


def screen(socket: str) -> str:
    return tmux(socket, "capture-pane", "-p", "-J", "-S", "-200", "-t", "t")


def wait_for(socket: str, text: str, count: int = 1, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shown = screen(socket)
        if shown.count(text) >= count:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} (x{count}) never appeared:\n{screen(socket)}")


def typed(socket: str, line: str) -> None:
    tmux(socket, "send-keys", "-t", "t", "-l", line)
    tmux(socket, "send-keys", "-t", "t", "Enter")


def exit_code(socket: str, path: Path, seconds: float = 60) -> int:
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert path.exists(), screen(socket)
    return int(path.read_text().strip())


def test_ctrl_c_at_the_prompt_saves_the_dialogue_and_says_where(tmux_socket: str, tmp_path: Path) -> None:
    exit_file = start_chat(tmux_socket, tmp_path, "--llm fake --sims 2")
    wait_for(tmux_socket, "You: ")
    typed(tmux_socket, "Hello, what is this about?")
    wait_for(tmux_socket, "You: ", count=2)
    tmux(tmux_socket, "send-keys", "-t", "t", "C-c")
    assert exit_code(tmux_socket, exit_file) == 130
    saved = list(tmp_path.glob("gdp-zero-transcript-*.json"))
    assert len(saved) == 1
    assert f"Transcript saved to {saved[0].name}" in screen(tmux_socket)
    assert "Hello, what is this about?" in saved[0].read_text(encoding="utf-8")
    assert "Traceback" not in screen(tmux_socket)


def test_ctrl_c_during_a_search_cancels_it_and_keeps_the_message_for_retry(tmux_socket: str, tmp_path: Path) -> None:
    with FakeLLMServer(latency_s=0.3) as llm:
        flags = f"--llm openai --base-url {llm.base_url} --api-key k --model fake-model --sims 8 --in-flight 1 --save t.json"
        exit_file = start_chat(tmux_socket, tmp_path, flags)
        wait_for(tmux_socket, "You: ")
        typed(tmux_socket, "Why should I care?")
        wait_for(tmux_socket, "searching [", count=2)  # the greeting's search, then this one's
        tmux(tmux_socket, "send-keys", "-t", "t", "C-c")
        shown = wait_for(tmux_socket, "You: ", count=2)
        assert "Search cancelled (Ctrl-C). Your message is kept: type /retry" in shown
        typed(tmux_socket, "/retry")
        wait_for(tmux_socket, "Persuader [", count=2)
        wait_for(tmux_socket, "You: ", count=3)
        typed(tmux_socket, "/quit")
        assert exit_code(tmux_socket, exit_file) == 0
    shown = screen(tmux_socket)
    assert "Traceback" not in shown
    assert any(line.startswith("Transcript saved to t.json") for line in shown.splitlines())  # not on the bar's line
    saved = (tmp_path / "t.json").read_text(encoding="utf-8")
    assert saved.count('"speaker": "user"') == 1 and saved.count('"speaker": "system"') == 2


def test_save_into_a_missing_folder_says_why_and_the_chat_goes_on(tmux_socket: str, tmp_path: Path) -> None:
    exit_file = start_chat(tmux_socket, tmp_path, "--llm fake --sims 2")
    wait_for(tmux_socket, "You: ")
    typed(tmux_socket, "/save nodir/x.json")
    shown = wait_for(tmux_socket, "You: ", count=2)
    assert "Could not save to nodir/x.json: the folder nodir does not exist. Nothing is lost" in shown
    typed(tmux_socket, "Tell me more.")
    wait_for(tmux_socket, "Persuader [", count=2)  # still chatting
    typed(tmux_socket, "/save x.json")
    wait_for(tmux_socket, "Transcript saved to x.json")
    typed(tmux_socket, "/quit")
    assert exit_code(tmux_socket, exit_file) == 0
    assert "Tell me more." in (tmp_path / "x.json").read_text(encoding="utf-8")
    assert "Traceback" not in screen(tmux_socket)


def test_a_save_flag_into_a_missing_folder_is_refused_before_the_chat(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "gdp_zero.cli", "chat", "--llm", "fake", "--save", "nodir/y.json"],
                            input="Hello\n", capture_output=True, text=True, timeout=120, cwd=tmp_path,
                            env={"PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        "argument --save: cannot write nodir/y.json: the folder nodir does not exist (see gdp-zero chat --help)")
    assert "Persuader [" not in result.stdout  # refused before any backend started
