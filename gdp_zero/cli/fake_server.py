"""`gdp-zero fake-server`: the fake OpenAI-compatible server (canned replies), for demos and tests."""

from __future__ import annotations

import argparse

from gdp_zero.llm.fake_server import add_server_arguments, serve_from_args


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    add_server_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    serve_from_args(args)
    return 0
