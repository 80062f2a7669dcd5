"""The demo's canned world is coherent: run through the real roles, over HTTP, against the fake server."""

from __future__ import annotations

from collections import Counter

import pytest

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import load_domain
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_world import PERSUADEE_LINES, PERSUADER_LINES
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.roles import Roles

DOMAIN = load_domain()
OPENING = Dialogue().add("system", "greeting", "Hello! How are you doing today?").add(
    "user", "neutral", "I'm fine, thanks. What is this about?")


def test_the_canned_texts_cover_the_domain_acts() -> None:
    assert set(PERSUADER_LINES) == set(DOMAIN.system_act_names)
    assert set(PERSUADEE_LINES) == set(DOMAIN.user_act_names)


async def test_the_tagger_gives_every_canned_persuadee_line_its_own_act(make_settings, fake_server) -> None:
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    tagger = Roles.build(client, DOMAIN).tagger
    people = {
        "Honestly, this sounds like a sales pitch": "negative reaction",
        "No thanks, I'd rather not donate.": "no donation",
        "Sure, I'll give $1.": "donate",
        "That's a wonderful cause.": "positive reaction",
        "Who runs it?": "neutral",
    }
    try:
        for act, lines in PERSUADEE_LINES.items():
            for line in lines:
                assert (await tagger.tag(OPENING, line)).act == act, line
        for line, act in people.items():
            assert (await tagger.tag(OPENING, line)).act == act, line
    finally:
        await client.aclose()


async def test_the_persuader_greets_at_the_start_and_not_again(make_settings, fake_server) -> None:
    """Three demo chats of five replies each: the greeting opens each and is never chosen again."""
    messages = ["Hi, I'm fine.", "Hmm, tell me more.", "Honestly, this sounds like a sales pitch",
                "That sounds like a really good cause.", "Okay, I see."]
    chosen: list[str] = []
    for seed in range(3):
        search = GDPZeroConfig(simulations=10, realizations=2, prior_samples=10, value_samples=5, seed=seed)
        session = build_session(make_settings(fake_server.base_url), ChatOptions(search=search))
        try:
            assert (await session.open()).act == "greeting"
            for message in messages:
                chosen.append((await session.send(message)).act)
        finally:
            await session.aclose()
    assert "greeting" not in chosen, chosen


async def test_the_policy_prior_rarely_proposes_a_greeting_mid_dialogue(make_settings, fake_server) -> None:
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    try:
        prior = (await Roles.build(client, DOMAIN, prior_samples=60).policy.prior(OPENING)).probabilities
    finally:
        await client.aclose()
    assert prior["greeting"] == min(prior.values())
    assert prior["greeting"] < 0.5 / len(prior)


def _after(*exchanges: tuple[str, str]) -> Dialogue:
    """OPENING then each (persuader act, persuadee act) with the canned texts of those acts."""
    dialogue = OPENING
    for system_act, user_act in exchanges:
        dialogue = dialogue.add("system", system_act, PERSUADER_LINES[system_act][0])
        if user_act:
            dialogue = dialogue.add("user", user_act, PERSUADEE_LINES[user_act][0])
    return dialogue


async def _reactions(client: LLMClient, dialogue: Dialogue, n: int = 80) -> Counter[str]:
    replies = await Roles.build(client, DOMAIN).user_simulator.reply(dialogue, n=n)
    for reply in replies:  # each reply's text is one written for its act
        assert reply.text in PERSUADEE_LINES[reply.act]
    return Counter(reply.act for reply in replies)


async def test_simulated_replies_react_to_the_act_they_answer(make_settings, fake_server) -> None:
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    try:
        inquiry = await _reactions(client, _after(("source-related inquiry", "")))
        appeal = await _reactions(client, _after(("emotion appeal", "")))
        late_greeting = await _reactions(client, _after(("greeting", "")))
        early_ask = await _reactions(client, _after(("proposition of donation", "")))
        warm_ask = await _reactions(client, _after(("emotion appeal", "positive reaction"),
                                                   ("credibility appeal", "positive reaction"),
                                                   ("proposition of donation", "")))
    finally:
        await client.aclose()
    assert inquiry["neutral"] > 40 and inquiry["donate"] == 0  # a question gets an answer, not money
    assert appeal["positive reaction"] > inquiry["positive reaction"]
    assert late_greeting["negative reaction"] > appeal["negative reaction"]  # "didn't you just say hello?"
    assert warm_ask["donate"] > 2 * early_ask["donate"]  # asked after reasons to give, and warmed up


async def test_values_follow_how_the_persuadee_has_reacted(make_settings, fake_server) -> None:
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    judge = Roles.build(client, DOMAIN, value_samples=80).judge
    try:
        warm = (await judge.value(_after(("emotion appeal", "positive reaction"), ("personal story", "positive reaction")))).value
        cold = (await judge.value(_after(("greeting", "negative reaction"), ("greeting", "negative reaction")))).value
    finally:
        await client.aclose()
    assert warm > cold + 0.3
    assert -1.0 <= cold < 0.0 < warm <= 1.0


@pytest.mark.parametrize("act", sorted(PERSUADER_LINES))
async def test_the_responder_writes_a_line_of_the_act_it_was_given(make_settings, fake_server, act: str) -> None:
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    try:
        (line,) = await Roles.build(client, DOMAIN).responder.respond(OPENING, act)
    finally:
        await client.aclose()
    assert line in PERSUADER_LINES[act]

