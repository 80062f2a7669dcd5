"""What the pages' dropdowns hold: the number a chosen value stands for, and the labels of the Turn
dropdowns (the chat page's and the admin dashboard's). Pure functions, no Gradio."""

from __future__ import annotations

from typing import Any, Sequence

from gdp_zero.records import TurnRecord


def as_index(value: Any) -> int | None:
    """A dropdown's value as the index or id it holds; None when nothing is chosen (or it is not a number)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def turn_number(turns: Sequence[TurnRecord], index: int | None) -> int:
    """1 for the greeting, 2 for the persuader's next reply, ...; 0 for no turn."""
    if index is None:
        return 0
    return sum(1 for t in turns[: index + 1] if t.speaker == "system")


def turn_label(turns: Sequence[TurnRecord], index: int, planner: str = "") -> str:
    """'turn 2 · emotion-appeal', and the planner that wrote it in brackets when one is named."""
    label = f"turn {turn_number(turns, index)} · {turns[index].act}"
    return f"{label} ({planner})" if planner else label
