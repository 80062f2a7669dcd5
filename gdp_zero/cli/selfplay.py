"""`gdp-zero selfplay`: the planner against simulated persuadees (personas), resumable; and
`gdp-zero selfplay summarize`: success rates, turns and cost per run."""

from __future__ import annotations

import argparse
import asyncio
import sys
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
from gdp_zero.factory import ChatOptions
from gdp_zero.llm.client import LLMClient
from gdp_zero.personas import PERSONAS_DIR, load_personas
from gdp_zero.records import RecordError, load_records
from gdp_zero.selfplay import SelfPlayProgress, SelfPlayRun, check_runs_path, run_selfplay


def configure(selfplay: argparse.ArgumentParser) -> None:
    selfplay.description = ("Play dialogues between a planner and the LLM user simulator playing personas. "
                            "Re-running with the same --out skips finished dialogues.")
    add_llm_arguments(selfplay)
    add_planner_arguments(selfplay)
    play = selfplay.add_argument_group("self-play")
    play.add_argument("--personas", type=Path, nargs="+", default=[PERSONAS_DIR],
                      help="persona files or folders of them (default: the project's personas/)")
    play.add_argument("--dialogues", type=positive_int, default=20, help="dialogues in the run (personas in turn)")
    play.add_argument("--parallel", type=positive_int, default=8,
                      help="dialogues played at once; all share the LLM client's request limit")
    play.add_argument("--max-turns", type=positive_int, help="persuader turns before a dialogue fails (default: the domain's)")
    play.add_argument("--out", type=Path, help="the runs file (JSONL), e.g. runs/NAME.jsonl")
    play.add_argument("--name", help="the run's name in its records (default: the --out file's name)")
    play.add_argument("--memory", type=Path, metavar="FILE",
                      help="reflection memory (SQLite, made if missing): the planner recalls lessons from it at every "
                           "turn and each finished dialogue adds its lessons (gdpzero planner; off by default)")
    selfplay.set_defaults(run=run, command_parser=selfplay)
    actions = selfplay.add_subparsers(dest="selfplay_action")
    summarize = actions.add_parser("summarize", help="success rate, turns and cost per run, and a test between runs")
    summarize.add_argument("runs", type=Path, nargs="+", help="runs files (JSONL)")
    summarize.add_argument("--figure", type=Path, metavar="FILE.html",
                           help="also write the success-by-round curve of every run as a self-contained HTML figure")
    summarize.set_defaults(run=summarize_command)


def run(args: argparse.Namespace) -> int:
    if args.out is None:
        args.command_parser.error("the following arguments are required: --out")
    checked_flags(args, args.command_parser)
    check_runs_path(args.out)  # before a backend starts: a wrong --out is one line, and nothing is done
    personas = load_personas(args.personas)
    backend = backend_from_args(args)
    try:
        if backend.banner:
            print(backend.banner, file=sys.stderr)
        search = search_config(args, args.command_parser, suggested_search(backend.mode))
        if args.memory is not None and args.planner != "gdpzero":
            args.command_parser.error(f"argument --memory: lessons guide the gdpzero planner's search, not {args.planner}")
        options = ChatOptions(planner=args.planner, search=search, max_exchanges=args.max_turns, memory=args.memory)
        run = SelfPlayRun(
            name=args.name or args.out.stem,
            out=args.out,
            personas=tuple(personas),
            dialogues=args.dialogues,
            options=options,
            concurrency=args.parallel,
        )
        progress = asyncio.run(_play(run, backend))
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        backend.stop()
    learned = f" {progress.lessons_added} lessons added to {args.memory}." if args.memory is not None else ""
    print(
        f"{progress.total} dialogues of run {run.name!r} in {run.out} ({progress.skipped} were already there): "
        f"{progress.successes} succeeded.{learned} Summary: gdp-zero selfplay summarize {run.out}"
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


def summarize_command(args: argparse.Namespace) -> int:
    from gdp_zero.evaluation.summary import format_report, runs_of, summarize_run  # scipy: 1 s, only when used

    summaries, runs = [], {}  # runs: each run's records by its name, for the figure
    try:
        for path in args.runs:
            for name, records in runs_of(load_records(path), path.stem).items():
                summaries.append(summarize_run(name, records))
                runs[name if name not in runs else f"{path}: {name}"] = records
    except RecordError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not summaries:
        print("error: no finished dialogues in " + ", ".join(map(str, args.runs)), file=sys.stderr)
        return 2
    print(format_report(summaries))
    if args.figure is not None:
        # Plotly: only when a figure is asked for.
        from gdp_zero.analysis.figures import act_style, success_by_round_figure
        from gdp_zero.analysis.table import records_table
        from gdp_zero.domain import load_domain

        domain = load_domain(next(iter(runs.values()))[0].domain)
        figure = success_by_round_figure(records_table(runs, domain.success_act), act_style(domain))
        figure.update_layout(title_text="Share of each run's dialogues that had succeeded by each round")
        figure.write_html(args.figure, include_plotlyjs=True, full_html=True)
        print(f"figure written to {args.figure} (opens offline)")
    return 0
