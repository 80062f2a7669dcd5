"""Why the search chose its act, in words, from a tree's record (`SearchTree.to_dict`).

Views show this sentence above the tree; it reads only the record, so a tree saved by an older
version (without the shrunk rule's settings) is explained by the rule it was chosen with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gdp_zero.mcts.tree import shrink
from gdp_zero.wording import plural


def why_chosen(tree: Mapping[str, Any]) -> str:
    """One sentence: the rule, and the chosen act's N and Q beside the runner-up's."""
    chosen = tree.get("chosen_act")
    root = tree.get("root") or {}
    visits: dict[str, int] = root.get("child_visits") or {}
    qs: dict[str, float] = root.get("q") or {}
    rounds = tree.get("rounds") or []
    if chosen is None:
        return "No act chosen yet."
    if rounds:
        widths = " → ".join(str(len(r["acts"])) for r in rounds)
        return (f"{chosen} survived {plural(len(rounds), 'round')} of Sequential Halving ({widths} acts) "
                f"at a Gumbel root; {_stats(chosen, visits, qs)}.")
    rule = tree.get("choose_by")
    runner_up = _runner_up(tree, visits, qs)
    against = f"; runner-up {runner_up}: {_stats(runner_up, visits, qs)}" if runner_up else ""
    if rule == "visits":
        return f"Most visited act: {chosen}, {_stats(chosen, visits, qs)}{against}."
    if rule == "value":
        return f"Highest Q among tried acts: {chosen}, {_stats(chosen, visits, qs)}{against}."
    strength, least = float(tree.get("shrinkage") or 0.0), int(tree.get("min_visits") or 1)
    anchor = _mean_value(visits, qs)
    shrunk = {act: _shrunk(visits.get(act, 0), qs.get(act, 0.0), anchor, strength) for act in visits}
    why = (f"Highest Q shrunk towards the position's mean value {anchor:.2f} by {strength:g} visits, "
           f"among acts tried at least {plural(least, 'time')}: {chosen}, {_stats(chosen, visits, qs)}, "
           f"shrunk {shrunk.get(chosen, anchor):.2f}")
    if runner_up:
        why += f"; runner-up {runner_up}: {_stats(runner_up, visits, qs)}, shrunk {shrunk[runner_up]:.2f}"
        if visits.get(runner_up, 0) < least <= visits.get(chosen, 0):
            why += " (too few visits to win)"
    return why + "."


def _stats(act: str, visits: Mapping[str, int], qs: Mapping[str, float]) -> str:
    n = visits.get(act, 0)
    return f"N = {n}, Q = {qs[act]:.2f}" if n and act in qs else f"N = {n}"


def _runner_up(tree: Mapping[str, Any], visits: Mapping[str, int], qs: Mapping[str, float]) -> str | None:
    """The act that would have been chosen next by the tree's own rule, among tried acts."""
    chosen, rule = tree.get("chosen_act"), tree.get("choose_by")
    others = [act for act, n in visits.items() if n and act != chosen]
    if not others:
        return None
    if rule == "visits":
        return max(others, key=lambda act: (visits[act], qs.get(act, 0.0)))
    if rule == "value":
        return max(others, key=lambda act: (qs.get(act, 0.0), visits[act]))
    strength, anchor = float(tree.get("shrinkage") or 0.0), _mean_value(visits, qs)
    # The highest shrunk Q of the rest, whether or not it had the visits to win: the reader
    # should see the act a lucky sample would have picked, and why it did not.
    return max(others, key=lambda act: (_shrunk(visits[act], qs.get(act, 0.0), anchor, strength), visits[act]))


def _mean_value(visits: Mapping[str, int], qs: Mapping[str, float]) -> float:
    """The root's mean backed-up value, from N and Q (as `gdp_zero.mcts.tree.mean_value` reads the sums)."""
    total = sum(n for act, n in visits.items() if n and act in qs)
    return sum(n * qs[act] for act, n in visits.items() if n and act in qs) / total if total else 0.0


def _shrunk(visits: int, q: float, anchor: float, strength: float) -> float:
    return shrink(visits * q, visits, anchor, strength)
