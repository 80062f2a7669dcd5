"""The tree panel shows the model's answers behind a node's P and V (or the debate behind V) and the lessons
a turn recalled, escaped."""

from __future__ import annotations

import html

from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.planners import GDPZeroConfig
from tests.conftest import plan_first_reply
from ui.tree_view import find_node, node_details_html, tree_summary_html

TREE = {
    "q0": 0.25, "choose_by": "value", "chosen_act": "emotion appeal", "simulations": [], "rounds": [],
    "lessons": [{"id": 4, "text": "Worked: [personal story]. <b>bold</b>", "similarity": 0.8312, "from": "nurse-0002"}],
    "root": {
        "path": [], "visits": 1, "value": 0.1, "prior": {"emotion appeal": 1.0}, "child_visits": {"emotion appeal": 1},
        "q": {"emotion appeal": 0.5}, "realizations": [],
        "children": [{
            "path": ["emotion appeal"], "visits": 0, "value": 0.5, "prior": {}, "child_visits": {}, "q": {},
            "realizations": [], "children": [],
            "explanation": {"debate": {
                "arguments": [{"side": "for", "round": 1, "text": "They said <script>x</script> it was good."},
                              {"side": "against", "round": 1, "text": "Money is tight."}],
                "answers": ["positive reaction", "positive reaction", "neutral"], "value": 0.5,
            }},
        }],
    },
}


def test_a_debated_node_shows_both_sides_and_the_judges_answers():
    shown = node_details_html(find_node(TREE, "emotion appeal"), TREE)
    assert "V(s) from a debate: 0.500" in shown
    assert "round 1, will donate:</span> They said &lt;script&gt;x&lt;/script&gt; it was good." in shown
    assert "round 1, will not donate:</span> Money is tight." in shown
    assert "positive reaction ×2, neutral ×1" in shown
    assert "debate" not in node_details_html(find_node(TREE, None), TREE)  # the root's value came from no debate


def test_the_summary_lists_the_recalled_lessons_only_when_memory_is_on():
    with_lessons = tree_summary_html(TREE, "gdpzero", 1)
    assert "Worked: [personal story]. &lt;b&gt;bold&lt;/b&gt;" in with_lessons
    assert "similarity 0.83 · learned in nurse-0002" in with_lessons
    assert "Memory on: no lesson recalled" in tree_summary_html(TREE | {"lessons": []}, "gdpzero", 1)
    without = {k: v for k, v in TREE.items() if k != "lessons"}
    assert "lesson" not in tree_summary_html(without, "gdpzero", 1).lower()


async def test_a_real_debate_turn_renders(make_settings, fake_server):
    search = GDPZeroConfig(simulations=3, realizations=1, prior_samples=2, value_samples=2, value="debate")
    session = build_session(make_settings(fake_server.base_url), ChatOptions(search=search))
    try:
        planned = await session.open()
    finally:
        await session.aclose()
    assert "V(s) from a debate" in node_details_html(find_node(planned.tree, "greeting"), planned.tree)


def test_a_node_shows_the_model_answers_behind_its_prior_and_value_with_their_parse():
    node = TREE["root"]["children"][0]
    answered = {**TREE, "root": {**TREE["root"], "children": [{**node, "explanation": {
        "value_answers": [
            {"raw": "[positive reaction] Sure, <i>maybe</i>.", "act": "positive reaction", "fallback": None, "times": 3},
            {"raw": "I would rather not say", "act": None, "fallback": "unknown_act", "times": 1},
        ],
        "prior_answers": [{"raw": "personal story]", "act": "personal story", "fallback": None, "times": 2}],
    }}]}}
    shown = node_details_html(find_node(answered, "emotion appeal"), answered)
    assert html.escape("simulated persuadee's answers to the value question (4 answers, 1 unreadable)") in shown
    assert "[positive reaction] Sure, &lt;i&gt;maybe&lt;/i&gt;.</code> → <span class=\"act-tag\">positive reaction</span> <b>×3</b>" in shown
    assert "I would rather not say</code> → <i>no act read (unknown_act), dropped</i>" in shown
    assert html.escape("prior over the next acts, from the policy's sampled answers (2 answers)") in shown


async def test_a_real_turn_keeps_what_the_model_answered_for_every_evaluated_node(make_settings, fake_server):
    search = GDPZeroConfig(simulations=4, realizations=1, prior_samples=5, value_samples=4, reuse_tree=False)
    planned = await plan_first_reply(make_settings(fake_server.base_url), search)
    evaluated = [n for n in planned.tree["root"]["children"] if n["value"] is not None]
    assert evaluated
    for node in [planned.tree["root"], *evaluated]:
        answers = node["explanation"]
        assert sum(a["times"] for a in answers["value_answers"]) == 4
        assert sum(a["times"] for a in answers["prior_answers"]) == 5
    child = evaluated[0]
    shown = node_details_html(find_node(planned.tree, child["path"][-1]), planned.tree)
    first = child["explanation"]["value_answers"][0]
    assert html.escape(first["raw"]) in shown and f'<span class="act-tag">{first["act"]}</span>' in shown
