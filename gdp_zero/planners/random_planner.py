"""A uniformly random act, written by the responder: the floor every planner should beat."""

from __future__ import annotations

import random
import time
from typing import Any

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.planners.base import ProgressCallback, usage_since
from gdp_zero.records import PlannerTurn
from gdp_zero.roles import Roles


class RandomPlanner:
    name = "random"

    def __init__(self, roles: Roles, domain: Domain, ledger: UsageLedger, seed: int | None = None) -> None:
        self.roles, self.domain, self.ledger = roles, domain, ledger
        self.seed = seed
        self.rng = random.Random(seed)

    def describe(self) -> dict[str, Any]:
        return {"planner": self.name, "seed": self.seed}

    def forget(self) -> None:
        pass

    async def plan(self, dialogue: Dialogue, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        started, mark = time.monotonic(), self.ledger.mark()
        act = self.rng.choice(self.domain.legal_system_acts(dialogue))
        (reply,) = await self.roles.responder.respond(dialogue, act)
        return PlannerTurn(
            planner=self.name,
            act=act,
            reply=reply,
            seconds=time.monotonic() - started,
            usage=usage_since(self.ledger, mark),
        )
