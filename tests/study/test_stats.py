"""Statistics on a fixed dataset: equal to scipy called directly, and to effect sizes worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from gdp_zero.study.stats import (
    change_responses,
    compare_conditions,
    item_summary,
    participation_counts,
    pre_post_change,
    strategy_share,
    turn_curves,
    two_samples,
)

# Five participants per condition; per-turn ratings: some participants rated more turns than others.
PERSUASIVE = {"gdpzero": [4, 5, 3, 5, 4], "prompting": [3, 2, 4, 3, 2]}
PRE = {"gdpzero": [2, 3, 1, 2, 3], "prompting": [2, 2, 3, 1, 2]}
POST = {"gdpzero": [4, 4, 2, 3, 5], "prompting": [2, 3, 3, 1, 2]}
TURNS = {  # participant -> ratings of bot turns 0, 1, 2, ...
    "g0": [3, 4, 5], "g1": [4, 5], "g2": [2, 3, 3, 4], "g3": [5], "g4": [4, 4, 5],
    "p0": [2, 3, 2], "p1": [3], "p2": [1, 2, 2, 3], "p3": [2, 2], "p4": [3, 3, 4],
}


def responses() -> pd.DataFrame:
    rows = []
    for condition, prefix in (("gdpzero", "g"), ("prompting", "p")):
        for i in range(5):
            who = f"{prefix}{i}"
            rows.append((who, condition, "post", "persuasive", None, PERSUASIVE[condition][i]))
            rows.append((who, condition, "pre", "donation_intention", None, PRE[condition][i]))
            rows.append((who, condition, "post", "donation_intention", None, POST[condition][i]))
            rows += [(who, condition, "turn", "persuasive", t, v) for t, v in enumerate(TURNS[who])]
    # Someone who answered only the pre-survey is left out of the paired change.
    rows.append(("g9", "gdpzero", "pre", "donation_intention", None, 5))
    table = pd.DataFrame(rows, columns=["participant", "condition", "source", "item", "turn", "value"])
    return table.astype({"value": float, "turn": "Int64"})


def test_means_and_confidence_intervals_per_condition():
    summary = item_summary(responses()).set_index(["source", "item", "condition"])
    row = summary.loc[("post", "persuasive", "gdpzero")]
    values = np.array(PERSUASIVE["gdpzero"], float)
    low, high = scipy_stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=scipy_stats.sem(values))
    assert (row["n"], row["mean"]) == (5, 4.2) and row["ci_low"] == pytest.approx(low) and row["ci_high"] == pytest.approx(high)
    # By hand: 4.2 -/+ t(0.975, 4) * sd / sqrt(5), sd = sqrt(0.7).
    assert row["ci_high"] - 4.2 == pytest.approx(2.7764451 * np.sqrt(0.7) / np.sqrt(5), rel=1e-6)
    # Per-turn ratings: each participant counts once, with the mean of their ratings.
    turn = summary.loc[("turn", "persuasive", "prompting")]
    assert turn["n"] == 5 and turn["mean"] == pytest.approx(np.mean([np.mean(TURNS[f"p{i}"]) for i in range(5)]))


def test_between_condition_tests_equal_scipy_and_the_effect_sizes_worked_out_by_hand():
    table = compare_conditions(responses()).set_index(["source", "item"])
    row = table.loc[("post", "persuasive")]
    a, b = np.array(PERSUASIVE["gdpzero"], float), np.array(PERSUASIVE["prompting"], float)
    welch = scipy_stats.ttest_ind(a, b, equal_var=False)
    mann_whitney = scipy_stats.mannwhitneyu(a, b, alternative="two-sided")
    assert (row["condition_a"], row["condition_b"], row["n_a"], row["n_b"]) == ("gdpzero", "prompting", 5, 5)
    assert row["welch_t"] == pytest.approx(welch.statistic) and row["welch_p"] == pytest.approx(welch.pvalue)
    assert row["welch_df"] == pytest.approx(welch.df)
    assert row["mann_whitney_u"] == pytest.approx(mann_whitney.statistic) and row["mann_whitney_p"] == pytest.approx(mann_whitney.pvalue)
    interval = welch.confidence_interval(0.95)
    assert (row["difference_ci_low"], row["difference_ci_high"]) == (pytest.approx(interval.low), pytest.approx(interval.high))
    # Per-turn ratings are tested on per-participant means (5 per condition, not 13 and 13 ratings).
    turn = table.loc[("turn", "persuasive")]
    means = [np.mean(TURNS[f"{p}{i}"]) for p in "gp" for i in range(5)]
    assert (turn["n_a"], turn["n_b"]) == (5, 5)
    assert turn["welch_p"] == pytest.approx(scipy_stats.ttest_ind(means[:5], means[5:], equal_var=False).pvalue)

    # Effect sizes on a textbook case: means 3 and 5, both sd sqrt(2.5).
    by_hand = two_samples(np.array([1, 2, 3, 4, 5.0]), np.array([3, 4, 5, 6, 7.0]))
    assert by_hand["cohens_d"] == pytest.approx(-2 / np.sqrt(2.5))
    assert by_hand["hedges_g"] == pytest.approx(-2 / np.sqrt(2.5) * (1 - 3 / 31))
    # U of the first sample: 3 pairs where it is larger, 3 ties -> 4.5; rank-biserial 2 * 4.5 / 25 - 1.
    assert by_hand["mann_whitney_u"] == 4.5 and by_hand["rank_biserial"] == pytest.approx(-0.64)
    too_few = two_samples(np.array([1.0]), np.array([2.0, 3.0]))
    assert np.isnan(too_few["welch_p"]) and too_few["difference"] == -1.5


def test_pre_post_change_is_paired_per_condition_and_comparable_between_conditions():
    change = pre_post_change(responses(), "donation_intention").set_index("condition")
    pre, post = np.array(PRE["gdpzero"], float), np.array(POST["gdpzero"], float)
    paired = scipy_stats.ttest_rel(post, pre)
    wilcoxon = scipy_stats.wilcoxon(post, pre)
    row = change.loc["gdpzero"]
    assert row["n"] == 5  # g9 answered only before the chat
    assert row["mean_change"] == pytest.approx((post - pre).mean()) and row["t"] == pytest.approx(paired.statistic)
    assert row["t_p"] == pytest.approx(paired.pvalue) and row["wilcoxon_p"] == pytest.approx(wilcoxon.pvalue)
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(paired.confidence_interval(0.95).low), pytest.approx(paired.confidence_interval(0.95).high))
    between = compare_conditions(change_responses(responses(), "donation_intention")).iloc[0]
    other = np.array(POST["prompting"], float) - np.array(PRE["prompting"], float)
    assert between["welch_p"] == pytest.approx(scipy_stats.ttest_ind(post - pre, other, equal_var=False).pvalue)


def test_turn_curves_strategy_shares_and_counts():
    curves = turn_curves(responses()).set_index(["item", "condition", "turn"])
    first = curves.loc[("persuasive", "gdpzero", 0)]
    assert first["n"] == 5 and first["mean"] == pytest.approx(np.mean([TURNS[f"g{i}"][0] for i in range(5)]))
    assert curves.loc[("persuasive", "gdpzero", 3)]["n"] == 1 and np.isnan(curves.loc[("persuasive", "gdpzero", 3)]["ci_low"])

    messages = pd.DataFrame(
        {"condition": ["a", "a", "a", "a", "b", "b", None], "speaker": ["system", "system", "system", "user", "system", "system", "system"],
         "act": ["greeting", "emotion appeal", "emotion appeal", "neutral", "greeting", "logical appeal", "greeting"]}
    )
    shares = strategy_share(messages)
    assert shares.to_dict("records") == [
        {"condition": "a", "act": "emotion appeal", "count": 2, "share": pytest.approx(2 / 3)},
        {"condition": "a", "act": "greeting", "count": 1, "share": pytest.approx(1 / 3)},
        {"condition": "b", "act": "greeting", "count": 1, "share": 0.5},
        {"condition": "b", "act": "logical appeal", "count": 1, "share": 0.5},
    ]

    participants = pd.DataFrame({"condition": ["a", "a", "a", "b", None], "status": ["completed", "timed_out", "active", "screened_out", "declined"]})
    counts = participation_counts(participants).set_index("condition")
    assert counts.loc["a"].to_dict() == {"started": 3, "active": 1, "completed": 1, "dropped": 1, "screened_out": 0, "declined": 0}
    assert counts.loc["(unassigned)", "declined"] == 1 and counts.loc["b", "screened_out"] == 1
