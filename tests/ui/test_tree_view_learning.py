"""The tree panel shows the debate behind a node's value and the lessons a turn recalled, escaped."""

from __future__ import annotations

from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.planners import GDPZeroConfig
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
