"""Uploads only from a client address with an open session, within a byte budget per address and
for the server (ASGI middleware).

Gradio's upload route takes files from anyone: 15 files of 19 MB with no session were kept for
an hour (272 MB in 0.9 s). `UploadBudget` answers 403 to an upload from an address that holds no
session of the app, and 429 once the address (or the whole server) has uploaded its budget of
bytes in the last `window_s`; the bytes are counted as declared (Content-Length, which
gdp_zero/serving/bodies.py holds the body to). The files an upload kept (the paths the app
answers with) are reported to `kept(client, paths)`: `UploadedFiles` holds them per address,
and the app removes an address's files when its last session ends. An upload names no session
(Gradio's upload route takes none), so the address is what a file can be tied to.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from gdp_zero.serving.asgi import ASGIApp, Message, Receive, Scope, Send, content_length, plain_text

UPLOAD = re.compile(r"/gradio_api/upload/?$")
MAX_ANSWER = 1 << 20  # an upload's answer read for its paths (a list of a few file paths)


@dataclass(frozen=True)
class UploadSettings:
    per_client_bytes: int = 100 * 2**20  # uploaded by one address in any window
    total_bytes: int = 1 << 30  # uploaded to the whole server in any window
    window_s: float = 3600.0


class UploadBudget:
    """ASGI middleware: uploads only from addresses `has_session` accepts, within the budgets."""

    def __init__(self, app: ASGIApp, has_session: Callable[[str], bool], settings: UploadSettings | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 kept: Callable[[str, list[str]], None] | None = None) -> None:
        self.app = app
        self.has_session = has_session
        self.kept = kept
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
        if self.kept is None:
            await self.app(scope, receive, send)
            return
        answer: dict[str, int] = {"status": 0}
        body = bytearray()

        async def noting(message: Message) -> None:  # the answer names the files kept
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body" and answer["status"] == 200 and len(body) < MAX_ANSWER:
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, noting)
        if answer["status"] == 200:
            self.kept(client, _paths(bytes(body)))

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


def _paths(answer: bytes) -> list[str]:
    """The file paths in an upload's answer (a JSON list of them); none if it is anything else."""
    try:
        paths = json.loads(answer)
    except ValueError:
        return []
    return [p for p in paths if isinstance(p, str)] if isinstance(paths, list) else []


class UploadedFiles:
    """The files each client address uploaded, under `root` (the app's upload folder), until removed."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._by_client: dict[str, set[Path]] = {}

    def add(self, client: str, paths: Iterable[str]) -> None:
        """Note files `client` uploaded (paths outside `root` are not the app's to remove, and are ignored)."""
        mine = self._by_client.setdefault(client, set())
        resolved = (Path(path).resolve() for path in paths)
        mine.update(path for path in resolved if path.is_relative_to(self.root) and path != self.root)

    def of(self, client: str) -> set[Path]:
        return set(self._by_client.get(client, ()))

    def remove(self, client: str) -> list[Path]:
        """Delete the files `client` uploaded, but for those another address uploaded too (the app keeps
        one copy of identical files); the files deleted."""
        mine = self._by_client.pop(client, set())
        others = set().union(*self._by_client.values()) if self._by_client else set()
        removed = []
        for path in sorted(mine - others):
            path.unlink(missing_ok=True)
            removed.append(path)
            if path.parent != self.root:
                try:
                    path.parent.rmdir()  # the folder the app made for this file, if nothing else is in it
                except OSError:
                    pass
        return removed
