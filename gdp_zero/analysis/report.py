"""The analysis as one self-contained HTML file: Plotly's JavaScript inline, so it opens offline."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from gdp_zero.analysis.compare import MIN_DIALOGUES
from gdp_zero.analysis.figures import MIN_BAR_COUNT, MIN_TRANSITIONS, TRANSITIONS_MIN_WIDTH_PX
from gdp_zero.analysis.sources import sources_table
from gdp_zero.analysis.strategies import COMPARES, StrategyAnalysis, merged_labels
from gdp_zero.analysis.table import UNITS
from gdp_zero.analysis.tables import analysis_tables
from gdp_zero.p4g import UNMAPPED_PREFIX
from gdp_zero.records import app_version, now_iso

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 24px auto; padding: 0 16px; color: #111827; }
h1 { margin-bottom: 4px; } .meta { color: #6b7280; margin-top: 0; }
table.data { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
table.data th, table.data td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; }
table.data th { background: #f9fafb; }
.test { background: #eff6ff; border: 1px solid #bfdbfe; padding: 8px 12px; border-radius: 8px; }
.note { color: #92400e; } .caution { background: #fffbeb; border: 1px solid #fde68a; padding: 8px 12px; border-radius: 8px; }
section.figure { margin: 24px 0; overflow-x: auto; }
.table-scroll { overflow-x: auto; max-width: 100%; }
""" + f"#figure-transitions {{ min-width: {TRANSITIONS_MIN_WIDTH_PX}px; }}\n"

METHOD = (
    "Each row of the analysis is one turn. P4G turns are runs of one participant's sentences, each sentence read by its "
    "first label (a second label, another act in the same sentence, counts in the units that count every act "
    "present), mapped through the domain's corpus_labels (merges listed above). Labels the mapping does not know are "
    f"kept as '{UNMAPPED_PREFIX}LABEL', never counted as another act. Counting units: " + "; ".join(
        f"{unit}: {text}" for unit, text in UNITS.items()) + ". "
    "Tests are at the level of what was sampled, the dialogue: Pearson's chi-square statistic on the sources × "
    "persuader acts counts, its p-value from permutations of the sources between whole dialogues (numpy, seeded; "
    "p = (1 + permutations reaching the observed statistic) / (1 + permutations)), and Cramér's V with a 95% percentile "
    "interval from a cluster bootstrap (each source's dialogues resampled with replacement). The turn-level chi-square "
    "p-value (scipy, no continuity correction) is shown beside it for reference: it treats the turns of one dialogue "
    "as independent and so overstates the evidence. Residuals are adjusted standardised residuals at the turn level "
    f"(above +2: used more than independence predicts; below −2: less). A source with fewer than {MIN_DIALOGUES} "
    f"dialogues is not tested; figures leave out rounds with fewer than {MIN_BAR_COUNT} counts and transition rows "
    f"with fewer than {MIN_TRANSITIONS} transitions."
)


def _csv_link(name: str, frame: pd.DataFrame) -> str:
    """A download link holding the table itself: the report stays one file that opens offline."""
    data = quote(frame.to_csv(index=False))
    return f"<a download='{html.escape(name)}.csv' href='data:text/csv;charset=utf-8,{data}'>{html.escape(name)}.csv</a>"


def html_table(frame: pd.DataFrame, index: bool = False) -> str:
    """The frame as an escaped HTML table in a box that scrolls sideways when the table is wider than the page."""
    table = frame.to_html(index=index, escape=True, classes="data", border=0, float_format=lambda x: f"{x:.3g}")
    return f"<div class='table-scroll'>{table}</div>"


def report_html(analysis: StrategyAnalysis) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Strategy distributions · GDP-Zero studio</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Strategy distributions</h1>",
        f"<p class='meta'>{html.escape(analysis.domain.title)} · written {html.escape(now_iso())} by gdp-zero "
        f"{html.escape(app_version())}</p>",
        "<h2>Sources</h2>", html_table(sources_table(list(analysis.sources))),
    ]
    corpora = list({id(s.p4g): s for s in analysis.sources if s.p4g is not None}.values())  # halves share their corpus
    for source in corpora:
        if source.p4g is not None and source.p4g.unmapped:
            parts.append(f"<p class='note' id='unmapped'>{html.escape(source.label)}: "
                         f"{html.escape(source.p4g.unmapped_message() or '')}</p>")
    parts.append(f"<p class='meta' id='counting'>Compared: {html.escape(COMPARES[analysis.compare])}; "
                 f"{html.escape(analysis.counting.describe())}.</p>")
    parts += [f"<p class='caution'>{html.escape(caution)}</p>" for caution in analysis.cautions]
    parts += ["<h2>Do the sources use persuader acts differently?</h2>"]
    for number, test in enumerate(analysis.tests):
        ident = " id='chi-square'" if number == 0 else ""
        parts.append(f"<p class='test'{ident}>{html.escape(test.text())}</p>")
        if test.comparison is not None:
            parts += [f"<h3>{html.escape(test.title)}: acts that contribute most</h3>", html_table(test.comparison.top_acts()),
                      f"<h3>{html.escape(test.title)}: counts (persuader {html.escape(test.comparison.counting.noun)})</h3>",
                      html_table(test.comparison.counts, index=True)]
    parts += ["<h3>Labels merged into one act</h3>", html_table(merged_labels(analysis.domain))]
    for number, (key, title, figure) in enumerate(analysis.figures):
        div = figure.to_html(full_html=False, include_plotlyjs=number == 0, div_id=f"figure-{key}",
                             config={"displaylogo": False, "responsive": True})
        parts.append(f"<section class='figure'><h2>{html.escape(title)}</h2>{div}</section>")
    for source in corpora:
        if source.p4g is not None and source.p4g.annotated:
            parts += [f"<details><summary>{html.escape(source.label)}: corpus labels and the acts they were read as</summary>",
                      html_table(source.p4g.label_table()), "</details>"]
    links = " · ".join(_csv_link(name, frame) for name, frame in analysis_tables(analysis).items())
    parts += ["<h2>Tables as CSV</h2>", f"<p id='csv'>{links}</p>",
              "<h2>Method</h2>", f"<p>{html.escape(METHOD)}</p>", "</body></html>"]
    return "\n".join(parts)


def write_report(path: str | Path, analysis: StrategyAnalysis) -> Path:
    path = Path(path)
    path.write_text(report_html(analysis), encoding="utf-8")
    return path
