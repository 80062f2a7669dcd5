"""`gdp-zero strategies SOURCES... --out report.html`: the Strategies tab's figures and test as one HTML file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gdp_zero.domain import DEFAULT_DOMAIN

SOURCES_HELP = ("P4G folder or file (300_dialog.csv/.xlsx, full_dialog.csv), saved transcript (.json) or self-play runs "
                "file (.jsonl); LABEL=PATH names a source in the figures")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help=SOURCES_HELP)
    parser.add_argument("--out", type=Path, default=Path("strategies.html"), help="the HTML file to write (default strategies.html)")
    parser.add_argument("--domain", default=DEFAULT_DOMAIN, help="built-in domain name or TOML file (default p4g)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: `gdp-zero chat` should not wait for scipy, statsmodels and Plotly.
    from gdp_zero.analysis.report import write_report
    from gdp_zero.analysis.sources import SourceError, load_sources
    from gdp_zero.analysis.strategies import analyse
    from gdp_zero.domain import load_domain
    from gdp_zero.p4g import P4GError

    domain = load_domain(args.domain)
    sources = []
    for spec in args.sources:
        try:
            found = load_sources(spec, domain)
        except (SourceError, P4GError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for source in found:
            print(f"{source.label}: {len(source.records)} dialogues from {source.origin}", file=sys.stderr)
            for note in source.notes:
                print(f"  note: {note}", file=sys.stderr)
        sources += found
    analysis = analyse(sources, domain)
    print(analysis.comparison_text())
    path = write_report(args.out, analysis)
    print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline)")
    return 0
