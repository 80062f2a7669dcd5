"""`gdp-zero`: chat in the terminal, start the web app, run crowd studies, report strategy
distributions, or evaluate planners without humans.

Each command lives in its own module of this package and is imported only when it runs, so
`gdp-zero --help` does not wait for the LLM client, Gradio or scipy. This package is the top of
the project: it may import the web apps (`ui/`, inside the command that serves them); nothing
imports it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Sequence

from gdp_zero.cli.parser import Parser

BROKEN_PIPE_STATUS = 141  # what a shell reports for a process ended by SIGPIPE (128 + 13)

# Command name: (module in this package, one-line help). Modules are imported lazily.
COMMANDS: dict[str, tuple[str, str]] = {
    "chat": ("chat", "chat with the planner in the terminal (you are the persuadee)"),
    "ui": ("web", "start the web app"),
    "fake-server": ("fake_server", "run the fake OpenAI-compatible server (canned replies)"),
    "strategies": ("strategies", "strategy distributions of dialogue sources, as a self-contained HTML report"),
    "study": ("study", "crowd studies: check a study file, serve it to participants, export its data"),
    "arena": ("arena", "arenas: check an arena file, report the leaderboard of its votes"),
    "pairwise": ("pairwise", "pairwise studies: people judge two finished dialogues; check a study file, serve it"),
    "personas": ("personas", "make persona files for self-play"),
    "selfplay": ("selfplay", "the planner against simulated persuadees (personas); resumable"),
    "traces": ("traces", "planned turns of runs or transcripts as chat-format training data (imitation or exploratory)"),
    "evaluate": ("evaluate",
                 "the paper's static evaluation: the planner's reply vs the human's on P4G contexts, by an LLM judge"),
}


def build_parser(argv: Sequence[str] | None = None) -> Parser:
    """The whole parser, or, given `argv`, one whose only configured command is the one `argv` names."""
    parser = Parser(prog="gdp-zero", description=__doc__.split("\n\n")[0].replace("\n", " "))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = None if argv is None else next((a for a in argv if not a.startswith("-")), "")
    for name, (module, summary) in COMMANDS.items():
        command = commands.add_parser(name, help=summary, description=summary)
        if chosen is None or chosen == name:
            importlib.import_module(f"gdp_zero.cli.{module}").configure(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    from gdp_zero.llm.errors import LLMError  # only now: the LLM client is not needed for --help
    from gdp_zero.validation import ConfigError

    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a reader gone away shows here, in the handler below, not in Python's flush at exit
        return status
    except (LLMError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader stopped early (`gdp-zero selfplay summarize RUNS | head`): nothing more can be written,
        # and Python's own flush at exit must not print a traceback about it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_STATUS
