"""`gdp-zero evaluate`: the paper's static evaluation, the planner's reply against the human's on
P4G contexts, by an LLM judge."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from gdp_zero.backends import Backend, suggested_search
from gdp_zero.cli.options import (
    add_llm_arguments,
    add_planner_arguments,
    backend_from_args,
    checked_flags,
    positive_int,
    search_config,
)
from gdp_zero.domain import load_domain
from gdp_zero.evaluation.jobs import check_output_file
from gdp_zero.evaluation.static import (
    HUMAN,
    EvaluationProgress,
    StaticEvaluation,
    load_judgments,
    opponent_replies,
    run_static_evaluation,
)
from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.p4g import P4GError, load_p4g
from gdp_zero.records import DialogueRecord, RecordError


def configure(evaluate: argparse.ArgumentParser) -> None:
    evaluate.description = (
        "At each persuader turn of P4G annotated dialogues, the planner replies to the real history and an "
        "LLM judge (role 'evaluator') compares its reply with the human's (or another run's), both in a "
        "random order, by majority of several votes. Resumable: re-running skips judged contexts.")
    add_llm_arguments(evaluate)
    add_planner_arguments(evaluate)
    static = evaluate.add_argument_group("static evaluation")
    static.add_argument("--p4g", type=Path, required=True,
                        help="P4G folder or annotated dialogue file (300_dialog.csv or .xlsx)")
    static.add_argument("--dialogues", type=positive_int, default=20, help="the first N annotated dialogues")
    static.add_argument("--against", default=HUMAN,
                        help="'human' (the real persuader's next turn) or a judgments file of another evaluate run")
    static.add_argument("--votes", type=positive_int, default=5, help="judge samples per comparison (majority vote)")
    static.add_argument("--order-seed", type=int, default=0, help="draws which reply is shown first, per context")
    static.add_argument("--parallel", type=positive_int, default=8, help="contexts planned and judged at once")
    static.add_argument("--out", type=Path, required=True, help="the judgments file (JSONL)")
    static.add_argument("--name", help="the run's name in its judgments (default: the --out file's name)")
    evaluate.set_defaults(run=run, command_parser=evaluate)


def run(args: argparse.Namespace) -> int:
    checked_flags(args, args.command_parser)
    check_output_file(args.out)  # before a backend starts: a folder for --out is one line, and nothing is done
    name = args.name or args.out.stem
    try:
        records = load_p4g(args.p4g, load_domain()).records[: args.dialogues]
        against, against_name = None, HUMAN
        if args.against != HUMAN:
            against_name, against = opponent_replies(load_judgments(Path(args.against)), args.against)
    except (RecordError, P4GError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    backend = backend_from_args(args)
    try:
        if backend.banner:
            print(backend.banner, file=sys.stderr)
        search = search_config(args, args.command_parser, suggested_search(backend.mode))
        options = ChatOptions(planner=args.planner, search=search)
        evaluation = StaticEvaluation(
            run=name, out=args.out, options=options, against=against, against_name=against_name,
            votes=args.votes, seed=args.order_seed, concurrency=args.parallel,
        )
        asyncio.run(_evaluate(evaluation, records, backend))
        judgments = [j for j in load_judgments(args.out) if j.run == name]
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        backend.stop()
    if not judgments:
        print(f"error: nothing was judged: no context of the {len(records)} dialogues is in {args.against}", file=sys.stderr)
        return 2
    from gdp_zero.evaluation.summary import format_judgments, summarize_judgments  # scipy: 1 s, only when used

    print(format_judgments(summarize_judgments(judgments)))
    return 0


async def _evaluate(evaluation: StaticEvaluation, records: Sequence[DialogueRecord], backend: Backend) -> EvaluationProgress:
    client = LLMClient(backend.settings)
    try:
        await client.check()
        with tqdm(unit="judgment", desc=evaluation.run, file=sys.stderr, dynamic_ncols=True) as bar:

            def show(progress: EvaluationProgress) -> None:
                bar.total = progress.total
                bar.set_postfix_str(f"win {progress.wins} / draw {progress.draws} / lose {progress.losses}", refresh=False)
                bar.update(progress.done - bar.n)

            return await run_static_evaluation(evaluation, records, client, show)
    finally:
        await client.aclose()
