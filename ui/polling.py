"""Run a task and poll it: the loop behind every page that shows a turn's progress while it runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


async def while_running(task: asyncio.Future[Any], every_s: float) -> AsyncIterator[None]:
    """Yield every `every_s` seconds while `task` runs, and return once it is done.

    The task is never cancelled here (asyncio.wait does not cancel what it waits for): a page
    closed mid-turn leaves the turn to finish and be stored.
    """
    while not task.done():
        await asyncio.wait({task}, timeout=every_s)
        if not task.done():
            yield
