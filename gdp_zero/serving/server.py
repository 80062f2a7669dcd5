"""Start a server with the serving guards that live below the app: request heads timed out
(gdp_zero/serving/heads.py) and the log bounded (gdp_zero/serving/logs.py).

The study's servers run uvicorn themselves (`run`); `gdp-zero ui` lets Gradio's launch start it
(`gradio_launch`). Either way the log guard goes on after uvicorn's Config has configured logging,
which replaces uvicorn's handlers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from uvicorn.main import STARTUP_FAILURE

from gdp_zero.serving.heads import BoundedHeadProtocol, bounded_heads
from gdp_zero.serving.logs import guard_logs, guard_stderr

T = TypeVar("T")


def run(app: Any, *, host: str, port: int, forwarded_allow_ips: str | None = None) -> None:
    """uvicorn.run(app, ...) with the guards: serve until interrupted (Ctrl-C, or SIGTERM made one)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", http=BoundedHeadProtocol,
                            forwarded_allow_ips=forwarded_allow_ips)
    guard_logs()
    guard_stderr()
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn.run's own ending: the caller's finally cleans up
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)


def gradio_launch(launch: Callable[[], T]) -> T:
    """Call `launch` (a Gradio Blocks' launch with prevent_thread_lock=True, which returns once the
    server is up) so that its uvicorn server has the guards."""
    with bounded_heads():
        launched = launch()
    guard_logs()
    return launched
