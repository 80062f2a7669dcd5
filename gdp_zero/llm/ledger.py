"""What the LLM calls of a session cost: calls, tokens, seconds, retries and fallbacks, per role and turn."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Iterable


@dataclass
class CallRecord:
    """One logical HTTP request (its retries included) made for a role."""

    role: str
    turn: int
    prompt_tokens: int
    completion_tokens: int
    seconds: float  # time spent on the wire across attempts, not queueing or backing off
    n_requested: int
    retries: int
    topped_up: bool  # a single-sample request made because the server ignored `n`
    api: str


@dataclass
class RoleUsage:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    retries: int = 0
    topped_up: int = 0
    fallbacks: int = 0


@dataclass(frozen=True)
class _Fallback:
    role: str
    turn: int
    kind: str


class UsageLedger:
    """An append-only log of calls and parsing fallbacks, summarised on demand.

    Thread-safe so a UI thread can read it while the search loop writes.
    """

    def __init__(self) -> None:
        # Set by the session before it plans a turn; new records are attributed to it.
        self.turn = 0
        self._events: list[CallRecord | _Fallback] = []
        self._lock = threading.Lock()

    def record_call(self, record: CallRecord) -> None:
        with self._lock:
            self._events.append(record)

    def record_fallback(self, role: str, kind: str) -> None:
        with self._lock:
            self._events.append(_Fallback(role, self.turn, kind))

    def by_role(self, turn: int | None = None) -> dict[str, RoleUsage]:
        return _summarise(self._select(turn))

    def total(self, turn: int | None = None) -> RoleUsage:
        return _sum(self.by_role(turn).values())

    def fallback_kinds(self, turn: int | None = None) -> dict[str, int]:
        return dict(Counter(e.kind for e in self._select(turn) if isinstance(e, _Fallback)))

    def mark(self) -> int:
        with self._lock:
            return len(self._events)

    def since(self, mark: int) -> dict[str, RoleUsage]:
        with self._lock:
            return _summarise(self._events[mark:])

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            turns = sorted({e.turn for e in self._events})
        return {
            "session": self._summary_dict(None),
            "turns": [{"turn": t, **self._summary_dict(t)} for t in turns],
        }

    def _summary_dict(self, turn: int | None) -> dict[str, Any]:
        by_role = self.by_role(turn)
        return {
            "by_role": {role: asdict(usage) for role, usage in by_role.items()},
            "total": asdict(_sum(by_role.values())),
            "fallback_kinds": self.fallback_kinds(turn),
        }

    def _select(self, turn: int | None) -> list[CallRecord | _Fallback]:
        with self._lock:
            return [e for e in self._events if turn is None or e.turn == turn]


def _summarise(events: Iterable[CallRecord | _Fallback]) -> dict[str, RoleUsage]:
    usage: dict[str, RoleUsage] = {}
    for event in events:
        role = usage.setdefault(event.role, RoleUsage())
        if isinstance(event, _Fallback):
            role.fallbacks += 1
            continue
        role.calls += 1
        role.prompt_tokens += event.prompt_tokens
        role.completion_tokens += event.completion_tokens
        role.seconds += event.seconds
        role.retries += event.retries
        role.topped_up += int(event.topped_up)
    return usage


def _sum(usages: Iterable[RoleUsage]) -> RoleUsage:
    total = RoleUsage()
    for usage in usages:
        for name, value in asdict(usage).items():
            setattr(total, name, getattr(total, name) + value)
    return total
