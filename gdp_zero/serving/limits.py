"""Limits for a public server: sessions and LLM turns per client address, turns in flight, idle expiry.

One server answers strangers, and every LLM turn costs money with a paid key, so no client may
crowd the others out. The chat app and the crowd-study server both use this; it knows nothing
of planners or Gradio (a Gradio request is read by duck typing in `client_address`).

    limits = ClientLimits(LimitSettings(max_sessions_per_client=5))
    replaced = limits.open_session(key, client_address(request))  # LimitExceeded: this address, or the server, is full
    if replaced: close_it(replaced)                     # a long-idle session that gave its place to a newcomer
    limits.touch(key)                                   # on what a person does (a message, a retry): it is in use
    release = limits.start_turn(client)                 # LimitExceeded: too many turns this minute, or in flight
    task.add_done_callback(lambda _: release())         # the slot is held while the turn runs, however it ends
    for key in limits.sweep(busy=is_running_a_turn):    # every minute: idle for idle_timeout_s, not running a turn
        close_it(key); limits.close_session(key)
    limits.snapshot()                                   # counts, for monitoring and tests

`str(LimitExceeded)` is the message to show the person. Idleness is judged by what a person does
(the caller touches a session on a message, a retry, a restart, not on any event: a script sending
a cheap event every 20 s held a full server for ever). A session in use is never closed to make
room; when the server is full, a newcomer from an address that holds no session takes the place
of the session idle longest once that one has been idle for `yield_after_idle_s` (an address
holding several sessions gives one up first); otherwise the refusal says when a place can free
up. Sessions idle for `idle_timeout_s` expire. The command-line flags are in gdp_zero/cli/options.py.

The client address is the peer of the HTTP connection; X-Forwarded-For is believed only from the
reverse proxies the operator names with --trusted-proxy, and from no one by default (whose word
counts is gdp_zero/serving/forwarding.py). People behind one NAT share an address: raise the
per-address limits for a classroom or a lab.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, fields
from typing import Any, Callable


@dataclass(frozen=True)
class LimitSettings:
    max_sessions: int = 200  # open sessions on the server; beyond it new ones are refused
    max_sessions_per_client: int = 10  # open sessions per client address (tabs, reloads)
    turns_per_minute: int = 20  # LLM turns started per client address in any 60 seconds
    max_turns_in_flight: int = 32  # LLM turns running at once on the whole server
    idle_timeout_s: float = 1800.0  # a session without a person's action for this long is closed
    yield_after_idle_s: float = 300.0  # when full, a session idle this long gives its place to a newcomer
    participations_per_hour: int = 3  # new study participations a client address may start in any hour
    resume_window_s: float = 600.0  # a closed or reloaded page can take its session back this long

    def __post_init__(self) -> None:
        for f in fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"{f.name} must be positive, got {getattr(self, f.name)!r}")


def forget_before(times: deque[float], cutoff: float) -> deque[float]:
    """`times` (oldest first) without those at or before `cutoff`, dropped in place: the events still counted."""
    while times and times[0] <= cutoff:
        times.popleft()
    return times


class LimitExceeded(Exception):
    """A limit refused a session or a turn; the text says which and what to do."""


class ClientLimits:
    """Counts sessions and turns per client address; refuses what would exceed `settings`."""

    def __init__(self, settings: LimitSettings | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or LimitSettings()
        self._clock = clock
        self._sessions: dict[str, str] = {}  # session key -> client address
        self._last_active: dict[str, float] = {}  # session key -> clock time of its last event
        self._detached: dict[str, float] = {}  # session key -> clock time its page went away
        self._per_client: dict[str, int] = {}  # client address -> open sessions
        self._turn_starts: dict[str, deque[float]] = {}  # client address -> turn starts in the last minute
        self._in_flight = 0
        self._participation_starts: dict[str, deque[float]] = {}  # client address -> starts in the last hour

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, key: str, client: str, busy: Callable[[str], bool] = lambda key: False) -> str | None:
        """Count a new session of `client`, or raise LimitExceeded. Reopening a key replaces it.

        Returns the key of a long-idle session (not `busy`) that gave its place to this one on a
        full server (the caller closes its chat), or None."""
        self.close_session(key)
        s = self.settings
        if self._per_client.get(client, 0) >= s.max_sessions_per_client:
            raise LimitExceeded(
                f"Too many open sessions from your address ({s.max_sessions_per_client}). "
                "Close other tabs of this app, then reload this page."
            )
        replaced = self._make_room(client, busy) if len(self._sessions) >= s.max_sessions else None
        self._sessions[key] = client
        self._per_client[client] = self._per_client.get(client, 0) + 1
        self._last_active[key] = self._clock()
        return replaced

    def move_session(self, old: str, new: str, client: str, busy: Callable[[str], bool] = lambda key: False) -> str | None:
        """The session of `old` goes on under `new` (its page was reloaded), from `client`'s address now.

        It keeps the time of its last event: a reload is not what a person does in the chat, so
        reloading every few seconds does not keep an idle session alive. Refused and returning as
        `open_session` does."""
        last = self._last_active.get(old)
        if old not in self._sessions:
            raise LimitExceeded("This chat was closed in the meantime: the page starts a new one.")
        self.close_session(old)
        replaced = self.open_session(new, client, busy)
        if last is not None:
            self._last_active[new] = last
        return replaced

    def _make_room(self, client: str, busy: Callable[[str], bool]) -> str:
        """The session that gives its place to a new one of `client` (closed here), or LimitExceeded."""
        s = self.settings
        now = self._clock()
        idle = [key for key, last in self._last_active.items() if now - last >= s.yield_after_idle_s and not busy(key)]
        if idle and client not in self._per_client:
            # The address holding most sessions gives one up first, then the session idle longest.
            key = max(idle, key=lambda k: (self._per_client[self._sessions[k]], -self._last_active[k]))
            self.close_session(key)
            return key
        soonest = min(self._last_active.values()) + s.yield_after_idle_s - now
        when = "a few minutes" if client in self._per_client or soonest <= 0 else _duration(soonest)
        raise LimitExceeded(f"The server is full ({s.max_sessions} open sessions, all in use). Please try again in {when}.")

    def holds_session(self, client: str) -> bool:
        """True while `client` has a session open (what may upload a file)."""
        return client in self._per_client

    def touch(self, key: str) -> None:
        if key in self._last_active:
            self._last_active[key] = self._clock()

    def detach(self, key: str) -> None:
        """The page of `key` went away (closed or reloading): its session waits `resume_window_s` for it."""
        if key in self._sessions:
            self._detached[key] = self._clock()

    def is_detached(self, key: str) -> bool:
        return key in self._detached

    def close_session(self, key: str) -> None:
        client = self._sessions.pop(key, None)
        self._last_active.pop(key, None)
        self._detached.pop(key, None)
        if client is not None:
            left = self._per_client[client] - 1
            if left:
                self._per_client[client] = left
            else:
                del self._per_client[client]

    def sweep(self, busy: Callable[[str], bool] = lambda key: False) -> list[str]:
        """Housekeeping, every minute or so: the sessions to close (no event for idle_timeout_s and
        not `busy` running a turn, or a page gone for resume_window_s); the turn history of
        addresses quiet for a minute is dropped."""
        now = self._clock()
        for client in [c for c, starts in self._turn_starts.items() if not starts or starts[-1] <= now - 60]:
            del self._turn_starts[client]
        for client in [c for c, starts in self._participation_starts.items() if not starts or starts[-1] <= now - 3600]:
            del self._participation_starts[client]
        cutoff = now - self.settings.idle_timeout_s
        gone = now - self.settings.resume_window_s
        idle = [key for key, last in self._last_active.items() if last < cutoff and not busy(key)]
        return idle + [key for key, left in self._detached.items() if left < gone and key not in idle]

    # -- study participations ---------------------------------------------------------------

    def start_participation(self, client: str) -> None:
        """Count a new study participation of `client`, or raise LimitExceeded: about 40 made-up
        participant ids from one machine filled a study's quotas, and real participants were told
        it was full."""
        s = self.settings
        now = self._clock()
        starts = forget_before(self._participation_starts.setdefault(client, deque()), now - 3600)
        if len(starts) >= s.participations_per_hour:
            raise LimitExceeded(
                f"Too many new participations from your address ({s.participations_per_hour} an hour). If you have "
                "started this study, open it again in the browser you started it in; otherwise try again in "
                f"{_duration(3600 - (now - starts[0]))}."
            )
        starts.append(now)

    # -- turns ------------------------------------------------------------------------------

    def start_turn(self, client: str) -> Callable[[], None]:
        """Count a turn of `client` starting now, or raise LimitExceeded; call the result when it ends."""
        s = self.settings
        now = self._clock()
        starts = forget_before(self._turn_starts.setdefault(client, deque()), now - 60)
        if len(starts) >= s.turns_per_minute:
            wait = 60 - (now - starts[0])
            raise LimitExceeded(
                f"Too many turns from your address: at most {s.turns_per_minute} a minute. "
                f"Try again in {max(1, round(wait))} s."
            )
        if self._in_flight >= s.max_turns_in_flight:
            raise LimitExceeded(
                f"The server is busy ({s.max_turns_in_flight} turns running). Try again in a few seconds."
            )
        starts.append(now)
        self._in_flight += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._in_flight -= 1

        return release

    def snapshot(self) -> dict[str, Any]:
        return {
            "sessions": len(self._sessions),
            "detached": len(self._detached),  # pages gone, their sessions waiting for a reload
            "clients": len(self._per_client),
            "turns_in_flight": self._in_flight,
        }


def _duration(seconds: float) -> str:
    return f"{max(1, round(seconds))} seconds" if seconds < 90 else f"{round(seconds / 60)} minutes"


def client_address(request: Any) -> str:
    """The client address of a Gradio (or Starlette) request; "unknown" when there is none."""
    client = getattr(request, "client", None)
    host = getattr(client, "host", None)
    return str(host) if host else "unknown"
