"""The debate value: advocates' calls and rounds, the judge's parse, the ledger's roles, the search's view."""

from __future__ import annotations

import pytest

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import load_domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.planners.dialogue_world import DialogueWorld
from gdp_zero.roles import Roles
from gdp_zero.roles.debate import (
    NO_ARGUMENT,
    Argument,
    DebateJudge,
    advocate_prompt,
    judge_prompt,
)
from tests.conftest import plan_first_reply

DOMAIN = load_domain()
WARM = (
    Dialogue()
    .add("system", "greeting", "Hi there!")
    .add("user", "neutral", "Hello. What's this about?")
    .add("system", "emotion appeal", "Imagine a child with nothing to eat tonight.")
    .add("user", "positive reaction", "That sounds like a really good cause.")
)


@pytest.mark.parametrize("rounds", [1, 2])
async def test_each_round_is_one_call_per_advocate_and_the_judge_one_call_of_n_samples(make_settings, fake_server, rounds):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    debate = await DebateJudge(client, DOMAIN, rounds=rounds, samples=4).debate(WARM)
    await client.aclose()
    usage = client.ledger.by_role()
    assert usage["advocate"].calls == 2 * rounds
    assert usage["debate_judge"].calls == 1
    assert "judge" not in usage  # the published judge is not asked as well
    assert [(a.side, a.round) for a in debate.arguments] == [(s, r) for r in range(1, rounds + 1) for s in ("for", "against")]
    # The fake advocates cite the persuadee: the hopeful side its warm reply, the other finds nothing cold.
    assert "good cause" in debate.arguments[0].text
    assert debate.arguments[1].text.startswith("Nothing the persuadee said")
    assert len(debate.answers) == 4 and set(debate.answers) <= set(DOMAIN.user_act_names)
    assert debate.value == pytest.approx(sum(DOMAIN.user_act_values[a] for a in debate.answers) / 4)


def test_later_rounds_answer_the_other_side_and_the_judge_reads_every_argument():
    first = advocate_prompt(DOMAIN, WARM, "for", None)
    rebuttal = advocate_prompt(DOMAIN, WARM, "against", "They said it was a good cause.")
    assert "Answer it" not in first.user and 'The other advocate just argued: "They said it was a good cause."' in rebuttal.user
    assert first.user.endswith("Allowed acts: [will donate]\nReply format: [side] argument")
    arguments = [Argument("for", 1, "Warm replies."), Argument("against", 1, "Money is tight.")]
    prompt = judge_prompt(DOMAIN, WARM, arguments)
    assert "Warm replies." in prompt.user and "Money is tight." in prompt.user
    # It ends with the published value question, answered as a persuadee act.
    assert f"[{DOMAIN.value_question_act}] {DOMAIN.value_question}" in prompt.user
    assert prompt.user.endswith("Reply format: [act]")


@pytest.mark.parametrize("fault", ["malformed", "empty"])
async def test_unreadable_answers_are_dropped_and_counted(make_settings, fault):
    with FakeLLMServer(fault_rate=1.0, faults=(fault,)) as server:
        client = LLMClient(make_settings(server.base_url), UsageLedger())
        debate = await DebateJudge(client, DOMAIN, rounds=1, samples=3).debate(WARM)
        await client.aclose()
    fallbacks = {role: usage.fallbacks for role, usage in client.ledger.by_role().items()}
    assert debate.answers == () and debate.value == 0.0
    assert fallbacks["debate_judge"] == 3
    if fault == "empty":  # an empty argument is replaced and counted; prose is kept as the argument
        assert [a.text for a in debate.arguments] == [NO_ARGUMENT, NO_ARGUMENT] and fallbacks["advocate"] == 2
    else:
        assert all(a.text and a.text != NO_ARGUMENT for a in debate.arguments)


async def test_the_search_sees_only_the_value_and_the_debate_rides_along(make_settings, fake_server):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    debating = Roles.build(client, DOMAIN, prior_samples=3, value_samples=3).with_value("debate", debate_rounds=1)
    published = Roles.build(client, DOMAIN, prior_samples=3, value_samples=3)
    with_debate = await DialogueWorld(debating, DOMAIN).evaluate(WARM)
    without = await DialogueWorld(published, DOMAIN).evaluate(WARM)
    await client.aclose()
    assert -1.0 <= with_debate.value <= 1.0 and set(with_debate.prior) == set(DOMAIN.legal_system_acts(WARM))
    shown = with_debate.explanation["debate"]
    assert shown["value"] == with_debate.value and len(shown["arguments"]) == 2
    assert "debate" not in without.explanation and len(without.explanation["value_answers"]) >= 1
    for evaluation in (with_debate, without):  # the prior's sampled answers ride along either way
        assert sum(a["times"] for a in evaluation.explanation["prior_answers"]) == 3


async def test_a_planner_set_to_debate_values_every_node_by_debate_and_the_tree_keeps_them(make_settings, fake_server):
    search = GDPZeroConfig(simulations=4, realizations=1, prior_samples=3, value_samples=3, value="debate", debate_rounds=2,
                           reuse_tree=False)  # this turn's own search, whatever the opening's left
    planned = await plan_first_reply(make_settings(fake_server.base_url), search)
    usage = planned.usage
    assert "judge" not in usage and usage["debate_judge"]["calls"] >= 1
    assert usage["advocate"]["calls"] == 4 * usage["debate_judge"]["calls"]  # 2 rounds x 2 sides per value
    nodes, stack = [], [planned.tree["root"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node["children"])
    valued = [n for n in nodes if n["value"] is not None and n["path"]]
    assert valued and all(n["explanation"]["debate"]["value"] == n["value"] for n in valued)
    assert all(len(n["explanation"]["debate"]["arguments"]) == 4 for n in valued)
    assert planned.settings["value"] == "debate" and planned.settings["debate_rounds"] == 2


def test_the_value_setting_is_checked():
    with pytest.raises(ValueError, match="value"):
        GDPZeroConfig(value="vote")
    with pytest.raises(ValueError, match="debate_rounds"):
        GDPZeroConfig(debate_rounds=0)
