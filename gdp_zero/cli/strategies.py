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
    parser.add_argument("--unit", choices=("turn", "strategies", "sentence"), default="turn",
                        help="what is counted: each turn's one act (default), every act present in a turn, or every act present "
                             "in a sentence (the last two count a P4G sentence's second label too)")
    parser.add_argument("--scope", choices=("whole", "before-donation"), default="whole",
                        help="whole dialogues (default), or each up to the persuadee's first agreement to donate")
    parser.add_argument("--compare", choices=("sources", "outcome"), default="sources",
                        help="test the sources against each other (default), or donors against non-donors within each source")
    parser.add_argument("--csv", type=Path, metavar="FOLDER", help="also write every table as a CSV file in FOLDER")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Here, not at the top: `gdp-zero chat` should not wait for scipy, statsmodels and Plotly.
    from gdp_zero.analysis.report import write_report
    from gdp_zero.analysis.sources import SourceError, load_sources
    from gdp_zero.analysis.strategies import analyse
    from gdp_zero.analysis.table import Counting
    from gdp_zero.analysis.tables import analysis_tables
    from gdp_zero.domain import load_domain
    from gdp_zero.p4g import P4GError

    for path, wanted in ((args.out, "the HTML file to write"), (args.csv, "a folder for the CSV tables")):
        if path is not None and path.exists() and path.is_dir() != (path is args.csv):
            print(f"error: {path}: is a {'folder' if path.is_dir() else 'file'}; give {wanted}", file=sys.stderr)
            return 2
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
    analysis = analyse(sources, domain, Counting(args.unit, args.scope), args.compare)
    for caution in analysis.cautions:
        print(f"note: {caution}", file=sys.stderr)
    print(analysis.comparison_text())
    path = write_report(args.out, analysis)
    print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline)")
    if args.csv is not None:
        args.csv.mkdir(parents=True, exist_ok=True)
        for name, frame in analysis_tables(analysis).items():
            frame.to_csv(args.csv / f"{name}.csv", index=False)
        print(f"tables written to {args.csv}/ as CSV")
    return 0
