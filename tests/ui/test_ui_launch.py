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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gdp_zero_ui_serves_the_demo_and_stops_on_ctrl_c() -> None:
    port = _free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "OPENAI_API_KEY": "sk-must-not-leak-42"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gdp_zero.cli", "ui", "--llm", "fake", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        config = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2) as response:
                    config = response.read().decode()
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.3)
        assert config is not None, f"the app did not come up: {proc.stdout.read() if proc.poll() is not None else ''}"
        assert "Demo mode" in config  # the banner
        assert "sk-must-not-leak-42" not in config  # the fake backend never takes the environment's key
        assert json.loads(config)["components"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            raise AssertionError(f"gdp-zero ui did not stop on Ctrl-C:\n{output}") from None
    assert proc.returncode in (0, 130), output
    assert "Demo mode" in output  # the banner is printed on the terminal too
    assert f"open http://127.0.0.1:{port}/ in a browser" in output  # the address to open, said plainly
    assert "share=True" not in output  # Gradio's hint names its Python API; the CLI has --share
