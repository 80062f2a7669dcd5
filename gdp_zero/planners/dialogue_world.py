"""The dialogue as a search model: the LLM roles implement the search's two functions.

`evaluate` asks the policy prior and the judge; with `overlap_calls` both requests go out
together (one call latency instead of two). `transition` writes a persuader utterance for the
act and the simulated user's reply to it. With `utterances_per_call` = k the responder writes
k utterances in one `n`-sample call and keeps the spares for the next realizations of the same
act from the same dialogue, so batching never costs more calls than asking one at a time.
The sampled answers behind the prior and the value (and the debate, when a debate gives the
value) ride along as the evaluation's explanation, for the tree's node details. `lessons` (recalled by a reflection memory for the real dialogue)
go into every policy and responder prompt of the turn's search.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Sequence

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain
from gdp_zero.mcts.model import Evaluation, Transition
from gdp_zero.roles import Roles
from gdp_zero.roles.readings import summarise


@dataclass
class DialogueWorld:
    roles: Roles
    domain: Domain
    overlap_calls: bool = True
    utterances_per_call: int = 1
    lessons: tuple[str, ...] = ()
    # (dialogue, act) -> utterances written but not used yet; a pending batch is awaited, not repeated.
    _spares: dict[tuple[Dialogue, str], list[str]] = field(default_factory=dict, repr=False)
    _writing: dict[tuple[Dialogue, str], asyncio.Future[None]] = field(default_factory=dict, repr=False)

    def legal_acts(self, state: Dialogue) -> Sequence[str]:
        return self.domain.legal_system_acts(state)

    def forget_spares(self) -> None:
        self._spares.clear()

    async def evaluate(self, state: Dialogue) -> Evaluation:
        if self.overlap_calls:
            prior, (value, value_explanation) = await asyncio.gather(
                self.roles.policy.prior(state, self.lessons), self._value(state)
            )
        else:
            prior = await self.roles.policy.prior(state, self.lessons)
            value, value_explanation = await self._value(state)
        explanation = {"prior_answers": summarise(prior.readings)} | value_explanation
        return Evaluation(prior=prior.probabilities, value=value, explanation=explanation)

    async def _value(self, state: Dialogue) -> tuple[float, dict[str, Any]]:
        if self.roles.debate is None:
            judged = await self.roles.judge.value(state)
            return judged.value, {"value_answers": summarise(judged.readings)}
        debate = await self.roles.debate.debate(state)
        return debate.value, {"debate": debate.to_dict()}

    async def transition(self, state: Dialogue, act: str) -> Transition[Dialogue]:
        utterance = await self._utterance(state, act)
        said = state.add("system", act, utterance)
        (reply,) = await self.roles.user_simulator.reply(said)
        after = said.add("user", reply.act, reply.text)
        return Transition(after, utterance, reply.text, reply.act, self.domain.outcome(after))

    async def _utterance(self, state: Dialogue, act: str) -> str:
        key = (state, act)
        while not self._spares.get(key):
            if key in self._writing:
                await self._writing[key]
                continue
            self._writing[key] = asyncio.get_running_loop().create_future()
            try:
                written = await self.roles.responder.respond(state, act, n=self.utterances_per_call, lessons=self.lessons)
                self._spares.setdefault(key, []).extend(written)
            finally:
                self._writing.pop(key).set_result(None)
        return self._spares[key].pop(0)
