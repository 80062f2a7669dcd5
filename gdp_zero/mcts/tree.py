"""The open-loop search tree: nodes keyed by act sequences, each holding up to k realizations.

Node statistics follow the paper: N(s), N(s,a), a running mean Q(s,a) that starts at Q0, the
prior P(s,a) and the value V(s) measured when the node was expanded. Each realization keeps
the mean of the values backed up through it, which response selection reads. `to_dict` is the
serialisable record the UI draws and the store keeps.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Literal

from gdp_zero.mcts.model import State


@dataclass
class Realization(Generic[State]):
    state: State
    utterance: str
    reply: str
    reply_act: str
    terminal_value: float | None = None
    visits: int = 0
    value_sum: float = 0.0

    @property
    def mean_value(self) -> float | None:
        return self.value_sum / self.visits if self.visits else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "utterance": self.utterance,
            "reply": self.reply,
            "reply_act": self.reply_act,
            "terminal_value": self.terminal_value,
            "visits": self.visits,
            "mean_value": self.mean_value,
        }


@dataclass
class Node(Generic[State]):
    path: tuple[str, ...]
    realizations: list[Realization[State]] = field(default_factory=list)
    prior: dict[str, float] = field(default_factory=dict)
    value: float | None = None
    visits: int = 0
    child_visits: dict[str, int] = field(default_factory=dict)
    value_sums: dict[str, float] = field(default_factory=dict)
    children: dict[str, Node[State]] = field(default_factory=dict)
    explanation: Mapping[str, Any] | None = None  # how the model arrived at P and V, for display (its answers, a debate)
    # Bookkeeping for concurrent simulations; never serialised.
    pending_visits: dict[str, int] = field(default_factory=dict, repr=False)
    expansion: asyncio.Future[None] | None = field(default=None, repr=False)
    realizations_in_flight: int = field(default=0, repr=False)
    _realizations_changed: asyncio.Condition | None = field(default=None, repr=False)

    @property
    def expanded(self) -> bool:
        return self.value is not None

    def q(self, act: str, q0: float) -> float:
        visits = self.child_visits.get(act, 0)
        return self.value_sums.get(act, 0.0) / visits if visits else q0

    def realizations_changed(self) -> asyncio.Condition:
        if self._realizations_changed is None:
            self._realizations_changed = asyncio.Condition()
        return self._realizations_changed

    def child(self, act: str) -> Node[State]:
        if act not in self.children:
            self.children[act] = Node(self.path + (act,))
        return self.children[act]

    def best_realization(self) -> Realization[State] | None:
        """Response selection: the realization with the highest mean backed-up value."""
        scored = [r for r in self.realizations if r.visits]
        if not scored:
            return self.realizations[0] if self.realizations else None
        return max(scored, key=lambda r: r.value_sum / r.visits)

    def iter_nodes(self) -> list[Node[State]]:
        nodes = [self]
        for child in self.children.values():
            nodes.extend(child.iter_nodes())
        return nodes

    def to_dict(self, q0: float) -> dict[str, Any]:
        return {
            "path": list(self.path),
            "visits": self.visits,
            "value": self.value,
            "prior": dict(self.prior),
            "child_visits": dict(self.child_visits),
            "q": {act: self.q(act, q0) for act in self.prior},
            "realizations": [r.to_dict() for r in self.realizations],
            "children": [c.to_dict(q0) for c in self.children.values()],
        } | ({"explanation": dict(self.explanation)} if self.explanation else {})


@dataclass(frozen=True)
class SimulationRecord:
    """One simulation: the act path it took, the value it backed up and how its leaf ended."""

    path: tuple[str, ...]
    value: float
    leaf: Literal["expanded", "terminal"]
    seconds: float


@dataclass
class HalvingRound:
    """One round of Sequential Halving at a Gumbel root: its acts (best score first) share its simulations."""

    acts: tuple[str, ...]
    simulations: int
    started_s: float
    finished: int = 0
    ended_s: float | None = None


StopReason = Literal["simulations", "time_budget", "reused"]
# "visits": the most visited root act, as published. "value": the highest Q among visited root
# acts. "shrunk": the highest shrunk Q (`shrunk_q`) among the acts visited at least `min_visits`
# times. Concurrent simulations allocate visits before their values return, so with few rounds
# of feedback N mostly echoes the prior; the raw Q of an act tried once is one noisy sample, and
# the highest of many such samples is the luckiest (the winner's curse). Shrinking Q towards the
# parent's value by its visits, and asking for a second visit, keeps that sample from winning
# (see the README's "Decisions that hold on worlds nobody tuned for").
FinalChoice = Literal["visits", "value", "shrunk"]


def mean_value(node: Node[State]) -> float:
    """The mean of every value backed up through `node`'s acts; its own V(s) before any."""
    if not node.visits:
        return node.value or 0.0
    return sum(node.value_sums.values()) / node.visits


def shrunk_q(node: Node[State], act: str, strength: float) -> float:
    """(N(s,a) Q(s,a) + kappa V(s)) / (N(s,a) + kappa): Q as a posterior mean around the parent's value.

    `strength` (kappa) is how many visits the parent's mean value counts as: the estimate of an
    act tried once stays near what the position is worth, and moves to its own mean as its
    visits grow past kappa.
    """
    return shrink(node.value_sums.get(act, 0.0), node.child_visits.get(act, 0), mean_value(node), strength)


