"""Dialogue records -> one long-form table, one row per turn: what every figure and test reads."""

from __future__ import annotations

from typing import Iterable, Mapping

import pandas as pd

from gdp_zero.domain import SUCCESS
from gdp_zero.records import DialogueRecord

COLUMNS = ("source", "dialogue", "turn", "exchange", "speaker", "act", "text", "outcome", "result")
DONATED, NOT_DONATED, UNFINISHED = "donated", "not donated", "unfinished"
SPEAKER_NAMES = {"system": "persuader", "user": "persuadee"}  # what a reader calls the table's speakers


def dialogue_result(record: DialogueRecord) -> str:
    """Whether the dialogue ended in a donation: its end reason, or unfinished while it has no outcome."""
    if record.outcome is None:
        return UNFINISHED
    return DONATED if record.end_reason == SUCCESS else NOT_DONATED


def records_table(sources: Mapping[str, Iterable[DialogueRecord]]) -> pd.DataFrame:
    """Each source's records as rows: `turn` counts every turn from 0; `exchange` is the persuader's
    round (its k-th turn and the reply to it share k, from 1), so sources line up by round."""
    rows = []
    for source, records in sources.items():
        for record in records:
            result = dialogue_result(record)
            exchange = 0
            for index, turn in enumerate(record.turns):
                exchange += turn.speaker == "system"
                rows.append((source, record.id, index, exchange, turn.speaker, turn.act, turn.text, record.outcome, result))
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["source"] = pd.Categorical(table["source"], categories=list(sources))  # the order they were given in
    return table
