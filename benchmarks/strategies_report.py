"""How long the strategy analysis takes on the published P4G files, and what it finds in them.

Prints one table (seconds per step, one run each) and the test of persuader acts in P4G dialogues
whose persuadee donated against those whose persuadee did not, at the dialogue level.

    python benchmarks/strategies_report.py /path/to/p4g
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from gdp_zero.analysis.report import write_report
from gdp_zero.analysis.sources import load_sources
from gdp_zero.analysis.strategies import analyse
from gdp_zero.domain import load_domain
from gdp_zero.p4g import load_p4g_annotated, load_p4g_full


def timed(step):
    started = time.perf_counter()
    result = step()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("p4g", type=Path, help="folder of the P4G files")
    folder = parser.parse_args().p4g
    domain = load_domain()
    rows = []
    csv, seconds = timed(lambda: load_p4g_annotated(folder / "300_dialog.csv", domain))
    rows.append(("load 300_dialog.csv + 300_info.csv", seconds, csv.summary()))
    xlsx, seconds = timed(lambda: load_p4g_annotated(folder / "300_dialog.xlsx", domain))
    rows.append(("load 300_dialog.xlsx + 300_info.csv", seconds, xlsx.summary()))
    full, seconds = timed(lambda: load_p4g_full(folder / "full_dialog.csv", domain))
    rows.append(("load full_dialog.csv + full_info.csv", seconds, full.summary()))
    p4g = load_sources(str(folder), domain)[0]
    analysis, seconds = timed(lambda: analyse([p4g], domain, compare="outcome"))
    rows.append((f"table, {len(analysis.figures)} figures and the dialogue-level test (donors vs non-donors)", seconds,
                 f"{len(analysis.table)} turns"))
    with tempfile.TemporaryDirectory() as tmp:
        path, seconds = timed(lambda: write_report(Path(tmp) / "report.html", analysis))
        rows.append(("write the self-contained HTML report", seconds, f"{path.stat().st_size / 1e6:.1f} MB"))

    print("| step | seconds | result |\n| --- | --- | --- |")
    for step, seconds, result in rows:
        print(f"| {step} | {seconds:.2f} | {result} |")
    print(f"\nP4G persuader acts: {analysis.comparison_text()}")


if __name__ == "__main__":
    main()
