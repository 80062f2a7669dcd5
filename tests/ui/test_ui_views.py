"""The app's pure parts: the tree figure and tables, the chat messages, the usage table, the settings."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from typing import Any

import pytest

from gdp_zero.llm.ledger import CallRecord, UsageLedger
from gdp_zero.llm.settings import load_llm_settings
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.records import PlannerTurn, TurnRecord
from tests.conftest import plan_first_reply
from ui import chat_view, dropdowns, tree_view, usage_view
from ui.app import SettingsRejected, options_from_controls

HOSTILE = "<script>window.__pwned=1</script><b>bold</b> **md** [link](http://x) & it's"

ACTS = ["greeting", "emotion appeal", "logical appeal", "personal story"]


def node(path: list[str], visits: int, value: float | None, child_visits: dict[str, int],
         q: dict[str, float], children: list[dict[str, Any]], realizations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    prior = {a: 1 / len(ACTS) for a in ACTS}
    return {
        "path": path, "visits": visits, "value": value, "prior": prior,
        "child_visits": {a: child_visits.get(a, 0) for a in ACTS},
        "q": {a: q.get(a, 0.25) for a in ACTS},
        "realizations": realizations or [], "children": children,
    }


def real(utterance: str, reply: str, visits: int = 1, mean: float | None = 0.5) -> dict[str, Any]:
    return {"utterance": utterance, "reply": reply, "reply_act": "neutral", "terminal_value": None,
            "visits": visits, "mean_value": mean}


@pytest.fixture
def tree() -> dict[str, Any]:
    """Root visited 6 times: emotion appeal 4 (its child personal story 2, logical appeal 1), greeting 2."""
    deep = node(["emotion appeal", "personal story"], 1, 0.5, {}, {}, [], [real("A story.", "Nice.")])
    side = node(["emotion appeal", "logical appeal"], 0, -0.5, {}, {}, [], [real("Facts.", "Meh.", mean=-0.5)])
    emotion = node(["emotion appeal"], 3, 0.0, {"personal story": 2, "logical appeal": 1},
                   {"personal story": 0.75, "logical appeal": -0.5}, [deep, side],
                   [real("Imagine a child.", "That is sad.", 2, 0.4), real("Think of them.", HOSTILE, 2, 0.1)])
    greeting = node(["greeting"], 1, -1.0, {}, {}, [], [real("Hello!", "Hi.", 2, -1.0)])
    root = node([], 6, 0.1, {"emotion appeal": 4, "greeting": 2}, {"emotion appeal": 0.3, "greeting": -1.0},
                [greeting, emotion], [real("Hello there.", HOSTILE, 0, None)])
    return {"q0": 0.25, "chosen_act": "emotion appeal", "chosen_reply": "Imagine a child.", "reused_simulations": 0,
            "stopped_by": "simulations", "seconds": 0.5, "simulations": [], "root": root}


def traces(fig: Any) -> dict[str, Any]:
    return {t.name: t for t in fig.data}


# --- the tree figure ------------------------------------------------------------------------


def test_figure_has_one_marker_per_node(tree: dict[str, Any]) -> None:
    nodes = traces(tree_view.tree_figure(tree))["nodes"]
    assert list(nodes.customdata) == [
        "(root)", "emotion appeal", "emotion appeal › personal story", "emotion appeal › logical appeal", "greeting",
    ]
    assert len(nodes.x) == len(nodes.y) == 5


def test_marker_size_grows_with_visits(tree: dict[str, Any]) -> None:
    nodes = traces(tree_view.tree_figure(tree))["nodes"]
    size = dict(zip(nodes.customdata, nodes.marker.size))
    # N(root)=6 is the largest; then N(s,a): emotion 4 > greeting 2 = personal story 2 > logical appeal 1.
    assert size["(root)"] == tree_view.MAX_MARKER
    assert size["(root)"] > size["emotion appeal"] > size["greeting"] > size["emotion appeal › logical appeal"]
    assert size["greeting"] == size["emotion appeal › personal story"]
    assert min(size.values()) >= tree_view.MIN_MARKER


def test_colour_is_q_with_a_colour_bar(tree: dict[str, Any]) -> None:
    nodes = traces(tree_view.tree_figure(tree))["nodes"]
    colour = dict(zip(nodes.customdata, nodes.marker.color))
    assert colour["emotion appeal"] == 0.3
    assert colour["greeting"] == -1.0
    assert colour["emotion appeal › personal story"] == 0.75
    assert colour["(root)"] == 0.1  # the root has no Q: its value V
    assert nodes.marker.showscale and (nodes.marker.cmin, nodes.marker.cmax) == (-1.0, 1.0)


def test_chosen_path_is_highlighted(tree: dict[str, Any]) -> None:
    assert tree_view.chosen_path(tree) == [(), ("emotion appeal",), ("emotion appeal", "personal story")]
    fig = tree_view.tree_figure(tree)
    t = traces(fig)
    assert t["chosen path"].line.width > t["edges"].line.width
    segments = [p for p in zip(t["chosen path"].x, t["chosen path"].y) if p[0] is not None]
    assert len(segments) == 4  # two edges, two points each
    position = {label: (x, y) for label, x, y in zip(t["nodes"].customdata, t["nodes"].x, t["nodes"].y)}
    assert segments == [position["(root)"], position["emotion appeal"],
                        position["emotion appeal"], position["emotion appeal › personal story"]]
    outline = dict(zip(t["nodes"].customdata, t["nodes"].marker.line.width))
    assert outline["emotion appeal"] > outline["greeting"]
    assert outline["emotion appeal › personal story"] > outline["emotion appeal › logical appeal"]
    assert len([x for x in t["edges"].x if x is not None]) == 2 * 4  # every parent-child link


def test_layout_is_a_tree_from_the_left(tree: dict[str, Any]) -> None:
    t = traces(tree_view.tree_figure(tree))["nodes"]
    x = dict(zip(t.customdata, t.x))
    assert x["(root)"] == 0 and x["greeting"] == 1 and x["emotion appeal › personal story"] == 2
    y = dict(zip(t.customdata, t.y))
    kids = (y["emotion appeal › personal story"], y["emotion appeal › logical appeal"])
    assert min(kids) <= y["emotion appeal"] <= max(kids)  # a parent sits between its children


def test_hover_shows_statistics_and_escaped_truncated_realizations(tree: dict[str, Any]) -> None:
    nodes = traces(tree_view.tree_figure(tree))["nodes"]
    hover = dict(zip(nodes.customdata, nodes.hovertext))
    text = hover["emotion appeal"]
    for stat in ("N(s,a)=4", "Q=0.30", "P=0.25", "N(s)=3", "V=0.00", "Imagine a child.", "That is sad."):
        assert stat in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    long = dict(tree, root=dict(tree["root"], realizations=[real("x" * 500, "y" * 500)]))
    root_hover = traces(tree_view.tree_figure(long))["nodes"].hovertext[0]
    assert "x" * tree_view.HOVER_TEXT_CHARS not in root_hover and "…" in root_hover


def test_an_act_visited_without_a_node_is_still_drawn(tree: dict[str, Any]) -> None:
    tree["root"]["child_visits"]["personal story"] = 1  # e.g. the simulated user donated at once
    labels = list(traces(tree_view.tree_figure(tree))["nodes"].customdata)
    assert "personal story" in labels and len(labels) == 6
    assert "not expanded" in tree_view.hover_text(tree_view.find_node(tree, "personal story"))


def test_root_table_puts_the_chosen_act_first(tree: dict[str, Any]) -> None:
    tree["chosen_act"] = "greeting"  # chosen by Q while less visited than emotion appeal
    rows = tree_view.root_table(tree)
    assert [r[0] for r in rows][:2] == ["greeting", "emotion appeal"] and rows[0][4] == "✓"


def test_a_leaf_that_ended_the_dialogue_shows_its_value_as_v(tree: dict[str, Any]) -> None:
    donated = dict(real("Would you give?", "Count me in.", 1, 1.0), reply_act="donate", terminal_value=1.0)
    tree["root"]["children"].append(node(["proposition of donation"], 0, None, {}, {}, [], [donated]))
    tree["root"]["child_visits"]["proposition of donation"] = 1
    details = tree_view.node_details_html(tree_view.find_node(tree, "proposition of donation"))
    assert "<th>V(s), the dialogue ended here: the value of how it ended</th><td>1.000</td>" in details
    assert "N(s), simulations that went on below this node (none yet: each visit so far stopped here)" in details
    assert "N(s,a), times the search took this act from the node before</th><td>1</td>" in details


def test_the_chosen_act_says_where_its_reply_came_from(tree: dict[str, Any]) -> None:
    selected = tree_view.node_details_html(tree_view.find_node(tree, "emotion appeal"), tree)
    assert "highest mean value" in selected
    reused = dict(tree, reused_simulations=5, chosen_reply="A fresh line.")
    reused["root"]["children"][1]["realizations"] = []  # dropped by tree reuse, not visited again
    fresh = tree_view.node_details_html(tree_view.find_node(reused, "emotion appeal"), reused)
    assert "0 realizations" in fresh
    assert "reused the last turn's tree" in fresh and "written fresh" in fresh
    assert "written fresh" not in tree_view.node_details_html(tree_view.find_node(reused, "greeting"), reused)


ROOT_VISITS = [100, 30, 20, 10, 8, 7, 6, 5, 4, 3, 3, 2, 2]  # N(root, a) of 13 acts: 200 simulations


def split(visits: int, acts: int) -> list[int]:
    """`visits` over `acts` acts: one each while they last, the rest to the first."""
    each = [1 if i < visits else 0 for i in range(acts)]
    each[0] += max(visits - acts, 0)
    return each


def wide_tree() -> dict[str, Any]:
    """A consistent search of 200 simulations over 13 acts, two levels deep (each expansion ends one)."""
    names = [f"act {i}" for i in range(len(ROOT_VISITS))]

    def build(path: list[str], edge: dict[str, int], leaf: bool) -> dict[str, Any]:
        children = [] if leaf else [build(path + [a], dict(zip(names, split(n - 1, len(names)))), True)
                                    for a, n in edge.items() if n > 0]
        return {"path": path, "visits": sum(edge.values()), "value": 0.1, "prior": {a: 1 / len(names) for a in names},
                "child_visits": edge, "q": {a: 0.1 for a in names}, "realizations": [], "children": children}

    root = build([], dict(zip(names, ROOT_VISITS)), False)
    return {"q0": 0.25, "chosen_act": "act 12", "chosen_reply": "", "reused_simulations": 0,
            "stopped_by": "simulations", "seconds": 1.0, "simulations": [{}] * 200, "root": root}


def test_a_large_tree_fits_one_screen_in_the_node_link_view() -> None:
    big = wide_tree()
    assert len(list(tree_view.iter_nodes(big))) == 93  # 1 + 13 + 79 leaves: far more than a screen of rows
    fig = tree_view.tree_figure(big)
    nodes = traces(fig)["nodes"]
    parents = {tree_view.parse_path_label(label)[:-1] for label in nodes.customdata}
    leaves = [label for label in nodes.customdata if tree_view.parse_path_label(label) not in parents]
    assert len(leaves) <= tree_view.MAX_ROWS
    assert fig.layout.height <= 900
    assert "act 12" in nodes.customdata  # the chosen act stays, however rarely visited
    assert "showing" in fig.layout.title.text and "N ≥" in fig.layout.title.text
    shallow = traces(tree_view.tree_figure(big, max_depth=1))["nodes"].customdata
    assert all(len(tree_view.parse_path_label(label)) <= 1 for label in shallow)
    assert len(shallow) == 14 and "depth ≤ 1" in tree_view.tree_figure(big, max_depth=1).layout.title.text


@pytest.mark.parametrize("kind", ["icicle", "sunburst"])
def test_the_hierarchy_views_show_every_node_sized_by_visits(kind: str) -> None:
    big = wide_tree()
    (trace,) = tree_view.hierarchy_figure(big, kind).data
    assert trace.type == kind and trace.branchvalues == "total"
    assert len(trace.ids) == len(list(tree_view.iter_nodes(big))) and list(trace.ids) == list(trace.customdata)
    value = dict(zip(trace.ids, trace.values))
    assert value["(root)"] == big["root"]["visits"]
    for node_id, parent in zip(trace.ids, trace.parents):
        if parent:
            children = [value[c] for c, p in zip(trace.ids, trace.parents) if p == node_id]
            assert value[node_id] >= sum(children)  # otherwise Plotly draws nothing
    assert value["act 0"] == 100 and value["act 12"] == 2 and value["act 0 › act 0"] == 87  # area follows N(s,a)
    assert (trace.marker.cmin, trace.marker.cmax) == (-1.0, 1.0)


def test_root_table_lists_every_root_act(tree: dict[str, Any]) -> None:
    rows = tree_view.root_table(tree)
    assert [r[0] for r in rows][:2] == ["emotion appeal", "greeting"]  # most visited first
    by_act = {r[0]: r for r in rows}
    assert by_act["emotion appeal"] == ["emotion appeal", 0.25, 4, 0.3, "✓"]
    assert by_act["greeting"][4] == ""
    assert by_act["personal story"][2:4] == [0, None]  # unvisited: no Q yet (it is Q0)
    assert len(rows) == len(ACTS)


def test_node_choices_and_details(tree: dict[str, Any]) -> None:
    choices = tree_view.node_choices(tree)
    assert choices[0] == "(root)" and "emotion appeal › personal story" in choices
    assert tree_view.parse_path_label("emotion appeal › personal story") == ("emotion appeal", "personal story")
    details = tree_view.node_details_html(tree_view.find_node(tree, "emotion appeal"))
    for piece in ("N(s,a), times the search took this act", "<td>4</td>", "<td>0.300</td>", "<td>0.250</td>", "<td>3</td>", "2 realizations"):
        assert piece in details
    assert html.escape(HOSTILE) in details and "<script>" not in details  # in full, escaped
    root = tree_view.node_details_html(tree_view.find_node(tree, "(root)"))
    assert "N(s,a)" not in root and "<td>6</td>" in root
    assert tree_view.find_node(tree, "no such act") is None
    assert "Pick a node" in tree_view.node_details_html(None)


async def test_figure_of_a_real_search(fake_server: Any, make_settings: Any) -> None:
    """A tree the planner really built (fake LLM): every visited root act is a node."""
    search = GDPZeroConfig(simulations=8, realizations=2, prior_samples=3, value_samples=3)
    planned = await plan_first_reply(make_settings(fake_server.base_url), search, "Hello, what is this about?")
    tree = planned.tree
    labels = list(traces(tree_view.tree_figure(tree))["nodes"].customdata)
    visited = [a for a, n in tree["root"]["child_visits"].items() if n > 0]
    assert set(visited) <= set(labels)
    assert len(labels) == len(set(labels)) == len(list(tree_view.iter_nodes(tree)))
    assert tree_view.chosen_path(tree)[1] == (tree["chosen_act"],)


def test_empty_figure_says_why() -> None:
    fig = tree_view.empty_figure("No tree: <prompting>")
    assert "&lt;prompting&gt;" in fig.layout.annotations[0].text


# --- chat messages --------------------------------------------------------------------------


def test_literal_text_escapes_html_and_markdown() -> None:
    out = chat_view.literal(HOSTILE)
    assert "<" not in out.replace("<br>", "") and "&lt;script&gt;" in out
    assert r"\*\*md\*\*" in out and r"\[link\]\(http" in out
    assert "&amp;" in out and "it's" in out  # quotes stay plain: no numeric entity to break
    assert chat_view.literal("a\n    b") == "a<br>b"  # line breaks kept, no code block


def planned(act: str, **kw: Any) -> PlannerTurn:
    return PlannerTurn(planner=kw.pop("planner", "gdpzero"), act=act, reply="r", seconds=1.25, tree=kw.pop("tree", {}), **kw)


def test_chat_messages_tag_every_turn() -> None:
    log = [
        TurnRecord("system", "greeting", "Hello <b>", planned=planned("greeting", simulations=1)),
        TurnRecord("user", "neutral", HOSTILE),
        TurnRecord("system", "emotion appeal", "Imagine.", planned=planned("emotion appeal", simulations=7, stopped_by="time_budget")),
        TurnRecord("user", "positive reaction", "ok", tag_fallback="unparsed"),
    ]
    messages = chat_view.chat_messages(log, "still waiting")
    assert [m["role"] for m in messages] == ["assistant", "user", "assistant", "user", "user"]
    assert '<span class="act-tag" ' in messages[0]["content"] and "Hello &lt;b&gt;" in messages[0]["content"]
    assert "1 simulation ·" in messages[0]["content"]
    assert 'class="act-tag user-act"' in messages[1]["content"] and "<script>" not in messages[1]["content"]
    assert "budget-note" in messages[2]["content"] and "7 simulations" in messages[2]["content"]
    assert "(guessed)" in messages[3]["content"]
    assert "pending-tag" in messages[4]["content"] and "still waiting" in messages[4]["content"]


def test_status_lines() -> None:
    assert "time budget" in chat_view.done_text(planned("logical appeal", simulations=3, stopped_by="time_budget"))
    assert "Prompting" in chat_view.done_text(planned("greeting", planner="prompting", tree=None))
    assert "&lt;x&gt;" in chat_view.status_html("<x>", "hint") and "status-hint" in chat_view.status_html("", "hint")
    assert chat_view.error_html(None) == ""
    assert "Retry" in chat_view.error_html("down <now>") and "&lt;now&gt;" in chat_view.error_html("down <now>")


# --- usage ----------------------------------------------------------------------------------


def call(role: str, turn: int, prompt: int, completion: int) -> CallRecord:
    return CallRecord(role, turn, prompt, completion, 0.5, 1, 0, False, "chat")


def test_turn_dropdowns_number_persuader_turns_and_read_back_their_index() -> None:
    turns = [TurnRecord("system", "greeting", "Hi"), TurnRecord("user", "neutral", "Hello"),
             TurnRecord("system", "emotion appeal", "Think of the children")]
    assert dropdowns.turn_label(turns, 0) == "turn 1 · greeting"  # the admin dashboard's
    assert dropdowns.turn_label(turns, 2, "GDP-Zero") == "turn 2 · emotion appeal (GDP-Zero)"  # the chat page's
    assert dropdowns.turn_number(turns, None) == 0
    assert [dropdowns.as_index(v) for v in (2, "3", None, "", "turn 1")] == [2, 3, None, None, None]


def test_usage_rows_per_session_and_turn() -> None:
    ledger = UsageLedger()
    for record in (call("policy", 0, 100, 5), call("judge", 0, 50, 5), call("policy", 1, 200, 10),
                   call("act_tagger", 1, 30, 1), call("policy", 2, 10, 1)):
        ledger.record_call(record)
    rows = usage_view.usage_rows(ledger, {0: "turn 1 · greeting", 1: "turn 2 · emotion appeal"})
    table = {(r[0], r[1]): r for r in rows}
    assert table[("session", "policy")][2:5] == [3, 310, 16]
    assert table[("session", "all roles")][2:5] == [5, 390, 22]
    assert table[("turn 2 · emotion appeal", "act_tagger")][2:5] == [1, 30, 1]
    assert table[("turn 1 · greeting", "all roles")][2:6] == [2, 150, 10, 1.0]
    assert ("attempt #2 (failed or undone)", "policy") in table
    assert rows[0][0] == "session" and len(rows[0]) == len(usage_view.USAGE_HEADERS)


# --- planner settings -----------------------------------------------------------------------


def test_options_from_controls() -> None:
    base = GDPZeroConfig(prior_samples=3)
    options = options_from_controls(base, "gdpzero", 12, 2, 0.0, 1.5, " 2.5 ", "gumbel")
    assert options.planner == "gdpzero"
    assert options.search == replace(base, simulations=12, realizations=2, q0=0.0, c_puct=1.5, time_budget_s=2.5,
                                     root="gumbel")
    assert options_from_controls(base, "random", 10, 3, 0.25, 1, "", "puct").search.time_budget_s is None
    for bad, says in [((0, 3, 0, 1, "", "puct"), "Simulations must be at least 1"),
                      ((5, 0, 0, 1, "", "puct"), "k must be at least 1"),
                      ((5, 3, 0, 1, "-1", "puct"), "time budget must be more than 0"),
                      ((5, 3, 0, 1, "soon", "puct"), "Time budget"),
                      ((5, 3, 0, -1, "", "puct"), "c_puct must be at least 0"),
                      ((None, 3, 0, 1, "", "puct"), "whole numbers"),
                      ((201, 3, 0, 1, "", "puct"), "Simulations must be at most 200 on this server"),
                      ((5, 11, 0, 1, "", "puct"), "k must be at most 10 on this server"),
                      ((5, 3, 0, 1, "nan", "puct"), "finite"),
                      ((5, 3, 5, 1, "", "puct"), "Q0 must be between -1 and 1, got 5"),
                      ((5, 3, 0, 1, "1e9", "puct"), "time budget must be at most 300 on this server"),
                      ((5, 3, 0, 1, "", "alphazero"), "Root act selection must be one of puct, gumbel, got 'alphazero'")]:
        with pytest.raises(SettingsRejected, match=re.escape(says)):
            options_from_controls(base, "gdpzero", *bad)
    with pytest.raises(SettingsRejected, match="planner"):
        options_from_controls(base, "mcts", 10, 3, 0, 1, "", "puct")


def test_settings_shown_to_the_browser_have_no_key() -> None:
    settings = load_llm_settings(None, {}, api_key="sk-very-secret", base_url="http://127.0.0.1:9/v1")
    assert "sk-very-secret" not in repr(settings.public_dict())


def test_nothing_is_ticked_chosen_before_the_first_simulation_ends(tree: dict[str, Any]) -> None:
    starting = {key: value for key, value in tree.items() if key != "chosen_reply"}
    starting["root"] = dict(tree["root"], visits=0, child_visits={a: 0 for a in ACTS})
    assert all(row[4] == "" for row in tree_view.root_table(starting))
    assert tree_view.root_table(tree)[0][4] == "✓"


def test_identical_realizations_are_listed_once_with_their_count(tree: dict[str, Any]) -> None:
    twice = dict(tree["root"]["children"][0], realizations=[real("Hello!", "Hi."), real("Hello!", "Hi."), real("Hey", "Yo")])
    details = tree_view.node_details_html(tree_view.NodeView(("greeting",), 3, 0.1, 3, 0.1, 0.25,
                                                             tuple(twice["realizations"]), twice))
    assert details.count("Hello!") == 1 and "sampled 2 times with this same text" in details
    assert "3 realizations" in details and "1 repeated word for word, shown once" in details


def test_leaf_labels_are_wrapped_and_given_a_margin_instead_of_being_clipped(tree: dict[str, Any]) -> None:
    fig = tree_view.tree_figure(tree)
    nodes = traces(fig)["nodes"]
    assert nodes.cliponaxis is False
    leaf = nodes.text[list(nodes.customdata).index("emotion appeal › personal story")]
    assert leaf == "personal story<br>(2)"  # lines of at most 14 characters
    assert fig.layout.margin.r == 10 + 7 * len("personal story")  # the longest leaf line


def test_a_turns_simulations_can_be_stepped_through_in_order(tree: dict[str, Any]) -> None:
    ran = dict(tree, simulations=[
        {"path": ["greeting"], "value": -1.0, "leaf": "expanded", "seconds": 0.2},
        {"path": ["emotion appeal", "personal story"], "value": 0.5, "leaf": "terminal", "seconds": 0.3},
        {"path": ["emotion appeal"], "value": 0.1, "leaf": "expanded", "seconds": 0.1},
    ])
    second = tree_view.simulation_html(ran, 2)
    assert "Simulation 2 of 3" in second and "emotion appeal › personal story" in second
    assert "the dialogue ended there" in second and "0.500" in second
    assert "simulations 1–2): emotion appeal 1, greeting 1" in second
    assert "emotion appeal 2, greeting 1" in tree_view.simulation_html(ran, 99)  # past the end: the last
    assert "No simulation ran" in tree_view.simulation_html(dict(tree, simulations=[]), 1)
