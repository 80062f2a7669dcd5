"""An asyncio event loop whose clock jumps to the next timer instead of waiting for it.

Code that waits only on timers (`asyncio.sleep`, `asyncio.wait(timeout=...)`) runs exactly as it
would in real time, with the same interleaving of concurrent tasks, but without sleeping: when
nothing is ready to run, the clock advances to the earliest timer. Computation takes no virtual
time. The search reads time from the loop (`loop.time()`), so world latencies, time budgets and
measured durations are all virtual; benchmarks then measure wall time in units of a latency L on
a shared machine, quickly and reproducibly.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any, Awaitable, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:  # no timer pending: only real I/O can wake the loop
            return super().select(None)
        events = super().select(0)
        if not events:
            self.now += timeout
        return events


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


def run_with_virtual_clock(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion on a fresh virtual-clock loop (which starts at time 0)."""
    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(awaitable)
    finally:
        loop.close()
