"""`gdp-zero`: chat in the terminal, start the web app, run the fake LLM server, report strategy distributions, or evaluate planners without humans."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Awaitable, NoReturn, Sequence, TextIO

from gdp_zero.analysis.cli import add_strategies_command
from gdp_zero.backends import MODES, Backend, check_backend, open_backend, suggested_search
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.errors import EndpointSetupError, LLMError
from gdp_zero.llm.fake_server import add_server_arguments, serve_from_args
from gdp_zero.mcts.search import ROOT_RULES, SearchProgress
from gdp_zero.planners import PLANNERS, GDPZeroConfig
from gdp_zero.planners.checks import InvalidSetting, check_search
from gdp_zero.records import save_record
from gdp_zero.session import ChatSession, MessageRejected
from gdp_zero.study.cli import add_study_commands
from gdp_zero.text import for_terminal
from gdp_zero.validation import ConfigError
from gdp_zero.wording import plural
from gdp_zero.serving.limits import LimitSettings, add_limit_arguments

COMMANDS = ("/undo", "/restart", "/retry", "/save [FILE]", "/quit")
CHAT_HELP = "Commands: " + "  ".join(COMMANDS)
PROMPT = "You: "
# The flag that sets each planner number, to name it in an error.
PLANNER_FLAGS = {
    "simulations": "--sims",
    "realizations": "--realizations",
    "q0": "--q0",
    "c_puct": "--cpuct",
    "prior_samples": "--prior-samples",
    "value_samples": "--value-samples",
    "concurrency": "--concurrency",
    "time_budget_s": "--time-budget",
}


class Parser(argparse.ArgumentParser):
    """argparse, with every usage error on one line (the usage is one `--help` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM")
    group.add_argument("--llm", choices=MODES, default="auto",
                       help="auto: a real endpoint if a key or base URL is set, else the local model if installed, else canned demo replies")
    group.add_argument("--model", help="model name for every role (default gpt-4o-mini, or OPENAI_MODEL)")
    group.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1 (vLLM)")
    group.add_argument("--api-key", help="prefer the OPENAI_API_KEY environment variable: flags show in process lists")
    group.add_argument("--config", type=Path, help="TOML file with [llm] and per-role [llm.roles.NAME] settings")


def add_planner_arguments(parser: argparse.ArgumentParser) -> None:
    # Unset numbers take the backend's suggestion (a smaller search for the tiny local model).
    d = GDPZeroConfig()
    group = parser.add_argument_group(
        f"planner (defaults: {d.simulations} simulations, k={d.realizations}, Q0 {d.q0:g}, c_puct {d.c_puct:g}, "
        f"{d.prior_samples} prior and {d.value_samples} value samples, {d.concurrency} in flight)")
    group.add_argument("--planner", choices=PLANNERS, default="gdpzero")
    group.add_argument("--sims", type=int, help="MCTS simulations per turn")
    group.add_argument("--realizations", type=int, help="k realizations per node")
    group.add_argument("--q0", type=float, help="initial Q of unvisited acts")
    group.add_argument("--cpuct", type=float, help="exploration constant")
    group.add_argument("--prior-samples", type=int, help="samples of the next act for the policy prior")
    group.add_argument("--value-samples", type=int, help="samples of the user's answer for the value")
    group.add_argument("--concurrency", type=int, help="simulations in flight at once")
    group.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                       help="stop launching simulations when the next would not finish in time")
    group.add_argument("--sequential", action="store_true",
                       help="the published search: one call at a time, no batching, no tree reuse")
    group.add_argument("--no-reuse", action="store_true", help="do not keep the chosen subtree for the next turn")
    group.add_argument("--choose-by", choices=("visits", "value"),
                       help="final act: most visited (as published; the --sequential default) or highest Q (the concurrent default)")
    group.add_argument("--root", choices=ROOT_RULES,
                       help="root selection: PUCT (as published) or Gumbel-top-k with Sequential Halving (see the README)")
    group.add_argument("--closed-loop", action="store_true", help="ablation: closed-loop search (k = 1)")
    group.add_argument("--no-response-selection", action="store_true", help="ablation: write a fresh reply for the chosen act")
    group.add_argument("--seed", type=int, default=None)


