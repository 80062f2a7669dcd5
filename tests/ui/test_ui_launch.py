"""`gdp-zero ui --llm fake`: the real command serves the app on 127.0.0.1 and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from gdp_zero.llm.fake_server import FakeLLMServer
from tests.ui.gradio_http import NO_TOKEN, ON_LOAD, call, new_session


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, seconds: float = 120) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise AssertionError(f"{url} did not come up: {proc.stdout.read() if proc.poll() is not None else ''}")


def _stop_with_ctrl_c(proc: subprocess.Popen) -> str:
    """SIGINT, then the process's whole output; fails the test if it does not stop."""
    proc.send_signal(signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        raise AssertionError(f"gdp-zero ui did not stop on Ctrl-C:\n{output}") from None
    return output


def test_gdp_zero_ui_serves_the_demo_and_stops_on_ctrl_c() -> None:
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OPENAI_API_KEY": "sk-must-not-leak-42"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdp_zero.cli", "ui", "--llm", "fake", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        config = _wait_for(f"http://127.0.0.1:{port}/config", proc)
        assert "Demo mode" in config  # the banner
        assert "sk-must-not-leak-42" not in config  # the fake backend never takes the environment's key
        assert json.loads(config)["components"]
    finally:
        output = _stop_with_ctrl_c(proc)
    assert proc.returncode in (0, 130), output
    assert "Demo mode" in output  # the banner is printed on the terminal too
    assert f"open http://127.0.0.1:{port}/ in a browser" in output  # the address to open, said plainly
    assert "share=True" not in output  # Gradio's hint names its Python API; the CLI has --share


def test_ctrl_c_removes_the_session_folders_and_no_url_credentials_are_logged(tmp_path: Path) -> None:
    """`gdp-zero ui` on an endpoint whose URL holds a password: sessions opened over HTTP write
    their transcripts; after SIGINT no gdp-zero-ui-* folder is left, and neither /config, the
    transcripts nor the output (logs at INFO included) shows the password."""
    port, password = _free_port(), "url-SECRET-8"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(tmp_path)}
    with FakeLLMServer() as llm:
        base_url = llm.base_url.replace("http://", f"http://carol:{password}@")
        proc = subprocess.Popen(
            [sys.executable, "-c", LOGGING_UI, "ui", "--llm", "openai", "--base-url", base_url, "--api-key", "sk-x",
             "--model", "fake-model", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            config = _wait_for(url + "config", proc)
            for _ in range(3):
                done = call(url, ON_LOAD, ["gdpzero", 3, 1, 0.25, 1.0, "", "puct", NO_TOKEN], new_session())
                assert "Your turn" in done.status, done
            roots = list(tmp_path.glob("gdp-zero-ui-*"))
            transcripts = [p.read_text(encoding="utf-8") for p in roots[0].glob("s*/v*/gdp-zero-transcript-*.json")]
            assert len(roots) == 1 and len(transcripts) == 3
            assert all("http://***@127.0.0.1" in t and password not in t for t in transcripts)
        finally:
            output = _stop_with_ctrl_c(proc)
    assert proc.returncode in (0, 130), output
    assert list(tmp_path.glob("gdp-zero-ui-*")) == []
    assert "http://***@127.0.0.1" in config and password not in config and "carol" not in config
    assert "HTTP Request: POST http://127.0.0.1" in output  # INFO records (with a key the URL's credentials are not sent) ...
    assert password not in output and "carol" not in output  # ... without the credentials


# `gdp-zero` with INFO logging on stderr, as an operator who wants to see requests would run it.
LOGGING_UI = (
    "import logging, sys; logging.basicConfig(level=logging.INFO); "
    "from gdp_zero.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_a_busy_port_is_one_line_naming_the_flag_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gdp_zero.cli", "ui", "--llm", "fake", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True, text=True, timeout=120, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (f"error: port {port} on 127.0.0.1 is not free (Address already in use): another "
                                     f"server listens there; choose another with --port, e.g. --port {port + 1}")
    assert "Traceback" not in result.stdout + result.stderr and "open http" not in result.stdout
