"""`gdp-zero chat`: the planner in the terminal; you are the persuadee."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Awaitable, TextIO

from gdp_zero.backends import Backend, check_backend, suggested_search
from gdp_zero.cli.options import add_llm_arguments, add_planner_arguments, backend_from_args, checked_flags, search_config
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.errors import EndpointSetupError, LLMError
from gdp_zero.mcts.search import SearchProgress
from gdp_zero.planners.gdpzero import GDPZeroConfig
from gdp_zero.records import save_record
from gdp_zero.session import ChatSession, MessageRejected
from gdp_zero.text import for_terminal
from gdp_zero.wording import plural

COMMANDS = ("/undo", "/restart", "/retry", "/save [FILE]", "/quit")
CHAT_HELP = "Commands: " + "  ".join(COMMANDS)
PROMPT = "You: "


def configure(parser: argparse.ArgumentParser) -> None:
    add_llm_arguments(parser)
    add_planner_arguments(parser)
    parser.add_argument("--save", type=Path,
                        help="write the transcript (acts, trees, usage) as JSON on exit, or when the endpoint's setup fails")
    parser.set_defaults(run=run, parser=parser)


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


def run(args: argparse.Namespace) -> int:
    checked_flags(args, args.parser)
    backend = backend_from_args(args)
    try:
        search = search_config(args, args.parser, suggested_search(backend.mode))
        if backend.banner:
            print(backend.banner)
        check_backend(backend)  # a wrong key, model or address: one line now, not mid-chat
        print(f"You are the persuadee. Planner: {args.planner}.")
        asyncio.run(run_chat(args, backend, search))
    finally:
        backend.stop()
    return 0
