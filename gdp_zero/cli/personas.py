"""`gdp-zero personas from-p4g`: persona files for self-play, from PersuasionForGood persuadees."""

from __future__ import annotations

import argparse
from pathlib import Path

from gdp_zero.cli.options import positive_int
from gdp_zero.personas import p4g_personas, write_personas


def configure(personas: argparse.ArgumentParser) -> None:
    actions = personas.add_subparsers(dest="personas_action", required=True)
    from_p4g = actions.add_parser("from-p4g", help="persona files from PersuasionForGood persuadees' survey answers")
    from_p4g.add_argument("csv", type=Path, help="P4G's full_info.csv")
    from_p4g.add_argument("--n", type=positive_int, default=50, help="how many persuadees (the first in the file)")
    from_p4g.add_argument("--out", type=Path, required=True, help="folder for the persona files")
    from_p4g.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    written = write_personas(p4g_personas(args.csv, args.n), args.out)
    print(f"Wrote {len(written)} persona files to {args.out}")
    return 0
