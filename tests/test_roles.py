"""The LLM roles against the fake server: sample counts, smoothing, fallbacks."""

from __future__ import annotations

import pytest

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import load_domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.roles import Roles
from gdp_zero.roles.readings import RAW_SHOWN_CHARS, Reading, summarise

DOMAIN = load_domain()
TALK = Dialogue().add("system", "greeting", "Hi there!").add("user", "neutral", "Hello. What's this about?")


@pytest.mark.parametrize("ignore_n", [False, True], ids=["server-honours-n", "server-ignores-n"])
async def test_the_prior_is_built_from_the_configured_number_of_samples(make_settings, ignore_n):
    with FakeLLMServer(ignore_n=ignore_n) as server:
        client = LLMClient(make_settings(server.base_url), UsageLedger())
        roles = Roles.build(client, DOMAIN, prior_samples=15)
        prior = (await roles.policy.prior(TALK)).probabilities
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
    prior = (await Roles.build(client, DOMAIN).policy.prior(Dialogue())).probabilities
    await client.aclose()
    assert prior == {DOMAIN.first_act: 1.0}
    assert client.ledger.total().calls == 0


async def test_the_judge_averages_the_values_of_the_answers(make_settings, fake_server):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    value = (await Roles.build(client, DOMAIN, value_samples=10).judge.value(TALK)).value
    await client.aclose()
    assert -1.0 <= value <= 1.0
    assert value * 10 == pytest.approx(round(value * 10 * 2) / 2)  # a mean of ten values in steps of 0.5
    assert client.ledger.by_role()["judge"].calls == 1


@pytest.mark.parametrize("fault", ["malformed", "empty"])
async def test_unreadable_replies_fall_back_and_are_counted(make_settings, fault):
    with FakeLLMServer(fault_rate=1.0, faults=(fault,)) as server:
        client = LLMClient(make_settings(server.base_url), UsageLedger())
        roles = Roles.build(client, DOMAIN, prior_samples=5, value_samples=4)
        prior_reading = await roles.policy.prior(TALK)
        value_reading = await roles.judge.value(TALK)
        (reply,) = await roles.user_simulator.reply(TALK)
        (utterance,) = await roles.responder.respond(TALK, "emotion appeal")
        tagged = await roles.tagger.tag(TALK, "Sure, why not.")
        await client.aclose()
    assert sum(prior_reading.probabilities.values()) == pytest.approx(1.0)  # smoothing alone: uniform
    assert value_reading.value == 0.0
    # What the model wrote is kept with the parse that dropped it, for the tree's node details.
    for reading, samples in ((prior_reading, 5), (value_reading, 4)):
        assert len(reading.readings) == samples
        assert all(r.act is None and r.fallback for r in reading.readings)
    assert reply.act in DOMAIN.user_act_names and reply.text
    assert utterance
    assert tagged.act == DOMAIN.neutral_user_act and tagged.fallback
    # Prose is a usable utterance for the responder; an empty one is not.
    responder_fallbacks = 1 if fault == "empty" else 0
    assert sum(client.ledger.fallback_kinds().values()) == 5 + 4 + 1 + responder_fallbacks + 1


async def test_the_readings_behind_p_and_v_are_what_the_model_wrote_with_their_parse(make_settings, fake_server):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    roles = Roles.build(client, DOMAIN, prior_samples=15, value_samples=10)
    prior = await roles.policy.prior(TALK)
    value = await roles.judge.value(TALK)
    await client.aclose()
    assert len(prior.readings) == 15 and len(value.readings) == 10
    read = [r.act for r in prior.readings if r.act]
    legal = DOMAIN.legal_system_acts(TALK)
    assert all(f"[{r.act}]" in r.raw.lower() for r in prior.readings if r.act) and set(read) <= set(legal)
    # The probabilities are the smoothed counts of exactly these readings.
    for act in legal:
        assert prior.probabilities[act] == pytest.approx((read.count(act) + 1) / (len(read) + len(legal)))
    values = [DOMAIN.user_act_values[r.act] for r in value.readings if r.act]
    assert value.value == pytest.approx(sum(values) / len(values))
    shown = summarise(prior.readings)
    assert sum(s["times"] for s in shown) == 15 and [s["times"] for s in shown] == sorted((s["times"] for s in shown), reverse=True)


def test_a_long_answer_is_cut_where_it_is_shown_saying_how_much():
    shown = summarise([Reading("x" * (RAW_SHOWN_CHARS + 50), None, "unknown_act")] * 2)
    assert shown == [{"raw": "x" * RAW_SHOWN_CHARS + "… (50 more characters)", "act": None, "fallback": "unknown_act", "times": 2}]
