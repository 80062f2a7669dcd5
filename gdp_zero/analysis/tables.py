"""Every table of an analysis as a pandas frame, for CSV downloads: the numbers behind the figures and tests."""

from __future__ import annotations

import pandas as pd

from gdp_zero.analysis.sources import sources_table
from gdp_zero.analysis.strategies import StrategyAnalysis, merged_labels
from gdp_zero.analysis.table import SPEAKER_NAMES


def counts_table(analysis: StrategyAnalysis, by: tuple[str, ...] = ("source",)) -> pd.DataFrame:
    """Counts per group and act for each speaker, in the analysis's unit, with each group's n and each act's share."""
    frames = []
    for speaker, name in SPEAKER_NAMES.items():
        rows = analysis.counting.rows(analysis.table, speaker)
        counts = rows.groupby([*by, "act"], observed=True).size().rename("count").reset_index()
        counts["n"] = counts.groupby(list(by), observed=True)["count"].transform("sum")
        counts["share"] = counts["count"] / counts["n"]
        counts.insert(0, "speaker", name)
        frames.append(counts)
    table = pd.concat(frames, ignore_index=True)
    table.insert(len(table.columns), "unit", analysis.counting.noun)
    return table


def tests_table(analysis: StrategyAnalysis) -> pd.DataFrame:
    rows = []
    for test in analysis.tests:
        c = test.comparison
        row: dict[str, object] = {"test": test.title, "sources": " | ".join(test.sources), "problem": test.problem}
        if c is not None:
            row |= {
                "method": f"permutation of sources between dialogues ({c.permutations}, seed {c.seed})",
                "dialogues": int(c.dialogues.sum()), "count": c.n, "unit": c.counting.noun, "chi2": c.chi2, "df": c.dof,
                "p (dialogue level)": c.dialogue_p, "cramers_v": c.cramers_v, "v 95% low (cluster bootstrap)": c.v_low,
                "v 95% high": c.v_high, "p (turn level, reference)": c.turn_level_p,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def success_by_round_table(analysis: StrategyAnalysis) -> pd.DataFrame:
    dialogues = analysis.table.drop_duplicates(["source", "dialogue"])
    last = int(analysis.table["exchange"].max()) if len(analysis.table) else 0
    rows = [(source, k, len(of_source), int((of_source["agreed_at"] <= k).sum()))
            for source, of_source in dialogues.groupby("source", observed=True) for k in range(1, last + 1)]
    table = pd.DataFrame(rows, columns=["source", "round", "dialogues", "agreed by then"])
    table["share"] = table["agreed by then"] / table["dialogues"]
    return table


def analysis_tables(analysis: StrategyAnalysis) -> dict[str, pd.DataFrame]:
    """Each table by its file name (without .csv), in the order a reader meets them."""
    tables = {
        "sources": sources_table(list(analysis.sources)),
        "tests": tests_table(analysis),
        "act_counts": counts_table(analysis),
        "act_counts_by_round": counts_table(analysis, ("source", "exchange")),
        "success_by_round": success_by_round_table(analysis),
        "merged_labels": merged_labels(analysis.domain),
    }
    for number, test in enumerate(analysis.tests, start=1):
        if test.comparison is not None:
            tables[f"top_acts_{number}"] = test.comparison.top_acts()
    return tables
