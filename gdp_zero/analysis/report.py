"""The analysis as one self-contained HTML file: Plotly's JavaScript inline, so it opens offline."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from gdp_zero.analysis.sources import sources_table
from gdp_zero.analysis.strategies import StrategyAnalysis
from gdp_zero.p4g import UNMAPPED_PREFIX
from gdp_zero.records import app_version, now_iso

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 24px auto; padding: 0 16px; color: #111827; }
h1 { margin-bottom: 4px; } .meta { color: #6b7280; margin-top: 0; }
table.data { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
table.data th, table.data td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; }
table.data th { background: #f9fafb; }
.test { background: #eff6ff; border: 1px solid #bfdbfe; padding: 8px 12px; border-radius: 8px; }
.note { color: #92400e; }
section.figure { margin: 24px 0; }
"""

METHOD = (
    "Each row of the analysis is one turn. P4G turns are runs of one participant's sentences; a turn's act is the first "
    "of its sentences' acts (first labels, mapped through the domain's corpus_labels) that is not the catch-all act "
    f"(other / neutral). Labels the mapping does not know are kept as '{UNMAPPED_PREFIX}LABEL', never counted as "
    "another act. The test is Pearson's chi-square (no continuity correction) on the sources × persuader acts table of "
    "counts, with Cramér's V; the residuals are adjusted standardised residuals (above +2: used more than "
    "independence predicts; below −2: less)."
)


def _table(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(index=index, escape=True, classes="data", border=0, float_format=lambda x: f"{x:.3g}")


def report_html(analysis: StrategyAnalysis) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Strategy distributions · GDP-Zero studio</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Strategy distributions</h1>",
        f"<p class='meta'>{html.escape(analysis.domain.title)} · written {html.escape(now_iso())} by gdp-zero "
        f"{html.escape(app_version())}</p>",
        "<h2>Sources</h2>", _table(sources_table(list(analysis.sources))),
    ]
    for source in analysis.sources:
        if source.p4g is not None and source.p4g.unmapped:
            parts.append(f"<p class='note' id='unmapped'>{html.escape(source.label)}: "
                         f"{html.escape(source.p4g.unmapped_message() or '')}</p>")
    parts += ["<h2>Do the sources use persuader acts differently?</h2>",
              f"<p class='test' id='chi-square'>{html.escape(analysis.comparison_text())}</p>"]
    if analysis.comparison is not None:
        parts += ["<h3>Acts that contribute most</h3>", _table(analysis.comparison.top_acts()),
                  "<h3>Counts (persuader turns)</h3>", _table(analysis.comparison.counts, index=True)]
    for number, (key, title, figure) in enumerate(analysis.figures):
        div = figure.to_html(full_html=False, include_plotlyjs=number == 0, div_id=f"figure-{key}",
                             config={"displaylogo": False, "responsive": True})
        parts.append(f"<section class='figure'><h2>{html.escape(title)}</h2>{div}</section>")
    for source in analysis.sources:
        if source.p4g is not None and source.p4g.annotated:
            parts += [f"<details><summary>{html.escape(source.label)}: corpus labels and the acts they were read as</summary>",
                      _table(source.p4g.label_table()), "</details>"]
    parts += ["<h2>Method</h2>", f"<p>{html.escape(METHOD)}</p>", "</body></html>"]
    return "\n".join(parts)


def write_report(path: str | Path, analysis: StrategyAnalysis) -> Path:
    path = Path(path)
    path.write_text(report_html(analysis), encoding="utf-8")
    return path
