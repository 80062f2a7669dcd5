"""`gdp-zero personas | selfplay | evaluate`: evaluation without humans, from the terminal."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tqdm import tqdm

from gdp_zero.backends import Backend, suggested_search
from gdp_zero.domain import load_domain
from gdp_zero.evaluation.static import (
    HUMAN,
    EvaluationProgress,
    StaticEvaluation,
    load_judgments,
    opponent_replies,
    run_static_evaluation,
)
from gdp_zero.factory import ChatOptions
from gdp_zero.planners import GDPZeroConfig
from gdp_zero.llm.client import LLMClient
from gdp_zero.p4g import P4GError, load_p4g
from gdp_zero.personas import PERSONAS_DIR, load_personas, p4g_persuadees, write_personas
from gdp_zero.records import RecordError, load_records
from gdp_zero.selfplay import SelfPlayProgress, SelfPlayRun, run_selfplay


def add_personas_command(commands: argparse._SubParsersAction) -> None:
    personas = commands.add_parser("personas", help="make persona files for self-play")
    actions = personas.add_subparsers(dest="personas_action", required=True)
    from_p4g = actions.add_parser("from-p4g", help="persona files from PersuasionForGood persuadees' survey answers")
    from_p4g.add_argument("csv", type=Path, help="P4G's full_info.csv")
    from_p4g.add_argument("--n", type=_positive, default=50, help="how many persuadees (the first in the file)")
    from_p4g.add_argument("--out", type=Path, required=True, help="folder for the persona files")
    from_p4g.set_defaults(run=personas_from_p4g_command)


def add_selfplay_command(commands: argparse._SubParsersAction) -> None:
    selfplay = commands.add_parser(
        "selfplay", conflict_handler="resolve",
        help="the planner against simulated persuadees (personas); resumable",
        description="Play dialogues between a planner and the LLM user simulator playing personas. "
                    "Re-running with the same --out skips finished dialogues.",
    )
    _add_llm_and_planner_arguments(selfplay)
    play = selfplay.add_argument_group("self-play")
    play.add_argument("--personas", type=Path, nargs="+", default=[PERSONAS_DIR],
                      help="persona files or folders of them (default: the project's personas/)")
    play.add_argument("--dialogues", type=_positive, default=20, help="dialogues in the run (personas in turn)")
    play.add_argument("--concurrency", dest="dialogue_concurrency", type=_positive, default=8,
                      help="dialogues played at once; all share the LLM client's request limit")
    play.add_argument("--max-turns", type=_positive, help="persuader turns before a dialogue fails (default: the domain's)")
    play.add_argument("--out", type=Path, help="the runs file (JSONL), e.g. runs/NAME.jsonl")
    play.add_argument("--name", help="the run's name in its records (default: the --out file's name)")
    selfplay.set_defaults(run=selfplay_command, command_parser=selfplay)
    actions = selfplay.add_subparsers(dest="selfplay_action")
    summarize = actions.add_parser("summarize", help="success rate, turns and cost per run, and a test between runs")
    summarize.add_argument("runs", type=Path, nargs="+", help="runs files (JSONL)")
    summarize.set_defaults(run=summarize_command)


def add_evaluate_command(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate", conflict_handler="resolve",
        help="the paper's static evaluation: the planner's reply vs the human's on P4G contexts, by an LLM judge",
        description="At each persuader turn of P4G annotated dialogues, the planner replies to the real history and an "
                    "LLM judge (role 'evaluator') compares its reply with the human's (or another run's), both in a "
                    "random order, by majority of several votes. Resumable: re-running skips judged contexts.",
    )
    _add_llm_and_planner_arguments(evaluate)
    static = evaluate.add_argument_group("static evaluation")
    static.add_argument("--p4g", type=Path, required=True,
                        help="P4G folder or annotated dialogue file (300_dialog.csv or .xlsx)")
    static.add_argument("--dialogues", type=_positive, default=20, help="the first N annotated dialogues")
    static.add_argument("--against", default=HUMAN,
                        help="'human' (the real persuader's next turn) or a judgments file of another evaluate run")
    static.add_argument("--votes", type=_positive, default=5, help="judge samples per comparison (majority vote)")
    static.add_argument("--order-seed", type=int, default=0, help="draws which reply is shown first, per context")
    static.add_argument("--concurrency", dest="context_concurrency", type=_positive, default=8,
                        help="contexts planned and judged at once")
    static.add_argument("--out", type=Path, required=True, help="the judgments file (JSONL)")
    static.add_argument("--name", help="the run's name in its judgments (default: the --out file's name)")
    evaluate.set_defaults(run=evaluate_command, command_parser=evaluate)


def _add_llm_and_planner_arguments(parser: argparse.ArgumentParser) -> None:
    """The chat's LLM and planner flags. The parser must resolve conflicts: its own --concurrency
    counts dialogues (or contexts) at once, so the search's becomes --search-concurrency."""
    from gdp_zero.cli import add_llm_arguments, add_planner_arguments

    add_llm_arguments(parser)
    add_planner_arguments(parser)
    parser.add_argument("--search-concurrency", dest="concurrency", type=_positive,
                        help="simulations in flight in each search")