def shrink(value_sum: float, visits: int, anchor: float, strength: float) -> float:
    """(value_sum + kappa anchor) / (visits + kappa): `anchor` when there is nothing to go on."""
    return (value_sum + strength * anchor) / (visits + strength) if visits + strength else anchor


def eligible_acts(node: Node[State], min_visits: int) -> list[str]:
    """The acts that may win: visited `min_visits` times, else (too few simulations for any) visited at all, else all."""
    for least in (min_visits, 1):
        acts = [act for act in node.prior if node.child_visits.get(act, 0) >= least]
        if acts:
            return acts
    return list(node.prior)


@dataclass
class SearchTree(Generic[State]):
    root: Node[State]
    q0: float
    choose_by: FinalChoice = "visits"
    shrinkage: float = 0.0  # "shrunk": kappa, the visits the parent's value counts as
    min_visits: int = 1  # "shrunk": the visits an act needs to win (while any act has them)
    simulations: list[SimulationRecord] = field(default_factory=list)
    reused_simulations: int = 0
    stopped_by: StopReason = "simulations"
    seconds: float = 0.0
    # Random keys that settle exact ties last: otherwise ties (common: a donation is worth
    # exactly 1.0) would always go to the act listed first in the domain file.
    tie_breaker: dict[str, float] = field(default_factory=dict)
    # Set by a Gumbel root (gdp_zero.mcts.gumbel): the noise per act, the rounds, and the act
    # that survived them, which is then the act to take whatever `choose_by` says.
    gumbel: dict[str, float] = field(default_factory=dict)
    rounds: list[HalvingRound] = field(default_factory=list)
    survivor: str | None = None

    def chosen_act(self) -> str:
        """The root act to take: a Gumbel root's survivor, else by `choose_by`, ties to the other statistic, then the prior."""
        if self.survivor is not None:
            return self.survivor
        root = self.root

        def visits_first(a: str) -> tuple[float, ...]:
            return (root.child_visits.get(a, 0), root.q(a, self.q0), root.prior[a], self.tie_breaker.get(a, 0.0))

        def value_first(a: str) -> tuple[float, ...]:
            visited = root.child_visits.get(a, 0) > 0
            q = root.q(a, self.q0) if visited else 0.0
            return (visited, q, root.child_visits.get(a, 0), root.prior[a], self.tie_breaker.get(a, 0.0))

        def shrunk_first(a: str) -> tuple[float, ...]:
            return (shrunk_q(root, a, self.shrinkage), root.child_visits.get(a, 0), root.prior[a], self.tie_breaker.get(a, 0.0))

        if self.choose_by == "shrunk":
            return max(eligible_acts(root, self.min_visits), key=shrunk_first)
        return max(root.prior, key=visits_first if self.choose_by == "visits" else value_first)

    def advance(self, act: str, realization: Realization[State]) -> SearchTree[State] | None:
        """Tree reuse: keep the subtree under `act`, rooted at the real exchange that happened.

        Open-loop statistics (N, Q, P, V) are keyed by act sequences and stay meaningful. The
        realizations below the new root were written in reply to simulated user turns the person
        never said, so they are dropped and regenerated from the real dialogue when visited.
        """
        child = self.root.children.get(act)
        if child is None or not child.expanded:
            return None
        _rebase(child, ())
        child.realizations = [realization]
        return SearchTree(root=child, q0=self.q0, choose_by=self.choose_by, shrinkage=self.shrinkage,
                          min_visits=self.min_visits, reused_simulations=child.visits)

    def to_dict(self) -> dict[str, Any]:
        return {
            "q0": self.q0,
            "choose_by": self.choose_by,
            "shrinkage": self.shrinkage,
            "min_visits": self.min_visits,
            "chosen_act": self.chosen_act() if self.root.prior else None,
            "reused_simulations": self.reused_simulations,
            "stopped_by": self.stopped_by,
            "seconds": self.seconds,
            "gumbel": dict(self.gumbel),
            "rounds": [asdict(r) for r in self.rounds],
            "simulations": [
                {"path": list(s.path), "value": s.value, "leaf": s.leaf, "seconds": s.seconds}
                for s in self.simulations
            ],
            "root": self.root.to_dict(self.q0),
        }


def _rebase(node: Node[State], path: tuple[str, ...]) -> None:
    node.path = path
    for act, child in node.children.items():
        child.realizations = []
        _rebase(child, path + (act,))


def puct_score(node: Node[State], act: str, q0: float, c_puct: float, virtual_loss: float) -> float:
    """Q(s,a) + c·P(s,a)·sqrt(N(s)) / (1 + N(s,a)), with in-flight simulations counted as losses."""
    pending = node.pending_visits.get(act, 0)
    visits = node.child_visits.get(act, 0) + pending
    if visits:
        q = (node.value_sums.get(act, 0.0) - pending * virtual_loss) / visits
    else:
        q = q0
    parent_visits = node.visits + sum(node.pending_visits.values())
    # As published: N(s)=0 is treated as 1e-8, so the first choice follows the prior.
    exploration = c_puct * node.prior[act] * math.sqrt(parent_visits or 1e-8) / (1 + visits)
    return q + exploration
