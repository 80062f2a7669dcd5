"""The study's statistics, all from one long-form table (`StudyData.responses()`), all tests by scipy.

Per-turn ratings are repeated measures of one person: between-condition tests first average each
participant's ratings of an item, so every participant counts once. Effect sizes: Cohen's d with
the pooled standard deviation, Hedges' g (d with the small-sample correction), and the
rank-biserial correlation of the Mann-Whitney U (positive when the first condition rates higher).
"""

from __future__ import annotations

from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95
COUNT_STATUSES = ("active", "completed", "timed_out", "screened_out", "declined")
UNASSIGNED = "(unassigned)"  # the condition of participations not yet assigned one

Population = Literal["completers", "everyone"]
# Who an analysis counts, as the dashboard and the exports name it.
POPULATIONS: dict[Population, str] = {
    "completers": "completers: finished the study and did not fail the attention check",
    "everyone": "everyone assigned a condition, whatever became of them (still active, timed out, screened out and "
                "failed attention checks included)",
}
# Why an assigned participant is not a completer, by status (a failed attention check comes first).
EXCLUSION_REASONS = {"active": "still active", "timed_out": "timed out", "screened_out": "screened out", "declined": "declined"}
FAILED_ATTENTION = "failed the attention check"


def is_completer(status: str, attention_passed: bool | None) -> bool:
    """The default analysis population: finished the study, and did not fail the attention check
    (a study whose check only records failures still completes those participants)."""
    return status == "completed" and attention_passed is not False


def exclusions(participants: pd.DataFrame) -> dict[str, int]:
    """Assigned participants who are not completers, counted by why (the participants table: status, attention_passed)."""
    counts: dict[str, int] = {}
    for row in participants[participants["condition"].notna() & ~participants["completer"].astype(bool)].itertuples():
        failed = not pd.isna(row.attention_passed) and not bool(row.attention_passed)
        reason = FAILED_ATTENTION if failed else EXCLUSION_REASONS.get(row.status, row.status)
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def mean_ci(values: pd.Series) -> tuple[int, float, float, float, float]:
    """n, mean, standard deviation, and the t-based 95% confidence interval of the mean."""
    values = values.dropna().astype(float)
    n = len(values)
    mean = float(values.mean()) if n else np.nan
    sd = float(values.std(ddof=1)) if n > 1 else np.nan
    if n < 2:
        return n, mean, sd, np.nan, np.nan
    if sd == 0:  # everyone gave the same answer: the interval is that value
        return n, mean, sd, mean, mean
    low, high = stats.t.interval(CONFIDENCE, df=n - 1, loc=mean, scale=stats.sem(values))
    return n, mean, sd, float(low), float(high)


