"""The LLM's roles in the search: policy prior, responder, user simulator, judge (or debate), act tagger."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.roles.act_tagger import ActTagger
from gdp_zero.roles.debate import DebateJudge
from gdp_zero.roles.judge import Judge
from gdp_zero.roles.policy import PolicyPrior
from gdp_zero.roles.responder import Responder
from gdp_zero.roles.user_simulator import UserSimulator

ValueSource = Literal["persuadee", "debate"]
VALUE_SOURCES: tuple[ValueSource, ...] = ("persuadee", "debate")


@dataclass(frozen=True)
class Roles:
    policy: PolicyPrior
    responder: Responder
    user_simulator: UserSimulator
    judge: Judge
    tagger: ActTagger
    debate: DebateJudge | None = None  # set: a state's value comes from a debate instead of the judge

    @classmethod
    def build(
        cls,
        client: LLMClient,
        domain: Domain,
        *,
        prior_samples: int = 15,
        value_samples: int = 10,
        persona: str | None = None,
    ) -> Roles:
        """The paper's sample counts by default; `persona` conditions the simulated user."""
        return cls(
            policy=PolicyPrior(client, domain, samples=prior_samples),
            responder=Responder(client, domain),
            user_simulator=UserSimulator(client, domain, persona=persona),
            judge=Judge(client, domain, samples=value_samples),
            tagger=ActTagger(client, domain),
        )

    def with_value(self, value: ValueSource, debate_rounds: int = 1) -> Roles:
        """These roles valuing states as `value` says: "persuadee" asks the simulated persuadee, as
        published; "debate" has advocates argue for `debate_rounds` rounds and a judge answer as
        many times as the judge samples."""
        if value == "persuadee":
            return replace(self, debate=None)
        judge = self.judge
        return replace(self, debate=DebateJudge(judge.client, judge.domain, rounds=debate_rounds, samples=judge.samples))