def personas_from_p4g_command(args: argparse.Namespace) -> int:
    written = write_personas(p4g_persuadees(args.csv, args.n), args.out)
    print(f"Wrote {len(written)} persona files to {args.out}")
    return 0


def selfplay_command(args: argparse.Namespace) -> int:
    from gdp_zero.cli import backend_from_args, checked_search_config

    if args.out is None:
        args.command_parser.error("the following arguments are required: --out")
    checked_search_config(args, args.command_parser, GDPZeroConfig())  # bad flags fail before a backend starts
    personas = load_personas(args.personas)
    backend = backend_from_args(args)
    try:
        if backend.banner:
            print(backend.banner, file=sys.stderr)
        search = checked_search_config(args, args.command_parser, suggested_search(backend.mode))
        options = ChatOptions(planner=args.planner, search=search, max_exchanges=args.max_turns)
        run = SelfPlayRun(
            name=args.name or args.out.stem,
            out=args.out,
            personas=tuple(personas),
            dialogues=args.dialogues,
            options=options,
            concurrency=args.dialogue_concurrency,
        )
        progress = asyncio.run(_play(run, backend))
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        backend.stop()
    print(
        f"{progress.total} dialogues of run {run.name!r} in {run.out} ({progress.skipped} were already there): "
        f"{progress.successes} succeeded. Summary: gdp-zero selfplay summarize {run.out}"
    )
    return 0


async def _play(run: SelfPlayRun, backend: Backend) -> SelfPlayProgress:
    client = LLMClient(backend.settings)
    try:
        await client.check()
        with tqdm(total=run.dialogues, unit="dialogue", desc=run.name, file=sys.stderr, dynamic_ncols=True) as bar:

            def show(progress: SelfPlayProgress) -> None:
                rate = f" ({progress.successes / progress.done:.0%})" if progress.done else ""
                bar.set_postfix_str(f"success {progress.successes}/{progress.done}{rate}", refresh=False)
                bar.update(progress.done - bar.n)

            return await run_selfplay(run, client, show)
    finally:
        await client.aclose()


def evaluate_command(args: argparse.Namespace) -> int:
    from gdp_zero.cli import backend_from_args, checked_search_config

    checked_search_config(args, args.command_parser, GDPZeroConfig())  # bad flags fail before a backend starts
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
        search = checked_search_config(args, args.command_parser, suggested_search(backend.mode))
        options = ChatOptions(planner=args.planner, search=search)
        evaluation = StaticEvaluation(
            run=name, out=args.out, options=options, against=against, against_name=against_name,
            votes=args.votes, seed=args.order_seed, concurrency=args.context_concurrency,
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


async def _evaluate(evaluation: StaticEvaluation, records: list, backend: Backend) -> EvaluationProgress:
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


def summarize_command(args: argparse.Namespace) -> int:
    from gdp_zero.evaluation.summary import format_report, runs_of, summarize_run  # scipy: 1 s, only when used

    summaries = []
    try:
        for path in args.runs:
            for name, records in runs_of(load_records(path), path.stem).items():
                summaries.append(summarize_run(name, records))
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not summaries:
        print("error: no finished dialogues in " + ", ".join(map(str, args.runs)), file=sys.stderr)
        return 2
    print(format_report(summaries))
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value
