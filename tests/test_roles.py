"""The LLM roles against the fake server: sample counts, smoothing, fallbacks."""

from __future__ import annotations

import pytest

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import load_domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.roles import Roles

DOMAIN = load_domain()
TALK = Dialogue().add("system", "greeting", "Hi there!").add("user", "neutral", "Hello. What's this about?")


@pytest.mark.parametrize("ignore_n", [False, True], ids=["server-honours-n", "server-ignores-n"])
async def test_the_prior_is_built_from_the_configured_number_of_samples(make_settings, ignore_n):
    with FakeLLMServer(ignore_n=ignore_n) as server:
        client = LLMClient(make_settings(server.base_url), UsageLedger())
        roles = Roles.build(client, DOMAIN, prior_samples=15)
        prior = await roles.policy.prior(TALK)
        await client.aclose()
    usage = client.ledger.by_role()["policy"]
    assert usage.calls == (15 if ignore_n else 1)
    assert usage.topped_up == (14 if ignore_n else 0)
    legal = DOMAIN.legal_system_acts(TALK)
    assert set(prior) == set(legal) and sum(prior.values()) == pytest.approx(1.0)
    # counts + 1 smoothing over 15 samples: every probability is (count + 1) / (15 + |A|).
    counts = [p * (15 + len(legal)) - 1 for p in prior.values()]
    assert all(c == pytest.approx(round(c)) and c >= -1e-9 for c in counts)
    assert sum(round(c) for c in counts) == 15


async def test_the_first_turn_allows_only_the_opening_act_without_a_call(make_settings, fake_server):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    prior = await Roles.build(client, DOMAIN).policy.prior(Dialogue())
    await client.aclose()
    assert prior == {DOMAIN.first_act: 1.0}
    assert client.ledger.total().calls == 0


async def test_the_judge_averages_the_values_of_the_answers(make_settings, fake_server):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    value = await Roles.build(client, DOMAIN, value_samples=10).judge.value(TALK)
    await client.aclose()
    assert -1.0 <= value <= 1.0
    assert value * 10 == pytest.approx(round(value * 10 * 2) / 2)  # a mean of ten values in steps of 0.5
    assert client.ledger.by_role()["judge"].calls == 1


@pytest.mark.parametrize("fault", ["malformed", "empty"])
async def test_unreadable_replies_fall_back_and_are_counted(make_settings, fault):
    with FakeLLMServer(fault_rate=1.0, faults=(fault,)) as server:
        client = LLMClient(make_settings(server.base_url), UsageLedger())
        roles = Roles.build(client, DOMAIN, prior_samples=5, value_samples=4)
        prior = await roles.policy.prior(TALK)
        value = await roles.judge.value(TALK)
        (reply,) = await roles.user_simulator.reply(TALK)
        (utterance,) = await roles.responder.respond(TALK, "emotion appeal")
        tagged = await roles.tagger.tag(TALK, "Sure, why not.")
        await client.aclose()
    assert sum(prior.values()) == pytest.approx(1.0)  # smoothing alone: uniform
    assert value == 0.0
    assert reply.act in DOMAIN.user_act_names and reply.text
    assert utterance
    assert tagged.act == DOMAIN.neutral_user_act and tagged.fallback
    # Prose is a usable utterance for the responder; an empty one is not.
    responder_fallbacks = 1 if fault == "empty" else 0
    assert sum(client.ledger.fallback_kinds().values()) == 5 + 4 + 1 + responder_fallbacks + 1
