"""What a sampled role answered and what the parser read in it, kept for the tree's node details.

The prior P and the value V of a node are averages over sampled LLM answers; a researcher who
doubts a number wants the answers behind it. A `Reading` is one answer with its parse (the act
read, or why none could be); `summarise` lists identical answers once with how often they came,
each cut to `RAW_SHOWN_CHARS`, so a tree of 200 nodes stays small enough to draw and save.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

RAW_SHOWN_CHARS = 300


@dataclass(frozen=True)
class Reading:
    raw: str  # what the model wrote
    act: str | None  # the act the parser read; None: the answer was dropped
    fallback: str | None  # the parser's reason when it guessed or read nothing


def summarise(readings: Iterable[Reading]) -> list[dict[str, Any]]:
    """Each distinct answer once, most frequent first: raw text (cut), act read, why not, times."""
    counts = Counter(readings)
    return [
        {"raw": _cut(r.raw), "act": r.act, "fallback": r.fallback, "times": times}
        for r, times in counts.most_common()
    ]


def _cut(raw: str) -> str:
    extra = len(raw) - RAW_SHOWN_CHARS
    return raw if extra <= 0 else f"{raw[:RAW_SHOWN_CHARS]}… ({extra} more characters)"
