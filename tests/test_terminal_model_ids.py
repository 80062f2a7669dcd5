"""Model ids from an endpoint reach a terminal cleaned: in a real terminal (tmux), crafted ids that
`gdp-zero chat` prints when the configured model is not served set no title, write no clipboard
(OSC 52) and clear nothing; the error still names the model and lists the ids' printable text.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gdp_zero.llm.fake_server import FakeLLMServer
from tests.conftest import tmux

REPO = Path(__file__).resolve().parents[1]
CRAFTED_IDS = [
    "\x1b]0;PWNED-TITLE\x07title-id",
    "\x1b]52;c;UFdORUQtQ0xJUA==\x07clip-id",  # base64 of PWNED-CLIP
    "\x1b[2J\x1b[Hclear-id",
    "\x9d2;C1-TITLE\x9cc1-id",
    "served-model",
]


def test_crafted_model_ids_neither_retitle_nor_clear_nor_write_the_clipboard(tmux_socket: str, tmp_path: Path) -> None:
    with FakeLLMServer(models=CRAFTED_IDS) as llm:
        done = tmp_path / "done"
        command = (f"echo BEFORE-MARKER; OPENAI_API_KEY=sk-test PYTHONPATH={REPO} GRADIO_ANALYTICS_ENABLED=False "
                   f"{sys.executable} -m gdp_zero.cli chat --llm openai --base-url {llm.base_url} --model not-served; "
                   f"touch {done}; sleep 60")
        tmux(tmux_socket, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", "250", "-y", "50", "sh", "-c", command)
        tmux(tmux_socket, "set-option", "-g", "set-clipboard", "on")  # tmux would keep an OSC 52 write as a buffer
        deadline = time.monotonic() + 120
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.3)
        assert done.exists(), tmux(tmux_socket, "capture-pane", "-p", "-t", "t")
        time.sleep(0.5)
        screen = tmux(tmux_socket, "capture-pane", "-p", "-J", "-t", "t")
        title = tmux(tmux_socket, "display-message", "-p", "-t", "t", "#{pane_title}")
        buffers = tmux(tmux_socket, "list-buffers")
    assert "BEFORE-MARKER" in screen  # the screen was not cleared
    assert "has no model 'not-served'" in screen
    for printable in ("title-id", "clip-id", "clear-id", "c1-id", "served-model"):
        assert printable in screen
    assert "PWNED" not in title and "C1-TITLE" not in title, title
    assert buffers == "", buffers  # nothing reached the clipboard
    assert "PWNED" not in screen  # the sequences went whole, their payloads with them
