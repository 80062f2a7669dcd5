"""Planners behind one interface: GDP-Zero (the search), prompting (the paper's baseline), random."""

from __future__ import annotations

from gdp_zero.domain import Domain
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.planners.base import Planner, PlannerTurn
from gdp_zero.planners.gdpzero import GDPZeroConfig, GDPZeroPlanner
from gdp_zero.planners.prompting import PromptingPlanner
from gdp_zero.planners.random_planner import RandomPlanner
from gdp_zero.roles import Roles

PLANNERS = ("gdpzero", "prompting", "random")


def build_planner(name: str, roles: Roles, domain: Domain, ledger: UsageLedger, config: GDPZeroConfig) -> Planner:
    if name == "gdpzero":
        return GDPZeroPlanner(roles, domain, ledger, config)
    if name == "prompting":
        return PromptingPlanner(roles, domain, ledger)
    if name == "random":
        return RandomPlanner(roles, domain, ledger, seed=config.seed)
    raise ValueError(f"unknown planner {name!r}: choose one of {', '.join(PLANNERS)}")


__all__ = ["PLANNERS", "GDPZeroConfig", "Planner", "PlannerTurn", "build_planner"]
