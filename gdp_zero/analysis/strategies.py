"""One analysis of several sources: their turn table, every figure, and the chi-square comparison.

The Strategies tab, the HTML report and `gdp-zero strategies` all show this one object.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from gdp_zero.analysis.compare import ActComparison, ComparisonUnavailable, compare_sources
from gdp_zero.analysis.figures import FIGURES, act_style
from gdp_zero.analysis.sources import Source, unique_labels
from gdp_zero.analysis.table import records_table
from gdp_zero.domain import Domain


@dataclass(frozen=True)
class StrategyAnalysis:
    domain: Domain
    sources: tuple[Source, ...]
    table: pd.DataFrame
    figures: tuple[tuple[str, str, go.Figure], ...]  # key, title, figure
    comparison: ActComparison | None
    comparison_problem: str | None  # why there is no comparison

    def comparison_text(self) -> str:
        if self.comparison is None:
            return f"No test: {self.comparison_problem}."
        return f"{self.comparison.summary()}. {self.comparison.differences()}."


def analyse(sources: list[Source], domain: Domain) -> StrategyAnalysis:
    if not sources:
        raise ValueError("no sources to analyse: give at least one")
    sources = unique_labels(sources)
    table = records_table({s.label: s.records for s in sources})
    style = act_style(domain)
    figures = tuple((key, title, draw(table, style, speaker)) for key, title, draw, speaker in FIGURES)
    try:
        comparison, problem = compare_sources(table, "system"), None
    except ComparisonUnavailable as unavailable:
        comparison, problem = None, str(unavailable)
    return StrategyAnalysis(domain, tuple(sources), table, figures, comparison, problem)
