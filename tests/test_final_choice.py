"""The root's final choice: the shrunk rule does not chase one lucky sample, and says why it chose."""

from __future__ import annotations

import pytest

from gdp_zero.mcts.explain import why_chosen
from gdp_zero.mcts.tree import Node, Realization, SearchTree, mean_value, shrunk_q

ACTS = ("self-modeling", "proposition of donation", "logical appeal")


def tree_with(stats: dict[str, tuple[int, float]], **rule) -> SearchTree[str]:
    """A root whose acts have (N, Q) as given: the demo's case by default."""
    root = Node((), [Realization("s", "", "", "")], prior={a: 1 / len(ACTS) for a in ACTS}, value=0.1)
    root.child_visits = {a: stats.get(a, (0, 0.0))[0] for a in ACTS}
    root.value_sums = {a: n * q for a, (n, q) in ((a, stats.get(a, (0, 0.0))) for a in ACTS)}
    root.visits = sum(root.child_visits.values())
    for act in ACTS:
        root.child(act).value = 0.0
    return SearchTree(root=root, q0=0.25, **rule)


LUCKY = {"self-modeling": (12, 0.20), "proposition of donation": (1, 1.0), "logical appeal": (4, -0.1)}


def test_the_highest_q_takes_the_act_tried_once_and_the_shrunk_rule_does_not():
    assert tree_with(LUCKY, choose_by="value").chosen_act() == "proposition of donation"
    assert tree_with(LUCKY, choose_by="shrunk", shrinkage=2.0, min_visits=2).chosen_act() == "self-modeling"


def test_shrinking_pulls_q_towards_the_parent_mean_by_its_visits():
    tree = tree_with(LUCKY, choose_by="shrunk", shrinkage=2.0, min_visits=1)
    parent = (12 * 0.2 + 1.0 - 0.4) / 17
    assert mean_value(tree.root) == pytest.approx(parent)
    assert shrunk_q(tree.root, "proposition of donation", 2.0) == pytest.approx((1.0 + 2 * parent) / 3)
    assert shrunk_q(tree.root, "self-modeling", 2.0) == pytest.approx((12 * 0.2 + 2 * parent) / 14)
    # Without the visits rule the one sample still wins here (0.45 against 0.20): kappa alone does
    # not stop a single value of 1.0; needing a second visit does.
    assert tree.chosen_act() == "proposition of donation"
    # With no shrinkage the rule is the highest Q among acts with enough visits.
    assert tree_with(LUCKY, choose_by="shrunk", shrinkage=0.0, min_visits=2).chosen_act() == "self-modeling"


def test_with_too_few_simulations_for_a_second_visit_any_tried_act_may_win():
    once = {"self-modeling": (1, 0.2), "proposition of donation": (1, 0.6)}
    assert tree_with(once, choose_by="shrunk", shrinkage=1.0, min_visits=2).chosen_act() == "proposition of donation"


def test_the_rule_survives_tree_reuse_and_the_record():
    tree = tree_with(LUCKY, choose_by="shrunk", shrinkage=2.0, min_visits=2)
    record = tree.to_dict()
    assert (record["choose_by"], record["shrinkage"], record["min_visits"]) == ("shrunk", 2.0, 2)
    assert record["chosen_act"] == "self-modeling"
    tree.root.children["self-modeling"].prior = {"x": 1.0}
    carried = tree.advance("self-modeling", Realization("t", "", "", ""))
    assert carried is not None and (carried.choose_by, carried.shrinkage, carried.min_visits) == ("shrunk", 2.0, 2)


def test_the_explanation_names_the_winner_and_the_runner_up_with_n_and_q():
    text = why_chosen(tree_with(LUCKY, choose_by="shrunk", shrinkage=2.0, min_visits=2).to_dict())
    assert "self-modeling, N = 12, Q = 0.20" in text
    assert "runner-up proposition of donation: N = 1, Q = 1.00" in text
    assert "too few visits to win" in text
    assert "at least 2 times" in text
    by_value = why_chosen(tree_with(LUCKY, choose_by="value").to_dict())
    assert by_value.startswith("Highest Q among tried acts: proposition of donation, N = 1, Q = 1.00")
    assert "runner-up self-modeling: N = 12, Q = 0.20" in by_value
    by_visits = why_chosen(tree_with(LUCKY, choose_by="visits").to_dict())
    assert by_visits.startswith("Most visited act: self-modeling, N = 12") and "runner-up logical appeal: N = 4" in by_visits


def test_a_record_from_before_the_rule_is_explained_by_its_own_rule():
    record = tree_with(LUCKY, choose_by="value").to_dict()
    del record["shrinkage"], record["min_visits"]
    assert why_chosen(record).startswith("Highest Q among tried acts")
