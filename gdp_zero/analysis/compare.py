"""Do the sources use acts differently? Tested at the unit that was sampled: the dialogue.

Turns are clustered in dialogues (one persuader's habits fill a whole dialogue), so the test
reported first keeps Pearson's chi-square statistic on the sources x acts counts but judges it
against its distribution when whole dialogues are shuffled between the sources (a permutation
test, numpy with a seed); Cramér's V gets a 95% interval from a cluster bootstrap (dialogues
resampled within each source). The turn-level chi-square p-value (scipy), which treats every
turn as independent, stays beside it, labelled as such. statsmodels gives the adjusted
standardised residuals, which say which acts a source uses more (positive) or less (negative)
than independence predicts; the acts that contribute most hold the largest share of chi-square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2_contingency
from scipy.stats.contingency import association
from statsmodels.stats.contingency_tables import Table

from gdp_zero.analysis.table import DEFAULT_COUNTING, SPEAKER_NAMES, Counting
from gdp_zero.wording import plural

MIN_EXPECTED = 5  # the usual rule of thumb for the chi-square approximation
MIN_DIALOGUES = 5  # per source: fewer cannot say anything about how a source's dialogues differ
PERMUTATIONS = 2000
BOOTSTRAPS = 2000
SEED = 0
TIE_TOLERANCE = 1e-9  # a permuted statistic equal to the observed one up to rounding counts as reaching it


class ComparisonUnavailable(ValueError):
    """Too little to compare; the text says what is missing."""


@dataclass(frozen=True)
class ActComparison:
    speaker: str
    counting: Counting
    counts: pd.DataFrame  # sources x acts, acts no source used dropped
    dialogues: pd.Series  # dialogues per source (with at least one count)
    chi2: float
    dof: int
    turn_level_p: float  # scipy's, as if every count were independent
    dialogue_p: float  # the permutation test's
    permutations: int
    seed: int
    cramers_v: float
    v_low: float  # 95% cluster-bootstrap interval
    v_high: float
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
        speaker = SPEAKER_NAMES.get(self.speaker, self.speaker)
        per_source = ", ".join(f"{source} {n}" for source, n in self.dialogues.items())
        text = (f"Dialogue-level permutation test ({self.permutations} permutations of the sources between whole "
                f"dialogues, seed {self.seed}): p = {self.dialogue_p:.3g} for χ² = {self.chi2:.2f}; Cramér's V = "
                f"{self.cramers_v:.3f} [95% cluster bootstrap over dialogues {self.v_low:.3f}, {self.v_high:.3f}] "
                f"(n = {int(self.dialogues.sum())} dialogues: {per_source}; {self.n} {speaker} {self.counting.noun}, "
                f"{self.counts.shape[1]} acts; {self.counting.describe()}). Turn-level χ² test, treating every count as independent (for reference "
                f"only): χ² = {self.chi2:.2f}, df = {self.dof}, p = {self.turn_level_p:.3g}")
        if self.low_expected_cells:
            text += (f"; {self.low_expected_cells} of {self.expected.size} cells expect fewer than {MIN_EXPECTED}, "
                     "so its p is approximate")
        return text

    def differences(self, k: int = 3) -> str:
        """The acts that differ most, in words: which source uses each more than expected."""
        parts = []
        for act in self.contributions.index[:k]:
            column = self.residuals[act]
            most = column.idxmax()
            parts.append(f"{act} ({self.contributions[act]:.0%} of χ²; {most} uses it more, residual {column[most]:+.1f})")
        return "Acts that differ most: " + "; ".join(parts)


def dialogue_counts(table: pd.DataFrame, speaker: str = "system",
                    counting: Counting = DEFAULT_COUNTING) -> tuple[pd.DataFrame, pd.Series]:
    """Counts per dialogue (rows) and act (columns), and each dialogue's source: what the permutation shuffles."""
    rows = counting.rows(table, speaker)
    counts = pd.crosstab([rows["source"], rows["dialogue"]], rows["act"])
    sources = pd.Series(counts.index.get_level_values("source"), index=counts.index, name="source")
    return counts, sources


def chi_square(tables: np.ndarray) -> np.ndarray:
    """Pearson's statistic of each sources x acts table in a stack (..., sources, acts); no empty rows or columns."""
    total = tables.sum(axis=(-2, -1), keepdims=True)
    expected = tables.sum(axis=-1, keepdims=True) * tables.sum(axis=-2, keepdims=True) / total
    return (((tables - expected) ** 2) / expected).sum(axis=(-2, -1))


