"""The round each browser session is playing, kept server-side (its chats hold LLM clients).

A round is replaced by the session's next one and closed when its page unloads; rounds idle for
`idle_timeout_s` are closed by the next `start`, so a server never keeps more than `max_rounds`
open. Each LLM turn of a round counts against the server's per-address limits (two per message:
both persuaders plan), through `ClientLimits.start_turn`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from gdp_zero.arena.battle import Battle
from gdp_zero.arena.service import ArenaService
from gdp_zero.serving.limits import ClientLimits, LimitExceeded
from gdp_zero.session import MessageRejected


@dataclass
class Round:
    battle: Battle
    address: str
    busy: bool = False
    last_active: float = field(default_factory=time.monotonic)


class ArenaRounds:
    def __init__(self, service: ArenaService, limits: ClientLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.service, self.limits, self._clock = service, limits, clock
        self._rounds: dict[str, Round] = {}

    def __len__(self) -> int:
        return len(self._rounds)

    def get(self, key: str) -> Round | None:
        found = self._rounds.get(key)
        if found is not None:
            found.last_active = self._clock()
        return found

    async def start(self, key: str, address: str) -> Round:
        """A fresh round for `key` (its last one closed); LimitExceeded when the server has too many open."""
        await self.close(key)
        await self._close_idle()
        if len(self._rounds) >= self.limits.settings.max_sessions:
            raise LimitExceeded("The arena is full right now. Please try again in a few minutes.")
        self._rounds[key] = Round(self.service.new_battle(), address, last_active=self._clock())
        return self._rounds[key]

    async def run(self, found: Round, step: Callable[[Battle], Awaitable[None]]) -> None:
        """Run one step of the round (open, send, retry) holding a turn slot per persuader."""
        if found.busy:
            raise MessageRejected("The persuaders are still replying: wait for their replies first.")
        releases = []
        try:
            for _ in range(2):
                releases.append(self.limits.start_turn(found.address))
            found.busy = True
            await step(found.battle)
        finally:
            found.busy = False
            for release in releases:
                release()

    async def close(self, key: str) -> None:
        found = self._rounds.pop(key, None)
        if found is not None:
            for chat in found.battle.sides.values():
                await chat.aclose()

    async def close_all(self) -> None:
        for key in list(self._rounds):
            await self.close(key)

    async def _close_idle(self) -> None:
        cutoff = self._clock() - self.limits.settings.idle_timeout_s
        for key in [k for k, r in self._rounds.items() if r.last_active < cutoff and not r.busy]:
            await self.close(key)
