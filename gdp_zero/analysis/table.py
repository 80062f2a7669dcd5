"""Dialogue records -> one long-form table, one row per turn: what every figure and test reads.

A turn has one act (what the planner sees: for P4G, its first non-catch-all sentence act) but
may hold several, and a P4G sentence may carry a second label (another act in the same
sentence): `counted_rows` turns the table into the rows a figure or test counts, in the counting
unit asked for, so every number says what it counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Mapping

import pandas as pd

from gdp_zero.domain import SUCCESS
from gdp_zero.p4g import UNLABELLED
from gdp_zero.records import DialogueRecord

COLUMNS = ("source", "dialogue", "turn", "exchange", "speaker", "act", "acts", "sentence_acts", "before_donation",
           "agreed_at", "text", "outcome", "result")
DONATED, NOT_DONATED, UNFINISHED = "donated", "not donated", "unfinished"
SPEAKER_NAMES = {"system": "persuader", "user": "persuadee"}  # what a reader calls the table's speakers

Unit = Literal["turn", "strategies", "sentence"]
# Each counting unit and what one count is, as figures and reports say it.
UNITS: dict[str, str] = {
    "turn": "turns, each by its one act (the act the planner sees: a P4G turn's first act that is not the catch-all, "
            "by its sentences' first labels)",
    "strategies": "every act present in a turn (a turn with two strategies counts once for each; "
                  "a P4G sentence's second label counts too)",
    "sentence": "every act present in a sentence, P4G's annotation unit (a sentence with a second label of another act "
                "counts once for each; a turn of any other source counts as one sentence)",
}
UNIT_NOUNS: dict[str, str] = {"turn": "turns", "strategies": "act uses in turns", "sentence": "act uses in sentences"}
Scope = Literal["whole", "before-donation"]
SCOPES: dict[str, str] = {
    "whole": "whole dialogues",
    "before-donation": "each dialogue up to the persuadee's first agreement to donate (included)",
}


@dataclass(frozen=True)
class Counting:
    """What a figure or test counts: the unit, and how much of each dialogue."""

    unit: Unit = "turn"
    scope: Scope = "whole"

    def rows(self, table: pd.DataFrame, speaker: str) -> pd.DataFrame:
        return counted_rows(table, speaker, self.unit, self.scope)

    @property
    def noun(self) -> str:
        return UNIT_NOUNS[self.unit]

    def describe(self) -> str:
        return f"counted in {UNITS[self.unit]}; over {SCOPES[self.scope]}"


DEFAULT_COUNTING = Counting()  # turns, whole dialogues: what the planner sees


def dialogue_result(record: DialogueRecord) -> str:
    """Whether the dialogue ended in a donation: its end reason, or unfinished while it has no outcome."""
    if record.outcome is None:
        return UNFINISHED
    return DONATED if record.end_reason == SUCCESS else NOT_DONATED


def records_table(sources: Mapping[str, Iterable[DialogueRecord]], success_act: str | None = None) -> pd.DataFrame:
    """Each source's records as rows: `turn` counts every turn from 0; `exchange` is the persuader's
    round (its k-th turn and the reply to it share k, from 1), so sources line up by round.

    `acts` are the distinct acts of every label of a turn's sentences (or its one act),
    `sentence_acts` the distinct acts of each sentence's labels, one after the other (a sentence
    labelled with two acts gives both); `before_donation` is true up to the first persuadee turn whose act is
    `success_act` (every turn when it is None or never said), and `agreed_at` is that turn's round
    in every row of its dialogue (missing when there is none)."""
    rows = []
    for source, records in sources.items():
        for record in records:
            result = dialogue_result(record)
            exchange = 0
            agreed_at = None
            dialogue_rows = []
            for index, turn in enumerate(record.turns):
                exchange += turn.speaker == "system"
                label_acts = turn.meta.get("label_acts") or [[turn.act]]
                sentence_acts = tuple(act for acts in label_acts for act in dict.fromkeys(acts))
                dialogue_rows.append([source, record.id, index, exchange, turn.speaker, turn.act, tuple(dict.fromkeys(sentence_acts)),
                                      sentence_acts, agreed_at is None, None, turn.text, record.outcome, result])
                if agreed_at is None and turn.speaker == "user" and success_act is not None and turn.act == success_act:
                    agreed_at = exchange
            rows += [row[:9] + [agreed_at] + row[10:] for row in dialogue_rows]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["agreed_at"] = table["agreed_at"].astype("Int64")
    table["source"] = pd.Categorical(table["source"], categories=list(sources))  # the order they were given in
    return table


def counted_rows(table: pd.DataFrame, speaker: str, unit: Unit = "turn", scope: Scope = "whole") -> pd.DataFrame:
    """One row per count of `unit` for one speaker, its `act` column the act counted; unlabelled acts
    (full_dialog.csv) are left out. Other columns are the turn's."""
    rows = table[table["speaker"] == speaker]
    if scope == "before-donation":
        rows = rows[rows["before_donation"]]
    if unit == "strategies":
        rows = rows.drop(columns="act").explode("acts").rename(columns={"acts": "act"})
    elif unit == "sentence":
        rows = rows.drop(columns="act").explode("sentence_acts").rename(columns={"sentence_acts": "act"})
    elif unit != "turn":
        raise ValueError(f"unknown counting unit {unit!r}: expected one of {', '.join(UNITS)}")
    return rows[rows["act"].notna() & (rows["act"] != UNLABELLED)]
