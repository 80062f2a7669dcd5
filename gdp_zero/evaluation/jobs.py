"""Running many dialogues or judgments at once, each result handed back as soon as it is done."""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Awaitable, Callable, Iterable, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


async def as_done(
    items: Iterable[Item], work: Callable[[Item], Awaitable[Result]], concurrency: int
) -> AsyncIterator[Result]:
    """`work` on every item, `concurrency` at a time, yielding results in the order they finish.

    Use it under `contextlib.aclosing`: leaving the loop early, or a failure, cancels the rest.
    """
    gate = asyncio.Semaphore(concurrency)

    async def gated(item: Item) -> Result:
        async with gate:
            return await work(item)

    tasks = [asyncio.ensure_future(gated(item)) for item in items]
    try:
        for finished in asyncio.as_completed(tasks):
            yield await finished
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
