"""A server's log stays readable and bounded whatever clients send: long messages are cut, and a
storm of one identical message is summarised.

Two probes filled a disk through the log: with the open-file limit lowered, 395,000 identical
"Too many open files" tracebacks (160 MB); and a 2 MB value sent in an event was written whole
each time it appeared in a message. `LogGuard`, a filter on every handler the process logs
through, cuts a message (and each line of a traceback) to MAX_MESSAGE_CHARS saying how much was
cut, and lets REPEATS_SHOWN copies of one message (same logger, level, text and exception type)
through per REPEAT_WINDOW_S; the first copy after a window in which some were held back says how
many. A filter sits on handlers, not loggers, because a logger's filters never see the records
its children pass up (asyncio's, uvicorn's, Gradio's). Gradio prints a failed event's traceback,
whose last lines hold the values sent, straight to stderr: `guard_stderr` cuts each line written there.

    guard_logs()     # after uvicorn has configured logging: its Config replaces its own handlers
    guard_stderr()   # in a server process (a test's stderr is pytest's)
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

MAX_MESSAGE_CHARS = 2000  # a message, or one line of a traceback: longer is a client's data, not ours
MAX_TRACEBACK_LINES = 200  # the frames nearest the error are kept (Python's own limit is 1000 frames)
REPEATS_SHOWN = 5  # copies of one message shown in each window
REPEAT_WINDOW_S = 60.0
MAX_KINDS = 1000  # messages tracked for repeats; the oldest windows are forgotten beyond it
_TEXT = "_gdp_zero_text"  # the record's message once cut: a second handler neither cuts nor prefixes it twice


def cut(text: str) -> str:
    """`text`, or its first MAX_MESSAGE_CHARS characters and how many more there were."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return f"{text[:MAX_MESSAGE_CHARS]} ... [{len(text) - MAX_MESSAGE_CHARS:,} more characters not logged]"


def cut_lines(text: str) -> str:
    """`text` with each line cut (see `cut`)."""
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return "\n".join(cut(line) for line in text.split("\n"))


@dataclass
class _Window:
    start: float
    shown: int = 1
    held_back: int = 0


class LogGuard(logging.Filter):
    """A handler's filter: cuts long records, shows REPEATS_SHOWN copies of one message per window."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._windows: dict[tuple[str, int, str, str], _Window] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        text = _cut_record(record)
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        kind = (record.name, record.levelno, text, error)
        now = self._clock()
        window = self._windows.get(kind)
        if window is None or now - window.start >= REPEAT_WINDOW_S:
            self._windows.pop(kind, None)
            self._windows[kind] = _Window(now)  # last in the dict: the newest window
            if window is not None and window.held_back:
                _prefix(record, f"[{window.held_back:,} more copies of this message in the {REPEAT_WINDOW_S:g} s "
                                "before were not logged] ")
            while len(self._windows) > MAX_KINDS:
                del self._windows[next(iter(self._windows))]
            return True
        if window.shown < REPEATS_SHOWN:
            window.shown += 1
            if window.shown == REPEATS_SHOWN:
                _prefix(record, f"[{REPEATS_SHOWN} copies of this message in {REPEAT_WINDOW_S:g} s: further ones "
                                "are counted, not logged, until the window ends] ")
            return True
        window.held_back += 1
        return False


def _cut_record(record: logging.LogRecord) -> str:
    """The record's message, cut; the record itself is cut the first time it is seen."""
    text: str | None = getattr(record, _TEXT, None)
    if text is not None:
        return text
    text = cut(record.getMessage())
    setattr(record, _TEXT, text)
    record.msg, record.args = text, None
    if record.exc_info and record.exc_text is None:
        # What Formatter.formatException would write, cut line by line (the handler's formatter uses exc_text as is).
        lines = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n").split("\n")
        if len(lines) > MAX_TRACEBACK_LINES:
            lines = [f"[{len(lines) - MAX_TRACEBACK_LINES:,} traceback lines not logged]", *lines[-MAX_TRACEBACK_LINES:]]
        record.exc_text = cut_lines("\n".join(lines))
    return text


def _prefix(record: logging.LogRecord, text: str) -> None:
    record.msg = text + getattr(record, _TEXT)


def guard_logs() -> int:
    """Put a LogGuard on every handler the process logs through (the root's, every logger's, and
    Python's last resort for a process with none); returns how many it added. Call it again
    after something configures logging anew (each uvicorn.Config does)."""
    handlers = list(logging.root.handlers)
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers.extend(logger.handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    added = 0
    for handler in dict.fromkeys(handlers):
        if not any(isinstance(f, LogGuard) for f in handler.filters):
            handler.addFilter(LogGuard())
            added += 1
    return added


class CutLines:
    """A text stream (stderr) that writes each line cut to MAX_MESSAGE_CHARS; the rest is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(cut_lines(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def guard_stderr() -> None:
    """From now on every line written to sys.stderr is cut (once: a second call changes nothing)."""
    if not isinstance(sys.stderr, CutLines):
        sys.stderr = CutLines(sys.stderr)
