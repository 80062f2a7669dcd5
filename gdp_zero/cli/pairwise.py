"""`gdp-zero pairwise check | serve`: pairwise studies (ACUTE-Eval's design): people judge two finished dialogues."""

from __future__ import annotations

import argparse
from pathlib import Path

from gdp_zero.cli.options import add_study_server_arguments

DEFAULT_DB = "sqlite:///pairwise.db"


def configure(pairwise: argparse.ArgumentParser) -> None:
    sub = pairwise.add_subparsers(dest="pairwise_command", required=True)

    check = sub.add_parser("check", help="validate a pairwise study file and count its dialogues by persuader")
    check.add_argument("study_file", type=Path)
    check.set_defaults(run=check_command)

    serve = sub.add_parser("serve", help="serve the pairs to participants at / and the leaderboard at /admin/")
    serve.add_argument("study_file", type=Path)
    add_study_server_arguments(serve, default_db=DEFAULT_DB, default_port=7862)
    serve.set_defaults(run=serve_command)


def check_command(args: argparse.Namespace) -> int:
    from collections import Counter

    from gdp_zero.study.pairwise import load_pairwise_study

    loaded = load_pairwise_study(args.study_file)
    counts = Counter(c.persuader for c in loaded.candidates)
    print(f"{args.study_file}: OK\npairwise study {loaded.study.id!r}: {loaded.study.title}\n"
          f"{loaded.study.pairs} pairs and an attention check per participant; questions: {', '.join(loaded.study.questions)}")
    for persuader in loaded.persuaders:
        print(f"  {persuader}: {counts[persuader]} finished dialogues")
    return 0


def serve_command(args: argparse.Namespace) -> int:
    from gdp_zero.study.pairwise import load_pairwise_study
    from ui.study.pairwise_page import serve_pairwise  # the web pages sit above the library: only this command imports them

    loaded = load_pairwise_study(args.study_file)
    return serve_pairwise(loaded, database_url=args.db, host=args.host, port=args.port,
                          admin_password=args.admin_password, local_only=args.local_only)

