"""GDP-Zero: open-loop MCTS over dialogue acts, with the paper's ablations behind flags."""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Self

from pydantic.dataclasses import dataclass as pydantic_dataclass

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.mcts.config import SETTINGS, Count, SearchConfig
from gdp_zero.mcts.search import new_tree, search
from gdp_zero.mcts.tree import Realization, SearchTree
from gdp_zero.planners.base import PlannerTurn, ProgressCallback, usage_since
from gdp_zero.planners.dialogue_world import DialogueWorld
from gdp_zero.roles import Roles, ValueSource


@pydantic_dataclass(frozen=True, config=SETTINGS)
class GDPZeroConfig(SearchConfig):
    """The search's settings (`SearchConfig`, whose rules and defaults they keep) and the planner's own."""

    prior_samples: Count = 15
    value_samples: Count = 10
    # Speed (see the README's benchmark): k realizations per call, prior and value requested
    # together, and the subtree of the chosen act kept for next turn.
    batch_realizations: bool = True
    overlap_calls: bool = True
    reuse_tree: bool = True
    # A state's value: "persuadee" asks the simulated persuadee the value question (as published);
    # "debate" has two advocates argue for `debate_rounds` rounds, then a judge answers it (as R-MCTS).
    value: ValueSource = "persuadee"
    debate_rounds: Count = 1
    # The paper's ablations.
    open_loop: bool = True  # False: closed loop, one stored realization per node (k = 1)
    response_selection: bool = True  # False: write a fresh reply for the chosen act
    seed: int | None = None

    @classmethod
    def sequential(cls, **overrides: Any) -> Self:
        """The published search: one simulation and one LLM call at a time, nothing reused."""
        return cls.published(**({"batch_realizations": False, "overlap_calls": False, "reuse_tree": False} | overrides))

    def search_config(self) -> SearchConfig:
        """What the search reads: its own settings, with one realization per node in a closed loop."""
        own = {f.name: getattr(self, f.name) for f in fields(SearchConfig)}
        return SearchConfig(**(own | {"realizations": self.realizations if self.open_loop else 1}))


@dataclass
class _Carried:
    """What tree reuse needs from the last turn: the tree and the dialogue it was planned for."""

    tree: SearchTree[Dialogue]
    dialogue: Dialogue


class GDPZeroPlanner:
    name = "gdpzero"

    def __init__(self, roles: Roles, domain: Domain, ledger: UsageLedger, config: GDPZeroConfig) -> None:
        roles = roles.with_value(config.value, config.debate_rounds)
        self.roles, self.domain, self.ledger, self.config = roles, domain, ledger, config
        batch = config.search_config().realizations if config.batch_realizations else 1
        self.world = DialogueWorld(roles, domain, overlap_calls=config.overlap_calls, utterances_per_call=batch)
        self.rng = random.Random(config.seed)
        self._carried: _Carried | None = None

    def describe(self) -> dict[str, Any]:
        return {"planner": self.name, **asdict(self.config)}

    def forget(self) -> None:
        self._carried = None

    async def plan(self, dialogue: Dialogue, on_progress: ProgressCallback | None = None) -> PlannerTurn:
        started, mark = time.monotonic(), self.ledger.mark()
        self.world.forget_spares()
        tree = await search(
            self.world,
            dialogue,
            self.config.search_config(),
            rng=self.rng,
            tree=self._reusable_tree(dialogue) or self._fresh_tree(dialogue),
            on_progress=on_progress,
        )
        act = tree.chosen_act()
        reply = await self._reply(tree, dialogue, act)
        self._carried = _Carried(tree, dialogue) if self.config.reuse_tree else None
        return PlannerTurn(
            planner=self.name,
            act=act,
            reply=reply,
            seconds=time.monotonic() - started,
            usage=usage_since(self.ledger, mark),
            tree=tree.to_dict() | {"chosen_reply": reply},
            simulations=len(tree.simulations),
            reused_simulations=tree.reused_simulations,
            stopped_by=tree.stopped_by,
        )

    async def _reply(self, tree: SearchTree[Dialogue], dialogue: Dialogue, act: str) -> str:
        child = tree.root.children.get(act)
        best = child.best_realization() if child is not None else None
        if self.config.response_selection and best is not None:
            return best.utterance
        (fresh,) = await self.roles.responder.respond(dialogue, act)
        return fresh

    def _real_exchange(self, dialogue: Dialogue) -> Realization[Dialogue]:
        """The root's realization: the real dialogue, with its last exchange shown in the tree."""
        said, answered = dialogue.last("system"), dialogue.last("user")
        return Realization(
            dialogue,
            said.text if said else "",
            answered.text if answered else "",
            answered.act if answered else "",
            self.domain.outcome(dialogue),
        )

    def _fresh_tree(self, dialogue: Dialogue) -> SearchTree[Dialogue]:
        tree = new_tree(dialogue, self.config.search_config())
        tree.root.realizations = [self._real_exchange(dialogue)]
        return tree

    def _reusable_tree(self, dialogue: Dialogue) -> SearchTree[Dialogue] | None:
        """The last turn's subtree under the act taken, if `dialogue` continues that turn."""
        carried, self._carried = self._carried, None
        if carried is None:
            return None
        before = carried.dialogue.turns
        if len(dialogue) != len(before) + 2 or dialogue.turns[: len(before)] != before:
            return None
        said, answered = dialogue.turns[-2], dialogue.turns[-1]
        if said.speaker != "system" or answered.speaker != "user":
            return None
        return carried.tree.advance(said.act, self._real_exchange(dialogue))
