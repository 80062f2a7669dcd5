"""GDP-Zero with a reflection memory: lessons recalled for the real dialogue guide the turn's search.

Before each turn the memory recalls the lessons learned in situations most like this dialogue's;
they go into every policy-prior and responder prompt of the search (`DialogueWorld.lessons`), and
the planned turn records them (its tree's "lessons": text, similarity, the dialogue each came from)
so the transcript and the tree panel show what the planner read.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from gdp_zero.dialogue import Dialogue
from gdp_zero.memory.reflection_memory import ReflectionMemory, recalled_dicts
from gdp_zero.planners.base import PlannerTurn, ProgressCallback
from gdp_zero.planners.gdpzero import GDPZeroPlanner


class RememberingPlanner:
    def __init__(self, planner: GDPZeroPlanner, memory: ReflectionMemory) -> None:
        self.planner, self.memory = planner, memory
        self.name = planner.name

    def describe(self) -> dict[str, Any]:
        return {**self.planner.describe(), "memory": self.memory.describe()}

    def forget(self) -> None:
        self.planner.forget()

    async def plan(self, dialogue: Dialogue, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        mark = self.planner.ledger.mark()
        recalled = await self.memory.recall(dialogue)
        self.planner.world.lessons = tuple(r.lesson.text for r in recalled)
        planned = await self.planner.plan(dialogue, on_progress)
        recall_usage = self.planner.ledger.since(mark).get("embedding")
        usage = planned.usage | ({"embedding": asdict(recall_usage)} if recall_usage else {})
        return replace(planned, tree=(planned.tree or {}) | {"lessons": recalled_dicts(recalled)}, usage=usage)
