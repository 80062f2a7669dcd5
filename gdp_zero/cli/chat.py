"""`gdp-zero chat`: the planner in the terminal; you are the persuadee."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TextIO

from gdp_zero.backends import Backend, check_backend, suggested_search
from gdp_zero.cli.options import (
    add_llm_arguments,
    add_planner_arguments,
    backend_from_args,
    checked_flags,
    search_config,
)
from gdp_zero.factory import ChatOptions, build_session
from gdp_zero.llm.errors import EndpointSetupError, LLMError
from gdp_zero.mcts.search import SearchProgress
from gdp_zero.planners.gdpzero import GDPZeroConfig
from gdp_zero.records import save_record
from gdp_zero.session import ChatSession, DialogueOver, MessageRejected
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


class InputLines:
    """The person's lines, read without blocking the event loop when the input is a real file descriptor
    (a terminal or a pipe): Ctrl-C at the prompt then acts at once instead of after the next Enter.
    Anything else (a StringIO in tests) is read with its own readline."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        try:
            self.fd: int | None = stream.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
            self.fd = None
        self._buffer = b""
        self._eof = False

    def isatty(self) -> bool:
        return self.stream.isatty()

    async def readline(self) -> str:
        if self.fd is None:
            return self.stream.readline()
        loop = asyncio.get_running_loop()
        while b"\n" not in self._buffer and not self._eof:
            await _readable(loop, self.fd)
            chunk = os.read(self.fd, 65536)
            self._buffer += chunk
            self._eof = not chunk
        line, sep, rest = self._buffer.partition(b"\n")
        self._buffer = rest
        return (line + sep).decode("utf-8", errors="replace")


