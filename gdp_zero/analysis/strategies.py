"""One analysis of several sources: their turn table, every figure, the tests, and what a reader must know.

The Strategies tab, the HTML report and `gdp-zero strategies` all show this one object. Sources
are compared with each other, or each source's donors with its non-donors; either way each test
is at the dialogue level (gdp_zero.analysis.compare), counted in the unit chosen (`Counting`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd
import plotly.graph_objects as go

from gdp_zero.analysis.compare import (
    ActComparison,
    ComparisonUnavailable,
    compare_sources,
)
from gdp_zero.analysis.figures import FIGURES, act_style
from gdp_zero.analysis.sources import Source, split_by_outcome, unique_labels
from gdp_zero.analysis.table import DEFAULT_COUNTING, Counting, records_table
from gdp_zero.domain import Domain
from gdp_zero.p4g import SOURCE as P4G_SOURCE

Compare = Literal["sources", "outcome"]
BY_OUTCOME = ", donors vs non-donors"  # ends the title of each source's test when donors are compared within it
COMPARES: dict[str, str] = {
    "sources": "the sources with each other",
    "outcome": "donors with non-donors, within each source",
}


@dataclass(frozen=True)
class SourceTest:
    """One test: which sources it compares, and its result or why there is none."""

    title: str
    sources: tuple[str, ...]
    comparison: ActComparison | None
    problem: str | None = None

    def text(self) -> str:
        if self.comparison is None:
            return f"{self.title}: no test: {self.problem}."
        return f"{self.title}: {self.comparison.summary()}. {self.comparison.differences()} (turn-level residuals)."


@dataclass(frozen=True)
class StrategyAnalysis:
    domain: Domain
    sources: tuple[Source, ...]
    table: pd.DataFrame
    figures: tuple[tuple[str, str, go.Figure], ...]  # key, title, figure
    tests: tuple[SourceTest, ...]
    counting: Counting = DEFAULT_COUNTING
    compare: Compare = "sources"
    cautions: tuple[str, ...] = ()  # confounds a reader must know before reading the figures

    @property
    def comparison(self) -> ActComparison | None:
        """The first test's result (the only one when sources are compared with each other)."""
        return self.tests[0].comparison if self.tests else None

    def comparison_text(self) -> str:
        return "\n".join(test.text() for test in self.tests)


def analyse(sources: list[Source], domain: Domain, counting: Counting = DEFAULT_COUNTING, compare: Compare = "sources") -> StrategyAnalysis:
    if not sources:
        raise ValueError("no sources to analyse: give at least one")
    sources = unique_labels(sources)
    cautions = list(confounds(sources, counting)) if compare == "sources" else []
    groups: list[tuple[str, list[Source]]] = []
    if compare == "outcome":
        cautions.append(
            "Donors' dialogues hold what is said after the agreement (amounts, thanks), non-donors' cannot"
            + ("; here each dialogue is counted up to the first agreement, which removes that difference."
               if counting.scope == "before-donation" else
               ": count each dialogue only up to the first agreement to donate (scope 'before-donation') to compare "
               "the persuasion before it."))
        split = []
        for source in sources:
            halves, note = split_by_outcome(source)
            cautions += [note] if note else []
            groups.append((f"{source.label}{BY_OUTCOME}", halves))
            split += halves
        sources = split
    else:
        groups.append(("Between the sources", sources))
    table = records_table({s.label: s.records for s in sources}, domain.success_act)
    style = act_style(domain)
    figures = tuple((key, title, draw(table, style, speaker, counting)) for key, title, draw, speaker in FIGURES)
    tests = tuple(_test(table, title, group, counting) for title, group in groups)
    return StrategyAnalysis(domain, tuple(sources), table, figures, tests, counting, compare, tuple(cautions))


def _test(table: pd.DataFrame, title: str, group: list[Source], counting: Counting) -> SourceTest:
    labels = tuple(s.label for s in group)
    of_group = table[table["source"].isin(labels)].copy()
    of_group["source"] = of_group["source"].cat.set_categories(labels)
    if len(group) < 2 and title.endswith(BY_OUTCOME):
        found = "no dialogue of it has a known outcome" if not group else f"every dialogue with an outcome is in {labels[0]}"
        return SourceTest(title, labels, None, found)
    try:
        return SourceTest(title, labels, compare_sources(of_group, "system", counting))
    except ComparisonUnavailable as unavailable:
        return SourceTest(title, labels, None, str(unavailable))


def confounds(sources: list[Source], counting: Counting) -> list[str]:
    """Differences in how the sources' dialogues were made that the figures would otherwise hide."""
    going_on = [s.label for s in sources if any(r.source == P4G_SOURCE for r in s.records)]
    stopping = [s.label for s in sources if s.label not in going_on]
    if not going_on or not stopping:
        return []
    rounds = min(sum(t.speaker == "system" for t in r.turns) for s in sources if s.label in going_on for r in s.records)
    text = (f"{', '.join(going_on)}: people talked on after the persuadee agreed to donate (every dialogue has at least "
            f"{rounds} persuader turns); {', '.join(stopping)}: a dialogue stops at the first agreement to donate. "
            "Shares overall and by round would mix what is said after an agreement in one with nothing in the other")
    if counting.scope == "before-donation":
        return [text + "; here each dialogue is counted up to the first agreement, which removes that difference."]
    return [text + ": count each dialogue only up to the first agreement to donate (scope 'before-donation') to compare them."]


def merged_labels(domain: Domain) -> pd.DataFrame:
    """The domain's acts that several corpus labels are read as: the merges a P4G count includes."""
    rows = [(speaker, act.name, ", ".join(act.corpus_labels))
            for speaker, acts in (("persuader", domain.system_acts), ("persuadee", domain.user_acts))
            for act in acts if len(act.corpus_labels) > 1]
    return pd.DataFrame(rows, columns=["speaker", "act", "corpus labels read as it"])
