"""SIGTERM stops a server as Ctrl-C does, so its clean-up runs.

systemd, `docker stop` and `kill` send SIGTERM, whose default action ends the process at once:
no `finally`, no atexit, so the scratch folders (downloads, study exports, Gradio's cache of
them) stayed on disk. With `stop_on_sigterm()` the signal raises KeyboardInterrupt in the main
thread instead, which every server already handles. uvicorn, while it runs, takes SIGTERM over
and raises it again after its graceful shutdown, which then lands here.
"""

from __future__ import annotations

import signal
from types import FrameType


def stop_on_sigterm() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in the main thread (call it from there)."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")
