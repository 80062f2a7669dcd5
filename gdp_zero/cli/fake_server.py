"""`gdp-zero fake-server`: the fake OpenAI-compatible server (canned replies), for demos and tests."""

from __future__ import annotations

import argparse

from gdp_zero.llm.fake_server import FAULT_KINDS, FakeLLMServer, serve


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds each request waits")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests given a fault")
    parser.add_argument("--faults", default=",".join(FAULT_KINDS), help="comma-separated fault kinds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ignore-n", action="store_true", help="answer one choice whatever n is (like llama.cpp)")
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument("--models", default="fake-model", help="comma-separated model names to serve")
    parser.add_argument("--hang", type=float, default=30.0, help="seconds a 'timeout' fault hangs")
    parser.set_defaults(run=run, command_parser=parser)


def run(args: argparse.Namespace) -> int:
    try:
        server = FakeLLMServer(
            latency_s=args.latency,
            fault_rate=args.fault_rate,
            faults=[f for f in args.faults.split(",") if f],
            seed=args.seed,
            ignore_n=args.ignore_n,
            api_key=args.api_key,
            models=[m for m in args.models.split(",") if m],
            hang_s=args.hang,
            port=args.port,
        )
    except ValueError as error:  # "parameter: problem", as the server's constructor says it
        parameter, problem = str(error).split(": ", 1)
        args.command_parser.error(f"argument --{parameter.replace('_', '-')}: {problem}")
    serve(server)
    return 0
