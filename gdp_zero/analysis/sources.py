"""Where dialogues come from, by path: P4G files, saved transcripts (.json), self-play runs files (.jsonl).

A source spec is a path, or `LABEL=PATH` to name it in the figures. P4G is recognised by its
file names or columns (see gdp_zero.p4g); anything ending in .json or .jsonl is read as dialogue
records (gdp_zero.records), one source per condition when the file holds several.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from gdp_zero.analysis.table import DONATED, NOT_DONATED, dialogue_result
from gdp_zero.domain import Domain
from gdp_zero.p4g import P4GCorpus, load_p4g
from gdp_zero.records import DialogueRecord, RecordError, load_records
from gdp_zero.wording import plural

RECORD_SUFFIXES = (".json", ".jsonl")
P4G_LABEL = "P4G humans"


class SourceError(ValueError):
    """A source that cannot be read; the text names it and says why."""


@dataclass(frozen=True)
class Source:
    label: str
    records: tuple[DialogueRecord, ...]
    origin: str  # the path or what it came from
    notes: tuple[str, ...] = ()
    p4g: P4GCorpus | None = None  # for its label table and unmapped labels


def parse_spec(spec: str) -> tuple[str | None, Path]:
    """`LABEL=PATH` or `PATH`: a path that exists as written wins over a label split."""
    if "=" in spec and not Path(spec).exists():
        label, _, path = spec.partition("=")
        if label.strip():
            return label.strip(), Path(path)
    return None, Path(spec)


def load_sources(spec: str, domain: Domain) -> list[Source]:
    """The sources a spec (`LABEL=PATH` or `PATH`) names."""
    label, path = parse_spec(spec)
    return load_path(path, domain, label)


def load_path(path: Path, domain: Domain, label: str | None = None) -> list[Source]:
    """The sources in `path`: one for P4G, one per condition for a file of dialogue records."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.suffix.lower() in RECORD_SUFFIXES:
        return records_sources(load_records_file(path), label or path.stem, str(path))
    corpus = load_p4g(path, domain)
    if not corpus.records:
        raise SourceError(f"{path}: no dialogues in it (only a header?)")
    unmapped = corpus.unmapped_message()
    notes = corpus.notes + ((unmapped,) if unmapped is not None else ())
    default = P4G_LABEL if corpus.annotated else "P4G (unlabelled)"
    return [Source(label or default, corpus.records, str(path), notes, corpus)]


def records_sources(records: list[DialogueRecord], label: str, origin: str) -> list[Source]:
    """One source, or one per condition (a study's, or a run's name) when the records hold several."""
    conditions = list(dict.fromkeys(r.condition for r in records))
    if len(conditions) == 1:
        return [Source(label, tuple(records), origin)]
    return [
        Source(f"{label}: {condition or 'no condition'}", tuple(r for r in records if r.condition == condition), origin)
        for condition in conditions
    ]


def load_records_file(path: Path) -> list[DialogueRecord]:
    try:
        records = load_records(path)
    except RecordError as error:
        raise SourceError(str(error)) from None
    if not records:
        raise SourceError(f"{path}: no dialogues in it")
    return records


def split_by_outcome(source: Source) -> tuple[list[Source], str | None]:
    """The source's dialogues that ended in a donation and those that did not, as two sources
    (same origin), and a note on the dialogues left out because their outcome is unknown."""
    donated = tuple(r for r in source.records if dialogue_result(r) == DONATED)
    not_donated = tuple(r for r in source.records if dialogue_result(r) == NOT_DONATED)
    unknown = len(source.records) - len(donated) - len(not_donated)
    note = f"{source.label}: {plural(unknown, 'dialogue')} without an outcome left out of donors vs non-donors" if unknown else None
    halves = [replace(source, label=f"{source.label}: {result}", records=records)
              for result, records in ((DONATED, donated), (NOT_DONATED, not_donated)) if records]
    return halves, note


def unique_labels(sources: list[Source]) -> list[Source]:
    """Two sources with one label would merge in the table: number the later ones."""
    seen: dict[str, int] = {}
    named = []
    for source in sources:
        seen[source.label] = seen.get(source.label, 0) + 1
        label = source.label if seen[source.label] == 1 else f"{source.label} ({seen[source.label]})"
        named.append(replace(source, label=label))
    return named


SOURCE_COLUMNS = ["source", "from", "dialogues", "turns", "notes"]


def sources_table(sources: list[Source]) -> pd.DataFrame:
    return pd.DataFrame(
        [(s.label, s.origin, len(s.records), sum(len(r.turns) for r in s.records), " ".join(s.notes)) for s in sources],
        columns=SOURCE_COLUMNS,
    )