def permutation_p(counts: np.ndarray, groups: np.ndarray, permutations: int = PERMUTATIONS, seed: int = SEED) -> float:
    """P(χ² >= observed) when `groups` (one code per dialogue, 0..G-1) are shuffled between the dialogues' rows of
    `counts`; permutation b is the b-th `rng.permutation(groups)` of `np.random.default_rng(seed)`, and the
    observed table counts as one of them: (1 + reached) / (1 + permutations)."""
    n_groups = int(groups.max()) + 1
    observed = chi_square(np.eye(n_groups)[groups].T @ counts)
    rng = np.random.default_rng(seed)
    shuffled = np.stack([rng.permutation(groups) for _ in range(permutations)])
    tables = np.stack([(shuffled == g).astype(float) @ counts for g in range(n_groups)], axis=1)
    reached = int((chi_square(tables) >= observed * (1 - TIE_TOLERANCE)).sum())
    return (1 + reached) / (1 + permutations)


def cramers_v(table: np.ndarray) -> float:
    table = table[:, table.sum(axis=0) > 0]
    smaller = min(table.shape) - 1
    return float(np.sqrt(chi_square(table) / (table.sum() * smaller))) if smaller > 0 else 0.0


def bootstrap_v(counts: np.ndarray, groups: np.ndarray, resamples: int = BOOTSTRAPS, seed: int = SEED) -> tuple[float, float]:
    """95% percentile interval of Cramér's V when each source's dialogues are resampled with replacement."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(groups == g) for g in range(int(groups.max()) + 1)]
    values = [cramers_v(np.stack([counts[rng.choice(m, size=len(m))].sum(axis=0) for m in members]))
              for _ in range(resamples)]
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def compare_sources(table: pd.DataFrame, speaker: str = "system", counting: Counting = DEFAULT_COUNTING,
                    permutations: int = PERMUTATIONS, seed: int = SEED) -> ActComparison:
    noun = SPEAKER_NAMES.get(speaker, speaker)
    per_dialogue, source_of = dialogue_counts(table, speaker, counting)
    per_dialogue = per_dialogue.loc[:, per_dialogue.sum(axis=0) > 0]
    dialogues = source_of.value_counts().reindex([s for s in table["source"].cat.categories if s in set(source_of)])
    if len(dialogues) < 2:
        raise ComparisonUnavailable(f"a comparison needs two sources with labelled {noun} turns; have {len(dialogues)}")
    if per_dialogue.shape[1] < 2:
        raise ComparisonUnavailable(f"a comparison needs two or more {noun} acts; the sources use only {list(per_dialogue.columns)}")
    small = dialogues[dialogues < MIN_DIALOGUES]
    if len(small):
        listed = ", ".join(f"{source} has {plural(int(n), 'dialogue')}" for source, n in small.items())
        raise ComparisonUnavailable(
            f"{listed} with labelled {noun} turns; a dialogue-level test needs at least {MIN_DIALOGUES} per source "
            "(its figures are drawn, with their n)")
    codes = pd.Categorical(source_of, categories=list(dialogues.index)).codes.astype(int)
    matrix = per_dialogue.to_numpy(dtype=float)
    counts = per_dialogue.groupby(source_of.to_numpy()).sum().reindex(dialogues.index)
    counts.index.name, counts.columns.name = "source", "act"
    result = chi2_contingency(counts.to_numpy(), correction=False)
    expected = pd.DataFrame(result.expected_freq, index=counts.index, columns=counts.columns)
    residuals = pd.DataFrame(Table(counts.to_numpy(), shift_zeros=False).standardized_resids, index=counts.index, columns=counts.columns)
    cells = (counts - expected) ** 2 / expected
    contributions = (cells.sum(axis=0) / result.statistic).sort_values(ascending=False)
    low, high = bootstrap_v(matrix, codes, seed=seed)
    return ActComparison(
        speaker=speaker,
        counting=counting,
        counts=counts,
        dialogues=dialogues.rename("dialogues"),
        chi2=float(result.statistic),
        dof=int(result.dof),
        turn_level_p=float(result.pvalue),
        dialogue_p=permutation_p(matrix, codes, permutations, seed),
        permutations=permutations,
        seed=seed,
        cramers_v=float(association(counts.to_numpy(), method="cramer", correction=False)),
        v_low=low,
        v_high=high,
        expected=expected,
        residuals=residuals,
        contributions=contributions,
    )
