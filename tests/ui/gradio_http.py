"""The app's Gradio queue over plain HTTP, as a script (or an attacker) calls it: no browser, no
gradio_client. Used by the hardening tests and by benchmarks/api_sessions.py."""

from __future__ import annotations

import json
import re
import secrets
import urllib.request
from dataclasses import dataclass
from typing import Any

# Event indices in the app's /config (ui/app.py registers them in this order).
ON_LOAD, ON_SEND = 0, 1
NO_TOKEN = None  # ON_LOAD's last input after the planner controls: the page's resume token (none: a new chat)
OUTPUT_STATUS = 1  # position of the status line among the handlers' outputs


@dataclass
class Completed:
    """The end of one event: success, Gradio's error text if any, and the last output data."""

    success: bool
    error: str | None
    data: list[Any]

    @property
    def status(self) -> str:
        """The status line's text (tags stripped), as the page shows it."""
        value = self.data[OUTPUT_STATUS] if len(self.data) > OUTPUT_STATUS else None
        if isinstance(value, dict):
            value = value.get("value")
        return re.sub(r"<[^>]+>", "", value or "")


def new_session() -> str:
    return secrets.token_hex(8)


def call(base_url: str, fn_index: int, data: list[Any], session: str, *,
         client: str | None = None, timeout: float = 60) -> Completed:
    """Join the queue with `data` for event `fn_index` and read the event stream until it completes.

    `client` is sent as X-Forwarded-For, which an app started with 127.0.0.1 as a trusted proxy
    believes (tests/ui/conftest.py): one machine can then stand for many client addresses.
    """
    headers = {"Content-Type": "application/json"}
    if client is not None:
        headers["X-Forwarded-For"] = client
    body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None,
                       "trigger_id": None}).encode()
    join = urllib.request.Request(f"{base_url}gradio_api/queue/join", body, headers)
    with urllib.request.urlopen(join, timeout=timeout) as response:
        event_id = json.loads(response.read())["event_id"]
    stream = urllib.request.Request(f"{base_url}gradio_api/queue/data?session_hash={session}", headers=headers)
    last: list[Any] = []
    with urllib.request.urlopen(stream, timeout=timeout) as response:
        for raw in response:
            line = raw.decode("utf-8").strip()
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("event_id") not in (None, event_id):
                continue
            output = message.get("output") or {}
            if output.get("data") is not None:
                last = output["data"]
            if message.get("msg") == "process_completed":
                return Completed(bool(message.get("success")), output.get("error"), last)
    raise AssertionError(f"the event stream of {session} ended without completing event {event_id}")