def item_summary(responses: pd.DataFrame) -> pd.DataFrame:
    """Per source (pre, post, turn), item and condition: n, mean, sd, 95% CI (per-turn ratings per participant)."""
    rows = []
    for (source, item, condition), group in per_participant(responses).groupby(["source", "item", "condition"], sort=True):
        n, mean, sd, low, high = mean_ci(group["value"])
        rows.append({"source": source, "item": item, "condition": condition, "n": n, "mean": mean, "sd": sd, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["source", "item", "condition", "n", "mean", "sd", "ci_low", "ci_high"])


def compare_conditions(responses: pd.DataFrame) -> pd.DataFrame:
    """For each item and each pair of conditions: Welch's t, Mann-Whitney U, their p-values and effect sizes."""
    columns = [
        "source", "item", "condition_a", "condition_b", "n_a", "n_b", "mean_a", "mean_b", "difference",
        "difference_ci_low", "difference_ci_high", "welch_t", "welch_df", "welch_p", "cohens_d", "hedges_g",
        "mann_whitney_u", "mann_whitney_p", "rank_biserial",
    ]
    rows = []
    table = per_participant(responses)
    for (source, item), group in table.groupby(["source", "item"], sort=True):
        by_condition = {c: g["value"].to_numpy(float) for c, g in group.groupby("condition", sort=True)}
        for a, b in combinations(sorted(by_condition), 2):
            rows.append({"source": source, "item": item, "condition_a": a, "condition_b": b, **two_samples(by_condition[a], by_condition[b])})
    return pd.DataFrame(rows, columns=columns)


def two_samples(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Welch's t-test and the Mann-Whitney U test of a against b, with effect sizes (NaN where undefined)."""
    n_a, n_b = len(a), len(b)
    result: dict[str, float] = {"n_a": n_a, "n_b": n_b, "mean_a": float(np.mean(a)) if n_a else np.nan,
                                "mean_b": float(np.mean(b)) if n_b else np.nan}
    result["difference"] = result["mean_a"] - result["mean_b"]
    undefined = {"difference_ci_low", "difference_ci_high", "welch_t", "welch_df", "welch_p", "cohens_d", "hedges_g",
                 "mann_whitney_u", "mann_whitney_p", "rank_biserial"}
    result |= dict.fromkeys(undefined, np.nan)
    if n_a < 2 or n_b < 2:
        return result
    if np.var(a) + np.var(b) > 0:
        welch = stats.ttest_ind(a, b, equal_var=False)
        interval = welch.confidence_interval(CONFIDENCE)
        result |= {"welch_t": float(welch.statistic), "welch_df": float(welch.df), "welch_p": float(welch.pvalue),
                   "difference_ci_low": float(interval.low), "difference_ci_high": float(interval.high)}
        pooled = np.sqrt(((n_a - 1) * np.var(a, ddof=1) + (n_b - 1) * np.var(b, ddof=1)) / (n_a + n_b - 2))
        d = (np.mean(a) - np.mean(b)) / pooled
        result |= {"cohens_d": float(d), "hedges_g": float(d * (1 - 3 / (4 * (n_a + n_b) - 9)))}
    mann_whitney = stats.mannwhitneyu(a, b, alternative="two-sided")
    result |= {"mann_whitney_u": float(mann_whitney.statistic), "mann_whitney_p": float(mann_whitney.pvalue),
               "rank_biserial": float(2 * mann_whitney.statistic / (n_a * n_b) - 1)}
    return result


def pre_post_change(responses: pd.DataFrame, item: str, post_item: str | None = None) -> pd.DataFrame:
    """Per condition, the paired change of `item` from the pre- to the post-survey.

    Paired t-test (with the 95% CI of the mean change) and Wilcoxon signed-rank test, over the
    participants who answered both. `post_item` when the post-survey names the item differently.
    """
    columns = ["condition", "n", "mean_pre", "mean_post", "mean_change", "ci_low", "ci_high", "t", "t_p", "wilcoxon_w", "wilcoxon_p"]
    paired = change_table(responses, item, post_item)
    rows = []
    for condition, group in paired.groupby("condition", sort=True):
        pre, post = group["pre"].to_numpy(float), group["post"].to_numpy(float)
        row = {"condition": condition, "n": len(group), "mean_pre": pre.mean(), "mean_post": post.mean(), "mean_change": (post - pre).mean()}
        row |= dict.fromkeys(("ci_low", "ci_high", "t", "t_p", "wilcoxon_w", "wilcoxon_p"), np.nan)
        if len(group) >= 2 and np.any(post != pre):
            paired_t = stats.ttest_rel(post, pre)
            interval = paired_t.confidence_interval(CONFIDENCE)
            wilcoxon = stats.wilcoxon(post, pre)
            row |= {"ci_low": interval.low, "ci_high": interval.high, "t": paired_t.statistic, "t_p": paired_t.pvalue,
                    "wilcoxon_w": wilcoxon.statistic, "wilcoxon_p": wilcoxon.pvalue}
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def change_table(responses: pd.DataFrame, item: str, post_item: str | None = None) -> pd.DataFrame:
    """One row per participant who answered `item` before and after: condition, pre, post, change.

    As a long table (`source` "change"), `compare_conditions` tests whether the change differs between conditions.
    """
    def answers(source: str, name: str) -> pd.DataFrame:
        chosen = responses[(responses["source"] == source) & (responses["item"] == name)]
        return chosen[["participant", "condition", "value"]].rename(columns={"value": source})

    paired = answers("pre", item).merge(answers("post", post_item or item), on=["participant", "condition"])
    return paired.assign(change=paired["post"] - paired["pre"])


def change_responses(responses: pd.DataFrame, item: str, post_item: str | None = None) -> pd.DataFrame:
    """The change of `item` as long-form responses (source "change"), for `compare_conditions`."""
    paired = change_table(responses, item, post_item)
    return pd.DataFrame({"participant": paired["participant"], "condition": paired["condition"], "source": "change",
                         "item": item, "turn": pd.NA, "value": paired["change"]})


def turn_curves(responses: pd.DataFrame) -> pd.DataFrame:
    """Per-turn ratings per item, condition and bot turn (0 = the greeting): n, mean, 95% CI."""
    rows = []
    turns = responses[responses["source"] == "turn"]
    for (item, condition, turn), group in turns.groupby(["item", "condition", "turn"], sort=True):
        n, mean, _, low, high = mean_ci(group["value"])
        rows.append({"item": item, "condition": condition, "turn": int(turn), "n": n, "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["item", "condition", "turn", "n", "mean", "ci_low", "ci_high"])


def strategy_share(messages: pd.DataFrame) -> pd.DataFrame:
    """How often each condition's bot used each act (dialogue strategy): count and share of its bot messages."""
    bot = messages[(messages["speaker"] == "system") & messages["condition"].notna()]
    counts = bot.groupby(["condition", "act"]).size().rename("count").reset_index()
    counts["share"] = counts["count"] / counts.groupby("condition")["count"].transform("sum")
    return counts.sort_values(["condition", "count", "act"], ascending=[True, False, True]).reset_index(drop=True)


def participation_counts(participants: pd.DataFrame) -> pd.DataFrame:
    """Per condition (UNASSIGNED before assignment): started, then each status; dropped = timed out."""
    table = participants.assign(condition=participants["condition"].fillna(UNASSIGNED))
    counts = pd.crosstab(table["condition"], table["status"]).reindex(columns=list(COUNT_STATUSES), fill_value=0)
    counts.insert(0, "started", counts.sum(axis=1))
    return counts.rename(columns={"timed_out": "dropped"}).reset_index()


def per_participant(responses: pd.DataFrame) -> pd.DataFrame:
    """One value per participant, source and item: per-turn ratings averaged, survey answers as they are."""
    return responses.groupby(["participant", "condition", "source", "item"], as_index=False, sort=False)["value"].mean()
