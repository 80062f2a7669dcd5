"""Start a server with the serving guards that live below the app: request heads timed out
(gdp_zero/serving/heads.py) and the log bounded (gdp_zero/serving/logs.py).

The study's servers run uvicorn here; `gdp-zero ui` lets Gradio's launch start it (ui/app.py puts
the same guards on). The log guard goes on after uvicorn's Config has configured logging, which
replaces uvicorn's handlers.
"""

from __future__ import annotations

import contextlib
from typing import Any

import uvicorn
from uvicorn.main import STARTUP_FAILURE

from gdp_zero.serving.heads import BoundedHeadProtocol
from gdp_zero.serving.logs import guard_logs, guard_stderr


def run(app: Any, *, host: str, port: int, forwarded_allow_ips: str = "") -> None:
    """uvicorn.run(app, ...) with the guards: serve until interrupted (Ctrl-C, or SIGTERM made one).
    X-Forwarded-For is believed from `forwarded_allow_ips` only (gdp_zero/serving/forwarding.py), by
    default from no one: uvicorn's own default believes any client on 127.0.0.1."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", http=BoundedHeadProtocol,
                            forwarded_allow_ips=forwarded_allow_ips)
    guard_logs()
    guard_stderr()
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn.run's own ending: the caller's finally cleans up
        server.run()
    if not server.started:
        raise SystemExit(STARTUP_FAILURE)
