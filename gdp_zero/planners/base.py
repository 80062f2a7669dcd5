"""One interface for every planner; each planned turn is a `gdp_zero.records.PlannerTurn`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Callable, Protocol

from gdp_zero.dialogue import Dialogue
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.mcts.search import SearchProgress
from gdp_zero.records import PlannerTurn

ProgressCallback = Callable[[SearchProgress], None]


class Planner(Protocol):
    name: str

    def describe(self) -> dict[str, Any]:
        """The planner's name and parameters, for transcripts and study records."""
        ...

    async def plan(self, dialogue: Dialogue, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        """Choose the persuader's next act and write its reply, given the dialogue so far."""
        ...

    def forget(self) -> None:
        """Drop anything carried between turns (after an undo or restart)."""
        ...


def usage_since(ledger: UsageLedger, mark: int) -> dict[str, dict[str, Any]]:
    """LLM usage by role recorded after `mark`: what one planned turn cost."""
    return {role: asdict(usage) for role, usage in ledger.since(mark).items()}
