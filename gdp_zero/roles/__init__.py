"""The LLM's roles in the search: policy prior, responder, user simulator, judge, act tagger."""

from __future__ import annotations

from dataclasses import dataclass

from gdp_zero.domain import Domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.roles.act_tagger import ActTagger
from gdp_zero.roles.judge import Judge
from gdp_zero.roles.policy import PolicyPrior
from gdp_zero.roles.responder import Responder
from gdp_zero.roles.user_simulator import UserSimulator


@dataclass(frozen=True)
class Roles:
    policy: PolicyPrior
    responder: Responder
    user_simulator: UserSimulator
    judge: Judge
    tagger: ActTagger

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