def search_config(args: argparse.Namespace, suggested: GDPZeroConfig) -> GDPZeroConfig:
    config = GDPZeroConfig.sequential(**_numbers(suggested)) if args.sequential else suggested
    given = {
        "simulations": args.sims,
        "realizations": args.realizations,
        "q0": args.q0,
        "c_puct": args.cpuct,
        "prior_samples": args.prior_samples,
        "value_samples": args.value_samples,
        "time_budget_s": args.time_budget,
        "seed": args.seed,
        "choose_by": args.choose_by,
        "root": args.root,
    }
    if not args.sequential:
        given |= {"concurrency": args.concurrency, "reuse_tree": False if args.no_reuse else None}
    config = replace(config, **{k: v for k, v in given.items() if v is not None})
    return replace(config, open_loop=not args.closed_loop, response_selection=not args.no_response_selection)


def checked_search_config(args: argparse.Namespace, parser: argparse.ArgumentParser,
                          suggested: GDPZeroConfig) -> GDPZeroConfig:
    """The search the flags describe, checked by the planner's own rules; a bad number ends in `parser.error`."""
    try:
        return check_search(search_config(args, suggested))
    except InvalidSetting as invalid:
        parser.error(f"argument {PLANNER_FLAGS.get(invalid.setting, invalid.setting)}: {invalid.problem}")


def _numbers(config: GDPZeroConfig) -> dict[str, object]:
    fields = ("simulations", "realizations", "q0", "c_puct", "prior_samples", "value_samples")
    return {f: getattr(config, f) for f in fields}


def backend_from_args(args: argparse.Namespace) -> Backend:
    return open_backend(args.llm, config_path=args.config, model=args.model, base_url=args.base_url, api_key=args.api_key)


class TerminalChat:
    def __init__(self, session: ChatSession, out: TextIO, err: TextIO, save_path: Path | None) -> None:
        self.session, self.out, self.err, self.save_path = session, out, err, save_path

    def progress(self, p: SearchProgress) -> None:
        if not self.err.isatty():  # in a log, redrawn frames would make one endless line
            return
        width = 20
        filled = width * p.done // max(p.total, 1)
        self.err.write(f"\r  searching [{'#' * filled}{'.' * (width - filled)}] {p.done}/{p.total} simulations, {p.elapsed_s:.1f} s")
        self.err.flush()
        if p.done >= p.total:
            self.err.write("\n")

    def show_bot(self) -> None:
        turn = self.session.log[-1]
        planned = turn.planned
        note = ""
        if planned is not None and planned.simulations + planned.reused_simulations:
            note = f"  ({plural(planned.simulations, 'simulation')}, {planned.reused_simulations} reused, {planned.seconds:.1f} s)"
        # LLM text is cleaned where it enters; a terminal gets printable characters only, on one line.
        self.out.write(f"Persuader [{for_terminal(turn.act)}]: {for_terminal(turn.text)}{note}\n")

    async def attempt(self, step: Awaitable[object]) -> None:
        """Run one turn; a refusal or a passing endpoint failure is a hint, a wrong setup ends the chat."""
        try:
            await step
        except MessageRejected as rejected:
            self.out.write(f"{rejected}\n")
            return
        except EndpointSetupError:
            raise
        except LLMError as error:
            self.out.write(f"error: {error}\n(Your message is kept: type /retry to try again.)\n")
            return
        log = self.session.log
        answered = log[-2] if len(log) > 1 and log[-1].speaker == "system" else log[-1] if log else None
        if answered is not None and answered.speaker == "user":
            self.out.write(f"  (your message was labelled [{answered.act}])\n")
        if log and log[-1].speaker == "system":
            self.show_bot()
        if self.session.ending is not None:
            self.out.write(f"{self.session.ending} Type /restart for a new dialogue, /save FILE or /quit.\n")

    async def run(self, lines: TextIO) -> None:
        """The chat until /quit or the end of input; on a wrong setup the dialogue is saved, then the error raised."""
        try:
            await self._converse(lines)
        except EndpointSetupError:
            if self.session.log or self.session.pending is not None:
                self.save(self.save_path or Path(time.strftime("gdp-zero-transcript-%Y%m%d-%H%M%S.json")))
            raise
        if self.save_path is not None:
            self.save(self.save_path)

    async def _converse(self, lines: TextIO) -> None:
        self.out.write(CHAT_HELP + "\n")
        await self.attempt(self.session.open(self.progress))
        while True:
            self.out.write(PROMPT)
            self.out.flush()
            raw = lines.readline()
            if not raw:
                self.out.write("\n")
                return
            if not lines.isatty():  # piped input is not echoed: show it, so the log reads as a dialogue
                self.out.write(raw if raw.endswith("\n") else raw + "\n")
            text = raw.strip()
            if text in ("/quit", "/exit"):
                return
            if text == "/undo":
                self.out.write("Undone.\n" if self.session.undo() else "Nothing to undo.\n")
            elif text == "/restart":
                self.session.restart()
                await self.attempt(self.session.open(self.progress))
            elif text == "/retry":
                await self.attempt(self.session.retry(self.progress))
            elif text == "/save" or text.startswith("/save "):
                self.save(Path(text[5:].strip() or "transcript.json"))
            elif text.startswith("/") and " " not in text:
                self.out.write(f"Unknown command {text}. {CHAT_HELP}\n")
            else:
                await self.attempt(self.session.send(text, self.progress))
            self.out.flush()

    def save(self, path: Path) -> None:
        save_record(path, self.session.record())
        self.out.write(f"Transcript saved to {path}\n")


