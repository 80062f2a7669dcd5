"""The fake world gives a reflection memory something real to learn: a persona's hidden taste."""

from __future__ import annotations

from collections import Counter

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import load_domain
from gdp_zero.llm.client import LLMClient
from gdp_zero.llm.fake_world import (
    PERSUADEE_LINES,
    PERSUADER_LINES,
    introduction,
    taste,
)
from gdp_zero.llm.ledger import UsageLedger
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.roles import Roles
from gdp_zero.roles.reflection import Reflector
from gdp_zero.roles.user_simulator import UserSimulator

DOMAIN = load_domain()
PERSONAS = load_personas([PERSONAS_DIR])
OPENING = Dialogue().add("system", "greeting", "Hello!").add("user", "neutral", "Hi. What is this about?")


def _after(act: str) -> Dialogue:
    return OPENING.add("system", act, PERSUADER_LINES[act][0])


def test_the_personas_tastes_differ_and_no_description_names_its_liked_act():
    tastes = {p.id: taste(p.description) for p in PERSONAS}
    assert len({t.liked for t in tastes.values()}) >= 3
    assert all(t.liked != t.disliked for t in tastes.values())
    assert all(tastes[p.id].liked not in p.description.lower() for p in PERSONAS)


async def test_a_persona_warms_to_its_liked_appeal_and_resents_the_other(make_settings, fake_server):
    persona = PERSONAS[0].description
    liked, disliked = taste(persona).liked, taste(persona).disliked
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    simulator = UserSimulator(client, DOMAIN, persona=persona)
    plain = UserSimulator(client, DOMAIN)
    try:
        to_liked = Counter(r.act for r in await simulator.reply(_after(liked), n=60))
        to_disliked = Counter(r.act for r in await simulator.reply(_after(disliked), n=60))
        plain_disliked = Counter(r.act for r in await plain.reply(_after(disliked), n=60))
    finally:
        await client.aclose()
    def warm(answers: Counter[str]) -> int:
        return answers["positive reaction"] + answers["donate"]

    def cold(answers: Counter[str]) -> int:
        return answers["negative reaction"] + answers["no donation"]

    assert warm(to_liked) > 40 and cold(to_disliked) > 40
    # Without the persona (the planner's own simulated user) the same appeal is not resented: the search cannot know.
    assert cold(plain_disliked) < 25


async def test_the_persuadee_introduces_itself_in_its_first_reply_only(make_settings, fake_server):
    persona = PERSONAS[1].description
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    simulator = UserSimulator(client, DOMAIN, persona=persona)
    try:
        first = await simulator.reply(Dialogue().add("system", "greeting", "Hello!"), n=5)
        later = await simulator.reply(_after("credibility appeal"), n=5)
    finally:
        await client.aclose()
    assert all(r.text.endswith(introduction(persona)) for r in first)
    assert all(r.text in PERSUADEE_LINES[r.act] for r in later)


async def test_the_canned_reflection_names_what_drew_warm_and_cold_replies(make_settings, fake_server):
    dialogue = (
        OPENING.add("system", "emotion appeal", "Imagine.").add("user", "negative reaction", "Pushy.")
        .add("system", "personal story", "A friend of mine...").add("user", "positive reaction", "Nice.")
    )
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    try:
        reflection = await Reflector(client, DOMAIN).reflect(dialogue, [], outcome=-1.0)
    finally:
        await client.aclose()
    assert reflection.lessons == ("Worked: [personal story]. Backfired: [emotion appeal].",)
    assert client.ledger.by_role()["reflection"].calls == 1


async def test_the_canned_policy_follows_lessons_in_its_prompt(make_settings, fake_server):
    client = LLMClient(make_settings(fake_server.base_url), UsageLedger())
    policy = Roles.build(client, DOMAIN, prior_samples=60).policy
    try:
        without = (await policy.prior(OPENING)).probabilities
        advised = (await policy.prior(OPENING, ["Worked: [personal story]. Backfired: [emotion appeal]."])).probabilities
    finally:
        await client.aclose()
    assert advised["personal story"] > 2 * without["personal story"]
    assert advised["emotion appeal"] < without["emotion appeal"]
