"""The whole pipeline over real HTTP: session -> planner -> roles -> LLM client -> fake server."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.errors import LLMError
from gdp_zero.llm.fake_server import FakeLLMServer
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.session import MAX_MESSAGE_CHARS, MessageRejected

MESSAGES = [
    "Hi, I'm doing fine, thanks.",
    "What does this charity actually do?",
    "I'm not sure my money would get there.",
    "Hmm, maybe a small amount.",
    "OK, tell me how to donate.",
]
SMALL_SEARCH = GDPZeroConfig(simulations=4, realizations=2, prior_samples=5, value_samples=4, seed=1)


async def chat(settings, planner: str, search: GDPZeroConfig = SMALL_SEARCH, turns: int = 5):
    session = build_session(settings, ChatOptions(planner=planner, search=search))
    opening = await session.open()
    planned = [opening]
    for message in MESSAGES[:turns]:
        planned.append(await session.send(message))
    return session, planned


@pytest.mark.parametrize(
    "planner,search",
    [
        ("gdpzero", SMALL_SEARCH),
        ("gdpzero", GDPZeroConfig.sequential(simulations=3, realizations=2, prior_samples=4, value_samples=3, seed=2)),
        ("gdpzero", replace(SMALL_SEARCH, root="gumbel", simulations=6)),
        ("prompting", SMALL_SEARCH),
        ("random", SMALL_SEARCH),
    ],
    ids=["gdpzero-fast", "gdpzero-sequential", "gdpzero-gumbel", "prompting", "random"],
)
async def test_a_five_turn_chat_completes_with_every_planner(fake_server, make_settings, planner, search):
    session, planned = await chat(make_settings(fake_server.base_url), planner, search)
    domain = session.domain
    try:
        assert planned[0].act == domain.first_act
        assert [t.speaker for t in session.log] == ["system"] + ["user", "system"] * 5
        for turn in session.log:
            allowed = domain.system_act_names if turn.speaker == "system" else domain.user_act_names
            assert turn.act in allowed and turn.text.strip()
        for p in planned:
            assert sum(u["calls"] for u in p.usage.values()) >= 1
        if planner == "gdpzero":
            for p in planned:
                assert p.tree is not None and p.tree["chosen_act"] == p.act
                assert p.simulations + p.reused_simulations == search.simulations
                if search.root == "gumbel" and p.simulations:  # Sequential Halving ran, and its survivor is the act
                    assert sum(r["finished"] for r in p.tree["rounds"]) == p.simulations
                    assert p.act in p.tree["rounds"][-1]["acts"]
            # The reply is one of the chosen act's realizations (response selection).
            last = planned[-1].tree
            chosen = next(c for c in last["root"]["children"] if c["path"] == [planned[-1].act])
            assert planned[-1].reply in [r["utterance"] for r in chosen["realizations"]]
        record = json.loads(json.dumps(session.transcript()))
        assert len(record["turns"]) == 11
        assert record["usage"]["session"]["total"]["calls"] > 0
        assert "sk-test-key" not in json.dumps(record)
    finally:
        await session.aclose()


async def test_sequential_search_makes_about_four_calls_per_simulation(fake_server, make_settings):
    search = GDPZeroConfig.sequential(simulations=5, realizations=3, seed=3)
    session, planned = await chat(make_settings(fake_server.base_url), "gdpzero", search, turns=2)
    calls = {role: u["calls"] for role, u in planned[-1].usage.items()}
    # A simulation that reaches a new node: responder, user simulator, policy, judge; one that ends
    # in a donation: responder and user simulator (or nothing, on a stored donation).
    expanded = sum(1 for s in planned[-1].tree["simulations"] if s["leaf"] == "expanded")
    assert calls["policy"] == calls["judge"] == 1 + expanded  # + the root expansion
    assert expanded <= calls["responder"] == calls["user_simulator"] <= planned[-1].simulations
    await session.aclose()


async def test_tree_reuse_carries_the_chosen_subtree_into_the_next_turn(fake_server, make_settings):
    session, planned = await chat(make_settings(fake_server.base_url), "gdpzero", GDPZeroConfig(simulations=8, seed=5), turns=3)
    assert sum(p.reused_simulations for p in planned[1:]) > 0
    await session.aclose()


@pytest.mark.parametrize("fake_server", [{"fault_rate": 0.3, "faults": ("429", "500"), "seed": 7}], indirect=True)
async def test_retries_carry_a_chat_through_30_percent_server_errors(fake_server, make_settings):
    session, planned = await chat(make_settings(fake_server.base_url, max_retries=8), "gdpzero")
    assert len(session.log) == 11
    assert session.client.ledger.total().retries > 0
    assert sum(fake_server.stats.faults.values()) > 0
    await session.aclose()


@pytest.mark.parametrize("fault", ["malformed", "empty"])
async def test_every_malformed_reply_kind_is_survived_and_counted(make_settings, fault):
    with FakeLLMServer(fault_rate=1.0, faults=(fault,)) as server:
        for planner in ("gdpzero", "prompting", "random"):
            session, planned = await chat(make_settings(server.base_url), planner, turns=2)
            domain = session.domain
            for turn in session.log:
                allowed = domain.system_act_names if turn.speaker == "system" else domain.user_act_names
                assert turn.act in allowed and turn.text.strip()
            assert sum(session.client.ledger.fallback_kinds().values()) > 0
            await session.aclose()


async def test_bad_messages_are_refused_with_a_reason_and_nothing_is_lost(fake_server, make_settings):
    session = build_session(make_settings(fake_server.base_url), ChatOptions(planner="random"))
    await session.open()
    with pytest.raises(MessageRejected, match="empty"):
        await session.send("   ")
    with pytest.raises(MessageRejected, match=str(MAX_MESSAGE_CHARS)):
        await session.send("x" * (MAX_MESSAGE_CHARS + 1))
    await session.send("<script>alert('x')</script> 你好，我不确定")
    assert session.log[-2].text == "<script>alert('x')</script> 你好，我不确定"
    await session.aclose()


async def test_an_endpoint_failing_mid_turn_keeps_the_message_for_a_retry(make_settings):
    server = FakeLLMServer().start()
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    session = build_session(make_settings(server.base_url, max_retries=1), ChatOptions(planner="prompting"))
    await session.open()
    server.stop()
    with pytest.raises(LLMError):
        await session.send("Are you still there?")
    assert session.pending == "Are you still there?"
    assert len(session.log) == 1
    with FakeLLMServer(port=port):
        planned = await session.retry()
        assert [t.text for t in session.log][1] == "Are you still there?"
        assert planned.reply
    await session.aclose()


async def test_undo_and_restart(fake_server, make_settings):
    session, _ = await chat(make_settings(fake_server.base_url), "gdpzero", turns=2)
    assert session.undo()
    assert [t.speaker for t in session.log] == ["system", "user", "system"]
    session.restart()
    assert session.log == [] and not session.undo()
    await session.aclose()



def _nodes(tree: dict) -> list[dict]:
    stack, nodes = [tree["root"]], []
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node["children"])
    return nodes


async def test_closed_loop_ablation_keeps_one_realization_per_node(fake_server, make_settings):
    search = GDPZeroConfig(simulations=12, realizations=3, open_loop=False, seed=4)
    session, planned = await chat(make_settings(fake_server.base_url), "gdpzero", search, turns=2)
    assert max(len(n["realizations"]) for n in _nodes(planned[-1].tree) if n["path"]) == 1
    await session.aclose()


@pytest.mark.parametrize("selection", [True, False])
async def test_response_selection_or_a_fresh_reply(fake_server, make_settings, selection):
    search = GDPZeroConfig.sequential(simulations=6, response_selection=selection, seed=4)
    session, planned = await chat(make_settings(fake_server.base_url), "gdpzero", search, turns=1)
    last = planned[-1]
    written_in_search = sum(len(n["realizations"]) for n in _nodes(last.tree) if n["path"])
    # Without response selection the responder writes one more utterance: the reply itself.
    assert last.usage["responder"]["calls"] == written_in_search + (0 if selection else 1)
    chosen = next(c for c in last.tree["root"]["children"] if c["path"] == [last.act])
    if selection:
        best = max((r for r in chosen["realizations"] if r["visits"]), key=lambda r: r["mean_value"])
        assert last.reply == best["utterance"]
    await session.aclose()


async def test_a_message_whose_reply_failed_after_tagging_blocks_a_second_one(make_settings):
    server = FakeLLMServer().start()
    session = build_session(make_settings(server.base_url, max_retries=0), ChatOptions(planner="prompting"))
    await session.open()
    original = session.planner.plan

    async def failing_plan(dialogue, on_progress=None):
        raise LLMError("the endpoint went away")

    session.planner.plan = failing_plan
    with pytest.raises(LLMError):
        await session.send("First message")
    assert session.log[-1].speaker == "user" and session.pending is None  # tagged, no reply yet
    with pytest.raises(MessageRejected, match="no reply yet"):
        await session.send("Second message")
    session.planner.plan = original
    planned = await session.retry()
    assert [t.text for t in session.log][1:] == ["First message", planned.reply]
    await session.aclose()
    server.stop()


async def test_changing_the_planner_keeps_the_dialogue(fake_server, make_settings):
    session, _ = await chat(make_settings(fake_server.base_url), "random", turns=1)
    session.change_planner("gdpzero", SMALL_SEARCH)
    planned = await session.send("Tell me more.")
    assert planned.planner == "gdpzero" and len(session.log) == 5
    await session.aclose()


async def test_the_person_has_the_last_word_at_the_turn_limit(fake_server, make_settings):
    session = build_session(make_settings(fake_server.base_url), ChatOptions(planner="random", max_exchanges=2))
    try:
        await session.open()
        second = await session.send("Hello, what is this about?")  # the persuader's 2nd turn: the last one
        assert second is not None and session.dialogue.exchanges == 2 and session.ending is None
        assert await session.send("No thanks, not today.") is None  # answered, not left on the persuader's turn
        assert session.end_reason == "turn_limit" and session.log[-1].speaker == "user"
        assert "turn limit of 2 exchanges" in (session.ending or "")
        with pytest.raises(MessageRejected, match="has ended"):
            session.check_send("Are you still there?")
    finally:
        await session.aclose()


async def test_regenerate_keeps_both_versions_and_feedback_lands_in_the_transcript(fake_server, make_settings):
    from gdp_zero.records import DialogueRecord

    session = build_session(make_settings(fake_server.base_url), ChatOptions(search=SMALL_SEARCH))
    try:
        await session.open()
        await session.send("What is this about?")
        first = session.log[-1]
        session.give_feedback(len(session.log) - 1, rating="down", note="too pushy")
        again = await session.regenerate()
        assert len(session.log) == 3 and session.log[-1].text == again.reply
        assert [t.text for t in session.log[-1].replaced] == [first.text]
        assert session.log[-1].replaced[0].feedback.rating == "down"  # the feedback stays with its version
        await session.regenerate()
        assert [t.text for t in session.log[-1].replaced] == [first.text, again.reply]
        session.give_feedback(2, rating="up")
        session.give_feedback(2, note="better")
        assert (session.log[2].feedback.rating, session.log[2].feedback.note) == ("up", "better")
        with pytest.raises(MessageRejected, match="persuader's messages"):
            session.give_feedback(1, rating="up")  # the person's own message
        saved = session.transcript()
        turn = saved["turns"][2]
        assert turn["feedback"]["rating"] == "up" and turn["feedback"]["note"] == "better"
        assert [v["text"] for v in turn["replaced"]] == [first.text, again.reply]
        assert turn["replaced"][0]["planner_turn"]["tree"] is not None  # each version with its own search
        read = DialogueRecord.from_dict(json.loads(json.dumps(saved)))
        assert read.turns[2].feedback == session.log[2].feedback and len(read.turns[2].replaced) == 2
        session.pending = "a message still waiting for its reply"
        with pytest.raises(MessageRejected, match="regenerate"):
            await session.regenerate()
    finally:
        await session.aclose()
