"""`gdp-zero traces`: planned turns of runs or transcripts as chat-format training data (JSONL)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(traces: argparse.ArgumentParser) -> None:
    from gdp_zero.traces import TRACE_FORMATS

    traces.description = (
        "Write one chat-format line per planned persuader turn: imitation (context -> chosen act and line) or "
        "exploratory (context -> the turn's search in simulation order, then the chosen act and line). "
        "OpenAI fine-tuning and TRL's SFTTrainer read the file as it is."
    )
    traces.add_argument("sources", type=Path, nargs="+", metavar="RUNS_OR_TRANSCRIPTS",
                        help="self-play runs files (.jsonl) or saved transcripts (.json)")
    traces.add_argument("--format", choices=TRACE_FORMATS, default="imitation", help="what each line teaches")
    traces.add_argument("--out", type=Path, required=True, help="the training file to write (JSONL), e.g. train.jsonl")
    traces.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from gdp_zero.records import RecordError
    from gdp_zero.traces import export_traces

    if any(args.out.resolve() == source.resolve() for source in args.sources):
        print(f"error: --out {args.out} is one of the sources; write the training file elsewhere", file=sys.stderr)
        return 2
    try:
        stats = export_traces(args.sources, args.format, args.out)
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{stats.lines} {args.format} lines from {stats.dialogues} dialogues ({stats.chars / 1e6:.2f} MB) in {args.out}")
    return 0
