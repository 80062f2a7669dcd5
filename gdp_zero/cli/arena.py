"""`gdp-zero arena check | report`: arena files, and the leaderboard of an arena's votes as an offline report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gdp_zero.cli.options import positive_int


def configure(arena: argparse.ArgumentParser) -> None:
    sub = arena.add_subparsers(dest="arena_command", required=True)

    check = sub.add_parser("check", help="validate an arena file and list its contestants")
    check.add_argument("arena_file", type=Path)
    check.set_defaults(run=check_command)

    report = sub.add_parser("report", help="the leaderboard of an arena's votes as one HTML file (opens offline) and CSV")
    report.add_argument("votes", metavar="VOTES",
                        help="the study database the votes are in (a path or URL), or a votes CSV file (columns model_a, model_b, winner)")
    report.add_argument("--out", type=Path, default=Path("arena-report.html"),
                        help="the HTML file to write (default arena-report.html); the leaderboard CSV goes beside it")
    report.add_argument("--arena", help="the arena's id, when the database holds votes of several")
    # The default is the leaderboard's (1000), not imported here: `gdp-zero --help` would wait for pandas and scipy.
    report.add_argument("--rounds", type=positive_int, help="bootstrap resamples for the 95%% intervals (default 1000)")
    report.add_argument("--seed", type=int, default=0, help="the bootstrap's seed: the same seed, the same intervals (default 0)")
    report.set_defaults(run=report_command)


def check_command(args: argparse.Namespace) -> int:
    from gdp_zero.arena.contestants import load_arena

    arena = load_arena(args.arena_file)
    print(f"{args.arena_file}: OK\narena {arena.id!r}: {arena.title}\ncontestants (shown as A and B until the vote):")
    for contestant in arena.contestants:
        search = contestant.search.model_dump(exclude_none=True)
        details = ", ".join(f"{k}={v}" for k, v in {**search, **({"llm": contestant.llm} if contestant.llm else {})}.items())
        print(f"  {contestant.name}: planner {contestant.planner} ({details or 'defaults'}), shown as {contestant.shown_name!r}")
    return 0


def report_command(args: argparse.Namespace) -> int:
    # Here, not at the top: the other commands should not wait for pandas, scipy and Plotly.
    from gdp_zero.arena.leaderboard import BOOTSTRAP_ROUNDS, VotesError, leaderboard
    from gdp_zero.arena.report import unbounded_text, write_report
    from gdp_zero.arena.service import read_votes
    from gdp_zero.study.db import DatabaseError

    try:
        votes, arena = read_votes(args.votes, args.arena)
        board = leaderboard(votes, rounds=args.rounds or BOOTSTRAP_ROUNDS, seed=args.seed)
    except (VotesError, DatabaseError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(board.table().to_string(index=False))
    note = unbounded_text(board)
    if note:
        print(f"note: {note}", file=sys.stderr)
    path = write_report(args.out, board, arena)
    print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB, opens offline); leaderboard CSV: "
          f"{path.with_suffix('.csv')}")
    return 0
