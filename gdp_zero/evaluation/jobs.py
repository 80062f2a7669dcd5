"""Resumable runs of many dialogues or judgments: run them at once, refuse to mix configurations."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from pathlib import Path
from typing import Any, AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Mapping, TypeVar

from gdp_zero.validation import ConfigError

Item = TypeVar("Item")
Result = TypeVar("Result")
# Seeds differ per dialogue or context by design; model names are the LLM's, not the planner's.
NOT_COMPARED = frozenset({"seed", "models"})


class RunMismatch(ConfigError):
    """A file holds results of another configuration under the same run name; resuming would mix them."""


def check_same_planner(where: str, item: str, stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Refuse to resume a run whose earlier `item` ran with other planner settings than `wanted`."""
    differing = sorted(k for k in set(stored) | set(wanted) if k not in NOT_COMPARED and stored.get(k) != wanted.get(k))
    if differing:
        listed = ", ".join(f"{k}: file {stored.get(k)!r}, now {wanted.get(k)!r}" for k in differing)
        raise RunMismatch(
            f"{where}: {item} was run with other planner settings ({listed}); write to a new file or use another --name"
        )


def check_output_file(out: Path) -> None:
    """A file to append results to: not a folder (open() would fail with a traceback)."""
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; give the file to write, e.g. {out / 'run.jsonl'}")


@contextlib.contextmanager
def only_writer(out: Path, what: str) -> Iterator[None]:
    """Hold `out` (created if missing) for this process: a second run on the same file is refused,
    not left to judge or play the same items again and interleave its lines."""
    check_output_file(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunMismatch(f"{out}: another {what} is writing this file") from None
        yield


async def as_done(
    items: Iterable[Item], work: Callable[[Item], Awaitable[Result]], concurrency: int
) -> AsyncGenerator[Result, None]:
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
