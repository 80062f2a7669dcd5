"""The summary above the tree says why the act won: its N and Q beside the runner-up's."""

from __future__ import annotations

from gdp_zero.mcts.tree import Node, Realization, SearchTree
from ui.tree_view import tree_summary_html


def test_the_summary_names_the_winner_and_the_runner_up_with_their_visits_and_q():
    acts = ("self-modeling", "proposition of donation")
    root = Node((), [Realization("s", "", "", "")], prior={a: 0.5 for a in acts}, value=0.1)
    root.child_visits = {"self-modeling": 12, "proposition of donation": 1}
    root.value_sums = {"self-modeling": 2.4, "proposition of donation": 1.0}
    root.visits = 13
    tree = SearchTree(root=root, q0=0.25, choose_by="shrunk", shrinkage=2.0, min_visits=2).to_dict()
    summary = tree_summary_html(tree, "gdpzero", simulations=13)
    assert "(highest shrunk Q)" in summary
    assert '<div class="why-chosen">' in summary
    assert "self-modeling, N = 12, Q = 0.20" in summary
    assert "runner-up proposition of donation: N = 1, Q = 1.00" in summary and "too few visits to win" in summary
