"""Immutable dialogue records: who spoke, with which act, saying what.

The search copies dialogues on every simulated transition, so they are tuples of frozen
turns: appending returns a new dialogue and never disturbs a realization stored in the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Literal, Protocol

Speaker = Literal["system", "user"]


class SaidTurn(Protocol):
    """Anything that says who spoke, with which act, saying what (a record's turn, a chat's)."""

    @property
    def speaker(self) -> Speaker: ...
    @property
    def act(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Turn:
    speaker: Speaker
    act: str
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"speaker": self.speaker, "act": self.act, "text": self.text}


@dataclass(frozen=True)
class Dialogue:
    turns: tuple[Turn, ...] = ()

    @classmethod
    def of(cls, turns: Iterable[SaidTurn]) -> Dialogue:
        """The dialogue of any turns that say who spoke, with which act, saying what."""
        return cls(tuple(Turn(t.speaker, t.act, t.text) for t in turns))

    def __len__(self) -> int:
        return len(self.turns)

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns)

    def add(self, speaker: Speaker, act: str, text: str) -> Dialogue:
        return Dialogue(self.turns + (Turn(speaker, act, text),))

    @property
    def system_acts(self) -> tuple[str, ...]:
        """The open-loop search key: the persuader's acts so far."""
        return tuple(t.act for t in self.turns if t.speaker == "system")

    @property
    def exchanges(self) -> int:
        """Number of system turns, i.e. dialogue rounds started by the persuader."""
        return sum(1 for t in self.turns if t.speaker == "system")

    def last(self, speaker: Speaker) -> Turn | None:
        for turn in reversed(self.turns):
            if turn.speaker == speaker:
                return turn
        return None
