"""gdp_zero/serving/logs.py through Python's real logging: a storm of one error stays a few lines,
a client's 2 MB value stays a couple of KB, and the summary says what was held back."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from gdp_zero.serving.logs import MAX_MESSAGE_CHARS, REPEAT_WINDOW_S, REPEATS_SHOWN, CutLines, LogGuard, guard_logs


@pytest.fixture
def written() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    """A logger writing to a string through its own handler, as uvicorn's loggers write to stderr."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("tests.serving_logs")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, out, handler
    logger.removeHandler(handler)
    # guard_logs() guarded every handler of this process, pytest's own among them: take the guards off.
    for guarded in [*logging.root.handlers, logging.lastResort,
                    *(h for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger) for h in lg.handlers)]:
        for guard in [f for f in getattr(guarded, "filters", []) if isinstance(f, LogGuard)]:
            guarded.removeFilter(guard)


def too_many_files() -> OSError:
    try:
        raise OSError(24, "Too many open files")
    except OSError as error:
        return error


def test_a_storm_of_one_error_writes_a_bounded_number_of_lines(written: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, out, handler = written
    assert guard_logs() >= 1 and guard_logs() == 0  # on every handler, once
    for _ in range(10_000):  # asyncio's words when accept() runs out of file descriptors
        logger.error("socket.accept() out of system resource", exc_info=too_many_files())
    lines = out.getvalue().splitlines()
    assert len(lines) <= 8 * REPEATS_SHOWN, len(lines)  # 10,000 tracebacks unguarded: 40,000 lines
    assert sum("OSError: [Errno 24] Too many open files" in line for line in lines) == REPEATS_SHOWN
    assert f"[{REPEATS_SHOWN} copies of this message in {REPEAT_WINDOW_S:g} s: further ones are counted" in out.getvalue()
    logger.warning("another message")  # other messages are not held back
    assert out.getvalue().endswith("another message\n")


def test_after_the_window_the_first_copy_says_how_many_were_held_back(
        written: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, out, handler = written
    now = [0.0]
    handler.addFilter(LogGuard(clock=lambda: now[0]))
    for _ in range(1000):
        logger.error("the same failure")
    now[0] += REPEAT_WINDOW_S
    logger.error("the same failure")
    lines = out.getvalue().splitlines()
    assert len(lines) == REPEATS_SHOWN + 1
    assert lines[-1] == f"[{1000 - REPEATS_SHOWN:,} more copies of this message in the {REPEAT_WINDOW_S:g} s before were not logged] the same failure"


def test_a_2_mb_value_leaves_a_couple_of_kb(written: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, out, handler = written
    handler.addFilter(LogGuard())
    label = "N" * (2 << 20)
    logger.warning("no node %r in the tree", label)
    try:
        raise ValueError(f"Value: {label} is not in the list of choices")
    except ValueError:
        logger.exception("event failed")
    text = out.getvalue()
    assert len(text) < 3 * MAX_MESSAGE_CHARS + 2000, len(text)
    assert f"[{len(repr(label)) + len('no node  in the tree') - MAX_MESSAGE_CHARS:,} more characters not logged]" in text
    assert "ValueError: Value: NNN" in text and "in test_a_2_mb_value_leaves_a_couple_of_kb" in text  # the traceback is kept

    stream = io.StringIO()
    CutLines(stream).write(f"gradio.exceptions.Error: {label}\nnext line\n")  # Gradio prints tracebacks to stderr
    assert len(stream.getvalue()) < MAX_MESSAGE_CHARS + 100 and stream.getvalue().endswith("\nnext line\n")
