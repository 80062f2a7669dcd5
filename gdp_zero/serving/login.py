"""Password guesses on a server's login forms: limited per client address and for the whole server.

Without a limit a script tries passwords as fast as the server answers (60 in 1.6 s were seen).
`LoginThrottle` is ASGI middleware around the app: a POST to one of the login paths is refused
with 429 while the client address (or the server as a whole) has had too many wrong passwords in
the last `window_s`; the answer to the POST says whether the password was wrong (Gradio's login
answers 400 "Incorrect credentials"). A right password clears its address's count. The address is
the connection's as the server sees it (gdp_zero/serving/forwarding.py decides when a proxy's header
replaces it).

    app = LoginThrottle(app, LoginGuard(), login_paths=("/admin/login", "/preview/login"))
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gdp_zero.serving.asgi import ASGIApp, Message, Receive, Scope, Send, plain_text
from gdp_zero.serving.limits import forget_before

MIN_PASSWORD_CHARS = 12  # the shortest admin password a server starts with
WRONG_PASSWORD_STATUSES = (400, 401, 403)


@dataclass(frozen=True)
class LoginLimits:
    per_client: int = 5  # wrong passwords an address may send in any window
    overall: int = 100  # wrong passwords from all addresses in any window
    window_s: float = 900.0


def password_problem(password: str) -> str | None:
    """Why `password` is too weak to protect researcher pages, or None."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"the admin password has {len(password)} characters; use at least {MIN_PASSWORD_CHARS}"
    return None


class LoginGuard:
    """Counts wrong passwords per client address and overall; says when a login must wait."""

    def __init__(self, limits: LoginLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or LoginLimits()
        self._clock = clock
        self._per_client: dict[str, deque[float]] = {}
        self._overall: deque[float] = deque()

    def refusal(self, client: str) -> str | None:
        """The message for a login attempt from `client` that must not be tried now, or None."""
        now = self._clock()
        self._forget_before(now - self.limits.window_s)
        mine = self._per_client.get(client)
        if mine is not None and len(mine) >= self.limits.per_client:
            return (f"Too many wrong passwords from your address ({self.limits.per_client}): "
                    f"try again in {_minutes(mine[0] + self.limits.window_s - now)}.")
        if len(self._overall) >= self.limits.overall:
            return ("Too many wrong passwords on this server: logins are paused for "
                    f"{_minutes(self._overall[0] + self.limits.window_s - now)}.")
        return None

    def failed(self, client: str) -> None:
        now = self._clock()
        self._per_client.setdefault(client, deque()).append(now)
        self._overall.append(now)

    def succeeded(self, client: str) -> None:
        self._per_client.pop(client, None)

    def _forget_before(self, cutoff: float) -> None:
        forget_before(self._overall, cutoff)
        for client in list(self._per_client):
            if not forget_before(self._per_client[client], cutoff):
                del self._per_client[client]


class LoginThrottle:
    """ASGI middleware: POSTs to `login_paths` pass `guard` first, and their answers are counted."""

    def __init__(self, app: ASGIApp, guard: LoginGuard, login_paths: Iterable[str]) -> None:
        self.app = app
        self.guard = guard
        self.login_paths = frozenset(login_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or scope.get("path") not in self.login_paths:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        refusal = self.guard.refusal(client)
        if refusal is not None:
            await plain_text(send, 429, refusal)
            return
        status: list[int] = []

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, counted)
        if status and status[0] in WRONG_PASSWORD_STATUSES:
            self.guard.failed(client)
        elif status and status[0] < 300:
            self.guard.succeeded(client)


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
