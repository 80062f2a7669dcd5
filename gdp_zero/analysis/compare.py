"""Do the sources use acts differently? Pearson's chi-square on a sources x acts table of counts.

scipy gives the test and Cramér's V; statsmodels the adjusted standardised residuals, which say
which acts a source uses more (positive) or less (negative) than independence predicts. The acts
that contribute most are those with the largest share of the chi-square statistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy.stats import chi2_contingency
from scipy.stats.contingency import association
from statsmodels.stats.contingency_tables import Table

from gdp_zero.analysis.table import SPEAKER_NAMES
from gdp_zero.p4g import UNLABELLED

MIN_EXPECTED = 5  # the usual rule of thumb for the chi-square approximation


class ComparisonUnavailable(ValueError):
    """Too little to compare; the text says what is missing."""


@dataclass(frozen=True)
class ActComparison:
    speaker: str
    counts: pd.DataFrame  # sources x acts, acts no source used dropped
    chi2: float
    dof: int
    p_value: float
    cramers_v: float
    expected: pd.DataFrame
    residuals: pd.DataFrame  # adjusted standardised residuals
    contributions: pd.Series  # each act's share of chi2, largest first

    @property
    def n(self) -> int:
        return int(self.counts.to_numpy().sum())

    @property
    def low_expected_cells(self) -> int:
        return int((self.expected.to_numpy() < MIN_EXPECTED).sum())

    def top_acts(self, k: int = 3) -> pd.DataFrame:
        """The k acts contributing most: their share of chi2 and each source's residual."""
        acts = list(self.contributions.index[:k])
        frame = self.residuals[acts].T.round(2)
        frame.columns = [f"residual: {c}" for c in frame.columns]
        frame.insert(0, "share of chi2", self.contributions[acts].round(3))
        frame.index.name = "act"
        return frame.reset_index()

    def summary(self) -> str:
        text = (f"χ² = {self.chi2:.2f}, df = {self.dof}, p = {self.p_value:.3g}, Cramér's V = {self.cramers_v:.3f} "
                f"(n = {self.n} {SPEAKER_NAMES.get(self.speaker, self.speaker)} turns, {len(self.counts)} sources, {self.counts.shape[1]} acts)")
        if self.low_expected_cells:
            text += (f"; {self.low_expected_cells} of {self.expected.size} cells expect fewer than {MIN_EXPECTED} turns, "
                     "so treat p as approximate")
        return text

    def differences(self, k: int = 3) -> str:
        """The acts that differ most, in words: which source uses each more than expected."""
        parts = []
        for act in self.contributions.index[:k]:
            column = self.residuals[act]
            most = column.idxmax()
            parts.append(f"{act} ({self.contributions[act]:.0%} of χ²; {most} uses it more, residual {column[most]:+.1f})")
        return "Acts that differ most: " + "; ".join(parts)


def act_counts(table: pd.DataFrame, speaker: str = "system") -> pd.DataFrame:
    """Turns per source and act for one speaker; unlabelled turns (full_dialog.csv) are left out."""
    rows = table[(table["speaker"] == speaker) & (table["act"] != UNLABELLED)]
    return pd.crosstab(rows["source"], rows["act"])


def compare_sources(table: pd.DataFrame, speaker: str = "system") -> ActComparison:
    counts = act_counts(table, speaker)
    counts = counts.loc[counts.sum(axis=1) > 0, counts.sum(axis=0) > 0]
    if len(counts) < 2:
        raise ComparisonUnavailable(f"a comparison needs two sources with labelled {speaker} turns; have {len(counts)}")
    if counts.shape[1] < 2:
        raise ComparisonUnavailable(f"a comparison needs two or more {speaker} acts; the sources use only {list(counts.columns)}")
    result = chi2_contingency(counts.to_numpy(), correction=False)
    expected = pd.DataFrame(result.expected_freq, index=counts.index, columns=counts.columns)
    residuals = pd.DataFrame(Table(counts.to_numpy(), shift_zeros=False).standardized_resids, index=counts.index, columns=counts.columns)
    cells = (counts - expected) ** 2 / expected
    contributions = (cells.sum(axis=0) / result.statistic).sort_values(ascending=False)
    return ActComparison(
        speaker=speaker,
        counts=counts,
        chi2=float(result.statistic),
        dof=int(result.dof),
        p_value=float(result.pvalue),
        cramers_v=float(association(counts.to_numpy(), method="cramer", correction=False)),
        expected=expected,
        residuals=residuals,
        contributions=contributions,
    )
