"""Open-loop MCTS (GDP-Zero, Yu et al. 2023), written so simulations can run concurrently.

One simulation: from the root's real state, repeatedly pick argmax PUCT, move to a
realization of the chosen act (reuse one of the child's k stored realizations, or sample a
new one while it has fewer than k), until the dialogue ends or a new node is reached and
evaluated; then back the value up the path as running means of Q(s,a) and of each
realization's value.

With `concurrency` > 1 several simulations are in flight at once. In-flight visits count as
losses (virtual loss) so that they spread over the tree instead of all descending the same
path; a node being expanded or a realization being written is awaited, never duplicated.
With `concurrency` = 1 no visit is ever in flight and the search is the sequential one, draw
for draw. A PUCT root keeps at most ceil(n / `waves`) simulations in flight (`in_flight`): each
finished simulation launches the next, so the values of the first wave steer the later ones.

With `root` = "gumbel" the root does not select by PUCT: it samples acts by Gumbel-top-k and
splits the simulations between them by Sequential Halving (gdp_zero.mcts.gumbel); each round's
simulations run concurrently and select by PUCT below the root.

Time is the event loop's clock (`loop.time()`, the monotonic clock by default), so a virtual
clock (gdp_zero.mcts.virtual_clock) can drive the search in benchmarks.
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, Generic, Literal

from gdp_zero.mcts.config import SearchConfig
from gdp_zero.mcts.gumbel import PlannedRound, gumbel_top_k, halving_schedule, halving_scores, sample_gumbel
from gdp_zero.mcts.model import SearchModel, State
from gdp_zero.mcts.tree import HalvingRound, Node, Realization, SearchTree, SimulationRecord, puct_score


@dataclass(frozen=True)
class SearchProgress:
    done: int
    total: int
    in_flight: int
    elapsed_s: float
    # The tree being searched, for views that draw it as it grows; it changes after this report.
    tree: SearchTree[Any] | None = field(default=None, compare=False, repr=False)


ProgressCallback = Callable[[SearchProgress], None]


class _Search(Generic[State]):
    def __init__(
        self,
        model: SearchModel[State],
        tree: SearchTree[State],
        config: SearchConfig,
        rng: random.Random,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.model, self.tree, self.config, self.rng = model, tree, config, rng
        self.on_progress = on_progress
        self.clock = asyncio.get_running_loop().time
        self.started = self.clock()
        self.target = max(config.simulations - tree.reused_simulations, 0)
        self.launched = 0
        self.in_flight = 0
        self.out_of_time = False
        # For sizing Gumbel rounds to a time budget: the slowest model calls seen and the
        # deepest expanded node (a simulation's path is at most one step longer).
        self.slowest_evaluation = self.slowest_transition = 0.0
        self.depth = max((len(n.path) for n in tree.root.iter_nodes() if n.expanded), default=0)

    async def run(self) -> SearchTree[State]:
        root = self.tree.root
        if not root.expanded:
            await self._expand(root, root.realizations[0].state)
        self._report()  # the root's acts and prior are known before any simulation ends
        if self.target == 0:
            self.tree.stopped_by = "reused"
        if self.config.root == "gumbel":
            await self._halve()
        else:
            await self._run_workers([self._worker() for _ in range(min(self.config.in_flight, self.target))])
        self.tree.tie_breaker = {act: self.rng.random() for act in root.prior}
        self.tree.seconds = self.clock() - self.started
        return self.tree

    async def _run_workers(self, coroutines: list[Coroutine[None, None, None]]) -> None:
        workers = [asyncio.create_task(coroutine) for coroutine in coroutines]
        try:
            await self._until_done_or_out_of_time(workers)
        finally:
            # Whatever is still in flight (cut by the budget, or siblings of a failure) is
            # cancelled and awaited, so no simulation holds virtual visits after we return.
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _halve(self) -> None:
        """Sequential Halving over Gumbel-top-k root acts; each round waits for all its simulations."""
        root, tree = self.tree.root, self.tree
        tree.gumbel = sample_gumbel(list(root.prior), self.rng, self.config.gumbel_scale)
        survivors = gumbel_top_k(root.prior, tree.gumbel, self.config.considered_acts)
        schedule = halving_schedule(self.target, len(survivors))
        for index, planned in enumerate(schedule):
            scores = halving_scores(root, tree.gumbel)
            survivors = sorted(survivors, key=scores.__getitem__, reverse=True)[: planned.considered]
            measuring = self.config.time_budget_s is not None and not self.slowest_transition
            simulations = self._round_size(planned, schedule[index:])
            if measuring and index + 1 < len(schedule):
                # The round that times the calls is cut to one visit per act by design, not by the
                # budget: its other visits go to the next round, which the budget sizes in its turn.
                later = schedule[index + 1]
                schedule[index + 1] = PlannedRound(later.considered, later.simulations + planned.simulations - simulations)
            elif simulations < planned.simulations:
                tree.stopped_by = "time_budget"
            if simulations == 0:
                break
            halving_round = HalvingRound(tuple(survivors), simulations, started_s=self.clock() - self.started)
            tree.rounds.append(halving_round)
            # Round-robin in score order: when the round is cut to the budget, the best get the spare visits.
            queue = [survivors[i % len(survivors)] for i in range(simulations)]
            workers = min(self.config.concurrency, simulations)
            await self._run_workers([self._round_worker(queue, halving_round) for _ in range(workers)])
            halving_round.ended_s = self.clock() - self.started
            if self.out_of_time:
                break
        # The survivor: the best of the last round's acts that have a visit (a round cut at the
        # deadline may have none of its own; its acts were visited in earlier rounds or turns).
        last = tree.rounds[-1].acts if tree.rounds else tuple(survivors)
        finalists = [act for act in last if root.child_visits[act]] or list(last)
        scores = halving_scores(root, tree.gumbel)
        tree.survivor = max(finalists, key=scores.__getitem__)

    def _round_size(self, planned: PlannedRound, rounds_left: list[PlannedRound]) -> int:
        """The round's simulations: as scheduled, or as many as fit the time left, or 0 if none fit.

        The first round gives each act one visit (a transition and an evaluation each), which
        measures the model's calls. After that a simulation is bounded by its path: at most one
        step deeper than the deepest node, each step a transition plus, at worst, waiting for
        the step's node to be evaluated. A round of w waves takes at most w such bounds; the
        waves left are shared among the rounds left, and a round is launched only if each of
        its acts gets a visit within the budget.
        """
        budget, concurrency = self.config.time_budget_s, self.config.concurrency
        if budget is None:
            return planned.simulations
        if not self.slowest_transition:
            return min(planned.simulations, planned.considered)
        simulation = (self.depth + 1) * (self.slowest_transition + self.slowest_evaluation)
        waves_left = int((budget - (self.clock() - self.started)) / simulation)
        one_visit_each = math.ceil(planned.considered / concurrency)
        if waves_left < one_visit_each:
            return 0
        waves = max(one_visit_each, waves_left // len(rounds_left))
        fits = waves * concurrency
        if fits >= planned.simulations:
            return planned.simulations
        return fits - fits % planned.considered  # equal visits for the acts that share the round

    async def _round_worker(self, queue: list[str], halving_round: HalvingRound) -> None:
        while queue and not self.out_of_time:
            act = queue.pop(0)
            self.in_flight += 1
            try:
                await self._simulate(act)
            finally:
                self.in_flight -= 1
            halving_round.finished += 1
            self._report()

    async def _until_done_or_out_of_time(self, workers: list[asyncio.Task[None]]) -> None:
        """Wait for the workers; at the budget's end return as soon as one simulation has finished."""
        budget = self.config.time_budget_s
        pending: set[asyncio.Task[None]] = set(workers)
        while pending:
            timeout = None
            if budget is not None and not self.out_of_time:
                timeout = max(budget - (self.clock() - self.started), 0.0)
            # Out of time, a worker ends as soon as its current simulation does.
            until = asyncio.FIRST_COMPLETED if self.out_of_time else asyncio.FIRST_EXCEPTION
            done, pending = await asyncio.wait(pending, timeout=timeout, return_when=until)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            if pending and budget is not None and self.clock() - self.started >= budget:
                self.out_of_time = True
                self.tree.stopped_by = "time_budget"
            if self.out_of_time and self.tree.simulations:
                return

    def _may_launch(self) -> bool:
        if self.launched >= self.target or self.out_of_time:
            return False
        budget = self.config.time_budget_s
        done = self.tree.simulations
        if budget is None or not done:
            return True
        # Launch only what is expected to finish inside the budget, judged by the mean
        # duration of finished simulations.
        expected = sum(s.seconds for s in done) / len(done)
        if self.clock() - self.started + expected <= budget:
            return True
        self.tree.stopped_by = "time_budget"
        return False

    async def _worker(self) -> None:
        while self._may_launch():
            self.launched += 1
            self.in_flight += 1
            try:
                await self._simulate()
            finally:
                self.in_flight -= 1
            self._report()

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(
                SearchProgress(
                    done=len(self.tree.simulations),
                    total=self.target,
                    in_flight=self.in_flight,
                    elapsed_s=self.clock() - self.started,
                    tree=self.tree,
                )
            )

    async def _simulate(self, root_act: str | None = None) -> None:
        """One simulation; `root_act` fixes its first act (a Gumbel root), else PUCT picks it."""
        started = self.clock()
        node = self.tree.root
        state = node.realizations[0].state
        descended: list[tuple[Node[State], str]] = []
        realized: list[Realization[State]] = []
        leaf: Literal["expanded", "terminal"]
        try:
            while True:
                act = root_act if root_act is not None and not descended else self._select(node)
                node.pending_visits[act] = node.pending_visits.get(act, 0) + 1
                descended.append((node, act))
                child = node.child(act)
                realization = await self._realize(child, state, act)
                realized.append(realization)
                if realization.terminal_value is not None:
                    value, leaf = realization.terminal_value, "terminal"
                    break
                if child.expansion is not None and not child.expansion.done():
                    await child.expansion  # another simulation is expanding it: go on below it
                elif not child.expanded:
                    value, leaf = await self._expand(child, realization.state), "expanded"
                    break
                node, state = child, realization.state
        finally:
            for parent, act in descended:
                parent.pending_visits[act] -= 1
        for (parent, act), realization in zip(descended, realized):
            parent.visits += 1
            parent.child_visits[act] += 1
            parent.value_sums[act] += value
            realization.visits += 1
            realization.value_sum += value
        path = tuple(act for _, act in descended)
        self.tree.simulations.append(SimulationRecord(path, value, leaf, self.clock() - started))

    def _select(self, node: Node[State]) -> str:
        config = self.config
        best_act, best_score = "", -float("inf")
        for act in node.prior:
            score = puct_score(node, act, config.q0, config.c_puct, config.virtual_loss)
            if score > best_score:
                best_act, best_score = act, score
        return best_act

    async def _realize(self, child: Node[State], state: State, act: str) -> Realization[State]:
        k = self.config.realizations
        changed = child.realizations_changed()
        async with changed:
            while not child.realizations and child.realizations_in_flight >= k:
                await changed.wait()
        if len(child.realizations) + child.realizations_in_flight >= k:
            return self.rng.choice(child.realizations)
        child.realizations_in_flight += 1
        try:
            called = self.clock()
            t = await self.model.transition(state, act)
            self.slowest_transition = max(self.slowest_transition, self.clock() - called)
            realization = Realization(t.state, t.utterance, t.reply, t.reply_act, t.terminal_value)
            child.realizations.append(realization)
        finally:
            child.realizations_in_flight -= 1
            async with changed:
                changed.notify_all()
        return realization

    async def _expand(self, node: Node[State], state: State) -> float:
        node.expansion = asyncio.get_running_loop().create_future()
        try:
            called = self.clock()
            evaluation = await self.model.evaluate(state)
            self.slowest_evaluation = max(self.slowest_evaluation, self.clock() - called)
            self.depth = max(self.depth, len(node.path))
            legal = self.model.legal_acts(state)
            prior = _normalise({a: evaluation.prior.get(a, 0.0) for a in legal})
            node.prior = prior
            node.child_visits = {a: 0 for a in legal}
            node.value_sums = {a: 0.0 for a in legal}
            node.pending_visits = {a: node.pending_visits.get(a, 0) for a in legal}
            node.value = evaluation.value
            node.explanation = evaluation.explanation
            node.expansion.set_result(None)
            return evaluation.value
        except BaseException as error:
            node.expansion.set_exception(error)
            node.expansion.exception()  # mark retrieved: waiters get it, the loop doesn't warn
            node.expansion = None
            raise


def _normalise(prior: dict[str, float]) -> dict[str, float]:
    total = sum(prior.values())
    if total <= 0:
        return {a: 1.0 / len(prior) for a in prior}
    return {a: p / total for a, p in prior.items()}


def new_tree(root_state: State, config: SearchConfig) -> SearchTree[State]:
    return SearchTree(root=Node((), [Realization(root_state, "", "", "")]), q0=config.q0, choose_by=config.choose_by,
                      shrinkage=config.shrinkage, min_visits=config.min_visits)


async def search(
    model: SearchModel[State],
    root_state: State,
    config: SearchConfig,
    *,
    rng: random.Random,
    tree: SearchTree[State] | None = None,
    on_progress: ProgressCallback | None = None,
) -> SearchTree[State]:
    """Run the search from `root_state` (or continue a reused `tree` rooted there)."""
    if tree is None:
        tree = new_tree(root_state, config)
    return await _Search(model, tree, config, rng, on_progress).run()