async def _readable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Until `fd` has something to read (or its end); cancelling this stops the wait at once."""
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


class TerminalChat:
    def __init__(self, session: ChatSession, out: TextIO, err: TextIO, save_path: Path | None) -> None:
        self.session, self.out, self.err, self.save_path = session, out, err, save_path
        self._bar_open = False  # the progress bar's line has no newline yet
        self._turn: asyncio.Task[Any] | None = None  # the search in flight, which Ctrl-C cancels
        self._reading: asyncio.Task[str] | None = None  # the prompt waiting for a line, which Ctrl-C ends
        self.interrupted = False  # Ctrl-C at the prompt ended the chat

    def progress(self, p: SearchProgress) -> None:
        if not self.err.isatty():  # in a log, redrawn frames would make one endless line
            return
        width = 20
        filled = width * p.done // max(p.total, 1)
        self.err.write(f"\r  searching [{'#' * filled}{'.' * (width - filled)}] {p.done} of "
                       f"{plural(p.total, 'simulation')} done, {p.elapsed_s:.1f} s")
        self.err.flush()
        self._bar_open = True
        if p.done >= p.total:
            self.end_bar()

    def end_bar(self) -> None:
        """End the progress bar's line, so that what is said next starts on a line of its own."""
        if self._bar_open:
            self.err.write("\n")
            self.err.flush()
            self._bar_open = False

    def say(self, text: str) -> None:
        self.end_bar()
        self.out.write(text + "\n")
        self.out.flush()

    def show_bot(self) -> None:
        turn = self.session.log[-1]
        planned = turn.planned
        note = ""
        if planned is not None and planned.simulations + planned.reused_simulations:
            note = f"  ({plural(planned.simulations, 'simulation')}, {planned.reused_simulations} reused, {planned.seconds:.1f} s)"
        # LLM text is cleaned where it enters; a terminal gets printable characters only, on one line.
        self.say(f"Persuader [{for_terminal(turn.act)}]: {for_terminal(turn.text)}{note}")

    def interrupt(self) -> None:
        """Ctrl-C: cancel the search in flight, else (at the prompt) end the chat, saving it."""
        if self._turn is not None and not self._turn.done():
            self._turn.cancel()
        elif self._reading is not None and not self._reading.done():
            self.interrupted = True
            self._reading.cancel()

    async def attempt(self, step: Coroutine[Any, Any, object]) -> None:
        """Run one turn; a refusal or a passing endpoint failure is a hint, a wrong setup ends the chat,
        Ctrl-C cancels it and keeps the person's message."""
        self._turn = asyncio.ensure_future(step)
        try:
            await self._turn
        except asyncio.CancelledError:
            if not self._turn.cancelled():  # the chat itself is being cancelled, not this turn
                raise
            self.say("Search cancelled (Ctrl-C)." + (self._kept_hint() or ""))
            return
        except DialogueOver as over:
            self.say(f"{over} Type /restart for a new dialogue.")
            return
        except MessageRejected as rejected:
            self.say(str(rejected))
            return
        except EndpointSetupError:
            self.end_bar()
            raise
        except LLMError as error:
            self.say(f"error: {error}" + (f"\n{self._kept_hint()}" if self._kept_hint() else ""))
            return
        finally:
            self._turn = None
        log = self.session.log
        answered = log[-2] if len(log) > 1 and log[-1].speaker == "system" else log[-1] if log else None
        if answered is not None and answered.speaker == "user":
            self.say(f"  (your message was labelled [{answered.act}])")
        if log and log[-1].speaker == "system":
            self.show_bot()
        if self.session.ending is not None:
            self.say(f"{self.session.ending} Type /restart for a new dialogue, /save FILE or /quit.")

    def _kept_hint(self) -> str:
        """What /retry would do now: complete the person's message, or the persuader's opening."""
        log = self.session.log
        if self.session.pending is not None or (log and log[-1].speaker == "user"):
            return " Your message is kept: type /retry to plan the reply again, or /undo to take it back."
        if not log:
            return " The persuader has not opened the conversation: type /retry to try again."
        return ""

    async def run(self, lines: TextIO) -> None:
        """The chat until /quit, the end of input or Ctrl-C at the prompt; the dialogue is saved to `save_path`
        (Ctrl-C and a wrong setup: to a timestamped file when there is none), then a wrong setup is raised."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self.interrupt)
            handled = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            handled = False
        try:
            await self._converse(InputLines(lines))
        except EndpointSetupError:
            if self._has_content():
                self.save(self.save_path or timestamped_path())
            raise
        finally:
            if handled:
                loop.remove_signal_handler(signal.SIGINT)
        if self.save_path is not None or (self.interrupted and self._has_content()):
            self.save(self.save_path or timestamped_path())

    def _has_content(self) -> bool:
        return bool(self.session.log) or self.session.pending is not None

    async def _read(self, lines: InputLines) -> str | None:
        """The next line, or None when Ctrl-C ended the prompt."""
        self._reading = asyncio.ensure_future(lines.readline())
        try:
            return await self._reading
        except asyncio.CancelledError:
            if self.interrupted:
                return None
            raise
        finally:
            self._reading = None

    async def _converse(self, lines: InputLines) -> None:
        self.say(CHAT_HELP)
        await self.attempt(self.session.open(self.progress))
        while True:
            self.out.write(PROMPT)
            self.out.flush()
            raw = await self._read(lines)
            if not raw:  # the end of input, or Ctrl-C
                self.out.write("\n")
                return
            if not lines.isatty():  # piped input is not echoed: show it, so the log reads as a dialogue
                self.out.write(raw if raw.endswith("\n") else raw + "\n")
            text = raw.strip()
            if text in ("/quit", "/exit"):
                return
            if text == "/undo":
                self.say("Undone." if self.session.undo() else "Nothing to undo.")
            elif text == "/restart":
                self.session.restart()
                await self.attempt(self.session.open(self.progress))
            elif text == "/retry":
                await self.attempt(self.session.retry(self.progress))
            elif text == "/save" or text.startswith("/save "):
                self.save(Path(text[5:].strip() or "transcript.json"))
            elif text.startswith("/") and " " not in text:
                self.say(f"Unknown command {text}. {CHAT_HELP}")
            else:
                await self.attempt(self.session.send(text, self.progress))
            self.out.flush()

    def save(self, path: Path) -> bool:
        """Write the transcript; a path that cannot be written is a hint, and the chat goes on."""
        try:
            save_record(path, self.session.record())
        except OSError as error:
            self.say(f"Could not save to {path}: {save_problem(path, error)}. Nothing is lost: "
                     "try /save with another path.")
            return False
        self.say(f"Transcript saved to {path}")
        return True


def timestamped_path() -> Path:
    return Path(time.strftime("gdp-zero-transcript-%Y%m%d-%H%M%S.json"))


def save_problem(path: Path, error: OSError) -> str:
    """Why `path` cannot be written, in words: a missing folder, no permission, a folder of that name."""
    folder = path.parent
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if path.is_dir():
        return "it is a folder"
    return error.strerror or str(error)


def check_save_path(path: Path | None) -> str | None:
    """Why `--save PATH` could not be written at the end, checked before the chat starts; None if it can."""
    if path is None:
        return None
    folder = path.parent
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if path.is_dir():
        return f"{path} is a folder"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable"
    return None


async def run_chat(args: argparse.Namespace, backend: Backend, search: GDPZeroConfig) -> bool:
    """The chat on stdin and stdout; True if Ctrl-C at the prompt ended it."""
    session = build_session(backend.settings, ChatOptions(planner=args.planner, search=search))
    try:
        chat = TerminalChat(session, sys.stdout, sys.stderr, args.save)
        await chat.run(sys.stdin)
        return chat.interrupted
    finally:
        await session.aclose()


def run(args: argparse.Namespace) -> int:
    checked_flags(args, args.parser)
    problem = check_save_path(args.save)  # found now, not after the dialogue it was to keep
    if problem is not None:
        args.parser.error(f"argument --save: cannot write {args.save}: {problem}")
    backend = backend_from_args(args)
    try:
        search = search_config(args, args.parser, suggested_search(backend.mode))
        if backend.banner:
            print(backend.banner)
        check_backend(backend)  # a wrong key, model or address: one line now, not mid-chat
        print(f"You are the persuadee. Planner: {args.planner}.")
        interrupted = asyncio.run(run_chat(args, backend, search))
    finally:
        backend.stop()
    return 130 if interrupted else 0  # 128 + SIGINT, as a shell reports a Ctrl-C