async def run_chat(args: argparse.Namespace, backend: Backend, search: GDPZeroConfig) -> None:
    session = build_session(backend.settings, ChatOptions(planner=args.planner, search=search))
    try:
        await TerminalChat(session, sys.stdout, sys.stderr, args.save).run(sys.stdin)
    finally:
        await session.aclose()


def chat_command(args: argparse.Namespace) -> int:
    checked_search_config(args, args.parser, GDPZeroConfig())  # bad flags fail before a backend starts
    backend = backend_from_args(args)
    try:
        search = checked_search_config(args, args.parser, suggested_search(backend.mode))
        if backend.banner:
            print(backend.banner)
        check_backend(backend)  # a wrong key, model or address: one line now, not mid-chat
        print(f"You are the persuadee. Planner: {args.planner}.")
        asyncio.run(run_chat(args, backend, search))
    finally:
        backend.stop()
    return 0


def ui_command(args: argparse.Namespace) -> int:
    from ui.app import launch

    limits = LimitSettings.from_args(args)
    backend = backend_from_args(args)
    try:
        if backend.banner:
            print(backend.banner, flush=True)
        check_backend(backend)
        launch(backend, host=args.host, port=args.port, share=args.share, limits=limits, data_dirs=args.data_dir)
    finally:
        backend.stop()
    return 0


def fake_server_command(args: argparse.Namespace) -> int:
    serve_from_args(args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="gdp-zero", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    chat = commands.add_parser("chat", help="chat with the planner in the terminal (you are the persuadee)")
    add_llm_arguments(chat)
    add_planner_arguments(chat)
    chat.add_argument("--save", type=Path,
                      help="write the transcript (acts, trees, usage) as JSON on exit, or when the endpoint's setup fails")
    chat.set_defaults(run=chat_command, parser=chat)
    ui = commands.add_parser("ui", help="start the web app")
    add_llm_arguments(ui)
    ui.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    ui.add_argument("--port", type=int, default=7860, help="port to serve on (default: %(default)s)")
    ui.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    ui.add_argument("--data-dir", type=Path, action="append", default=[], metavar="FOLDER",
                    help="a folder whose P4G files the Strategies tab may read (repeatable; none: the tab takes uploads only)")
    add_limit_arguments(ui)
    ui.set_defaults(run=ui_command)
    fake = commands.add_parser("fake-server", help="run the fake OpenAI-compatible server (canned replies)",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_server_arguments(fake)
    fake.set_defaults(run=fake_server_command)
    add_strategies_command(commands)
    add_study_commands(commands)
    from gdp_zero.evaluation import cli as evaluation  # imported here: its commands reuse this module's options

    evaluation.add_personas_command(commands)
    evaluation.add_selfplay_command(commands)
    evaluation.add_evaluate_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (LLMError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
