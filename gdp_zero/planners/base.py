"""One interface for every planner and one record for every planned turn.

The chat, the transcript, the future study store and the analytics all consume `PlannerTurn`:
the act, the reply, the search tree (GDP-Zero only), the turn's LLM usage and its timings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Protocol

from gdp_zero.dialogue import Dialogue
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.mcts.search import SearchProgress

ProgressCallback = Callable[[SearchProgress], None]


@dataclass(frozen=True)
class PlannerTurn:
    planner: str
    act: str
    reply: str
    seconds: float
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> RoleUsage fields
    tree: dict[str, Any] | None = None
    simulations: int = 0
    reused_simulations: int = 0
    stopped_by: str | None = None  # "simulations", "time_budget" or "reused" for a search
    settings: dict[str, Any] = field(default_factory=dict)  # what it ran with: the planner's parameters, models by role

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
