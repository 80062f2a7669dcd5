"""Uploads only from a client address with an open session, within a byte budget per address and
for the server (ASGI middleware).

Gradio's upload route takes files from anyone: 15 files of 19 MB with no session were kept for
an hour (272 MB in 0.9 s). `UploadBudget` answers 403 to an upload from an address that holds no
session of the app, and 429 once the address (or the whole server) has uploaded its budget of
bytes in the last `window_s`; the bytes are counted as declared (Content-Length, which
gdp_zero/serving/bodies.py holds the body to).
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gdp_zero.serving.asgi import ASGIApp, Receive, Scope, Send, content_length, plain_text

UPLOAD = re.compile(r"/gradio_api/upload/?$")


@dataclass(frozen=True)
class UploadSettings:
    per_client_bytes: int = 100 * 2**20  # uploaded by one address in any window
    total_bytes: int = 1 << 30  # uploaded to the whole server in any window
    window_s: float = 3600.0


class UploadBudget:
    """ASGI middleware: uploads only from addresses `has_session` accepts, within the budgets."""

    def __init__(self, app: ASGIApp, has_session: Callable[[str], bool], settings: UploadSettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.has_session = has_session
        self.settings = settings or UploadSettings()
        self._clock = clock
        self._per_client: dict[str, deque[tuple[float, int]]] = {}
        self._all: deque[tuple[float, int]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not UPLOAD.search(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        size = content_length(scope)
        if size is None:  # a browser always says how large its upload is; a stream would escape the budget
            await plain_text(send, 411, "An upload must declare its length (Content-Length).")
            return
        refusal = self.refusal(client, size)
        if refusal is not None:
            status, text = refusal
            await plain_text(send, status, text)
            return
        await self.app(scope, receive, send)

    def refusal(self, client: str, size: int) -> tuple[int, str] | None:
        """(status, message) when the upload must be refused, else None (and the bytes are counted)."""
        if not self.has_session(client):
            return 403, "Uploads are for an open page of this app: reload the page, then add the file again."
        s = self.settings
        now = self._clock()
        mine = self._per_client.setdefault(client, deque())
        for window in (mine, self._all):
            while window and window[0][0] <= now - s.window_s:
                window.popleft()
        if sum(n for _, n in mine) + size > s.per_client_bytes:
            return 429, f"Your address has uploaded its {s.per_client_bytes // 2**20} MB for this hour: try again later."
        if sum(n for _, n in self._all) + size > s.total_bytes:
            return 429, "The server has taken all the uploads it takes in an hour: try again later."
        mine.append((now, size))
        self._all.append((now, size))
        return None
