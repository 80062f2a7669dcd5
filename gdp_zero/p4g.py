"""Readers for the PersuasionForGood corpus (Wang et al., ACL 2019), from files the user points at.

The published files hold one row per sentence. A turn here is a run of consecutive sentences by
the same participant (the persuader is "system", the persuadee "user"), so turns alternate as in
every other `DialogueRecord`. A sentence has one or two labels (er_label_1/2, ee_label_1/2: the
corpus README says "most salient first"; 22 persuader and 15 persuadee sentences of 300_dialog
have a second, e.g. "Are you willing to give even $0.10 ...?" is proposition-of-donation and
foot-in-the-door). Each label is mapped to one of the domain's acts through the domain's
`corpus_labels`; a label missing from that table is never turned into "other": the sentence keeps
it as "unmapped: LABEL" and the corpus lists it with its count. A sentence's act is its first
label's. A turn's act is the first of its sentences' acts that is not the speaker's catch-all act
(the domain's fallback system act, "other", or its neutral user act), else the catch-all: a
persuader turn "Thanks! Save the Children helps ..." is credibility appeal, not other. Every
sentence's labels and the act of each stay in the turn's `meta` (`labels`, `label_acts`), so the
counts of every act present (gdp_zero.analysis.table) include the second labels.

Outcomes come from the participants file (300_info.csv, full_info.csv) next to the dialogues or
given by path: a dialogue succeeded when its persuadee's actual donation (B6) is above zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from gdp_zero.dialogue import Speaker
from gdp_zero.domain import SUCCESS, Domain
from gdp_zero.records import DialogueRecord, TurnRecord
from gdp_zero.wording import plural

SOURCE = "p4g"
ANNOTATED_DIALOGS = ("300_dialog.csv", "300_dialog.xlsx")
FULL_DIALOGS = ("full_dialog.csv",)
INFO_FOR = {"annotated": "300_info.csv", "full": "full_info.csv"}
ROLES: dict[int, Speaker] = {0: "system", 1: "user"}  # B4: 0 persuader, 1 persuadee
DIALOG_COLUMNS = ("B2", "B4", "Turn", "Unit")
LABEL_COLUMNS: dict[Speaker, tuple[str, ...]] = {"system": ("er_label_1", "er_label_2"), "user": ("ee_label_1", "ee_label_2")}
REQUIRED_LABEL_COLUMNS = tuple(columns[0] for columns in LABEL_COLUMNS.values())
LABEL_POSITIONS = ("first", "second")  # of a sentence's labels, as in LABEL_COLUMNS
INFO_COLUMNS = ("B2", "B3", "B4", "B6")
UNMAPPED_PREFIX = "unmapped: "
UNLABELLED = "(unlabelled)"  # full_dialog.csv has no act labels
NO_DONATION = "no_donation"

# A sentence's speaker and row -> its labels by position (first, second; "" for a missing first label
# before a second, none after the last) and the act of each ([UNLABELLED] for a sentence without labels).
SentenceReader = Callable[[Speaker, dict[str, Any]], tuple[list[str], list[str]]]


class P4GError(ValueError):
    """A P4G file that cannot be read as such; the text names the file and what is wrong."""


@dataclass(frozen=True)
class UnmappedLabel:
    """A corpus label that the domain's `corpus_labels` do not map, and how many sentences carry it."""

    speaker: Speaker
    column: str
    label: str
    count: int


@dataclass(frozen=True)
class P4GCorpus:
    records: tuple[DialogueRecord, ...]
    unmapped: tuple[UnmappedLabel, ...]  # most frequent first
    files: tuple[str, ...]  # what was read
    notes: tuple[str, ...] = ()  # what a reader should know, e.g. outcomes that could not be joined
    annotated: bool = True

    def sentence_acts(self, speaker: Speaker) -> Counter[str]:
        """Sentences per act of their first label: the counts the annotation gives, before turns are formed."""
        return Counter(
            act for record in self.records for turn in record.turns if turn.speaker == speaker
            for acts in turn.meta.get("label_acts", ()) for act in acts[:1]
        )

    def label_table(self) -> pd.DataFrame:
        """Every label seen (first or second of its sentence), the act it was read as, and its number of
        sentences: the mapping as used."""
        counts: Counter[tuple[str, str, str, str]] = Counter()
        for record in self.records:
            for turn in record.turns:
                for labels, acts in zip(turn.meta.get("labels", ()), turn.meta.get("label_acts", ())):
                    for position, label, act in zip(LABEL_POSITIONS, labels or [""], acts):  # [""]: no label at all
                        counts[(turn.speaker, position, label, act)] += 1
        rows = [(speaker, position, label, act, n) for (speaker, position, label, act), n in counts.items()]
        table = pd.DataFrame(rows, columns=["speaker", "position", "label", "act", "sentences"])
        return table.sort_values(["speaker", "position", "sentences"], ascending=[True, True, False], ignore_index=True)

    def unmapped_message(self) -> str | None:
        if not self.unmapped:
            return None
        listed = "; ".join(f"{u.label!r} ({u.speaker}, {u.column}: {plural(u.count, 'sentence')})" for u in self.unmapped)
        return (f"{plural(len(self.unmapped), 'label')} not in the domain's corpus_labels, "
                f"kept as '{UNMAPPED_PREFIX}LABEL' (not counted as any act): {listed}")

    def summary(self) -> str:
        turns = sum(len(r.turns) for r in self.records)
        known = [r for r in self.records if r.outcome is not None]
        donated = sum(1 for r in known if r.end_reason == SUCCESS)
        parts = [f"{len(self.records)} dialogues, {turns} turns from {', '.join(Path(f).name for f in self.files)}"]
        if known:
            parts.append(f"{donated} of {len(known)} persuadees donated")
        return "; ".join(parts)


def load_p4g(path: str | Path, domain: Domain) -> P4GCorpus:
    """A P4G folder (its annotated dialogues; else those of its first subfolder that has some, in name
    order: a data folder holding a p4g/ folder works), or one dialogue file of either kind, with its outcomes."""
    path = Path(path)
    if path.is_dir():
        found = dialogue_file(path) or next(filter(None, map(dialogue_file, sorted(p for p in path.iterdir() if p.is_dir()))), None)
        if found is None:
            raise P4GError(f"{path}: no P4G dialogue file in this folder or its subfolders "
                           f"(looked for {', '.join(ANNOTATED_DIALOGS + FULL_DIALOGS)})")
        return load_p4g_annotated(found, domain) if found.name in ANNOTATED_DIALOGS else load_p4g_full(found, domain)
    frame = read_table(path)
    columns = set(frame.columns)
    if set(REQUIRED_LABEL_COLUMNS) & columns:
        return _annotated(frame, path, domain, None)
    if "Unit" in columns:
        return _full(frame, path, domain, None)
    if set(INFO_COLUMNS) <= columns:
        raise P4GError(f"{path}: this is a participants file (one row per person), not dialogues: give the dialogue "
                       f"file ({ANNOTATED_DIALOGS[0]} or {FULL_DIALOGS[0]}); its participants file is read next to it")
    raise P4GError(f"{path}: not a P4G file: expected the columns of {ANNOTATED_DIALOGS[0]} "
                   f"({', '.join(DIALOG_COLUMNS + REQUIRED_LABEL_COLUMNS)}) or of {FULL_DIALOGS[0]} ({', '.join(DIALOG_COLUMNS)}); "
                   f"got {', '.join(map(str, frame.columns))}")


def dialogue_file(folder: Path) -> Path | None:
    """The folder's P4G dialogue file: the annotated dialogues if there, else all dialogues."""
    return next((folder / name for name in ANNOTATED_DIALOGS + FULL_DIALOGS if (folder / name).is_file()), None)


def load_p4g_annotated(path: str | Path, domain: Domain, info: str | Path | None = None) -> P4GCorpus:
    """The annotated dialogues (300_dialog.xlsx or .csv); outcomes from `info`, else 300_info.csv beside it."""
    return _annotated(read_table(path), Path(path), domain, info)


def load_p4g_full(path: str | Path, domain: Domain, info: str | Path | None = None) -> P4GCorpus:
    """All dialogues, unannotated (full_dialog.csv): every act is '(unlabelled)'; outcomes from full_info.csv."""
    return _full(read_table(path), Path(path), domain, info)


def read_table(path: str | Path, *, as_text: bool = False) -> pd.DataFrame:
    """A CSV or Excel sheet, without the unnamed index column some exports carry; `as_text`: every
    cell as the file's text, a blank one as "" (no numbers or NaN guessed)."""
    path = Path(path)
    if not path.is_file():
        raise P4GError(f"{path}: no such file")
    text: dict[str, Any] = {"dtype": str, "keep_default_na": False} if as_text else {}
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, **text)
        elif path.suffix.lower() in (".xlsx", ".xls"):
            frame = pd.read_excel(path, **text)
        else:
            raise P4GError(f"{path}: unknown file type {path.suffix or '(none)'}: expected .csv or .xlsx")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        if isinstance(error, P4GError):
            raise
        raise P4GError(f"{path}: cannot be read as a table ({error})") from None
    return frame.drop(columns=[c for c in frame.columns if str(c).startswith("Unnamed:")])


def _require(frame: pd.DataFrame, columns: Iterable[str], path: Path, kind: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise P4GError(f"{path}: missing {noun} {', '.join(missing)} of {kind} "
                       f"(has: {', '.join(map(str, frame.columns))})")


def _annotated(frame: pd.DataFrame, path: Path, domain: Domain, info: str | Path | None) -> P4GCorpus:
    _require(frame, DIALOG_COLUMNS + REQUIRED_LABEL_COLUMNS, path, "the annotated dialogues (300_dialog)")
    maps = {speaker: domain.corpus_label_map(speaker) for speaker in ROLES.values()}
    unmapped: Counter[tuple[Speaker, str, str]] = Counter()

    def sentence(speaker: Speaker, row: dict[str, Any]) -> tuple[list[str], list[str]]:
        labels = [_text(row.get(column)) for column in LABEL_COLUMNS[speaker]]
        while labels and not labels[-1]:
            labels.pop()
        for column, label in zip(LABEL_COLUMNS[speaker], labels):
            if label and label not in maps[speaker]:
                unmapped[(speaker, column, label)] += 1
        acts = [maps[speaker].get(label, UNMAPPED_PREFIX + label) if label else UNLABELLED for label in labels]
        return labels, acts or [UNLABELLED]

    corpus = _read_dialogues(frame, path, domain, info, "annotated", sentence)
    listed = sorted(unmapped.items(), key=lambda item: (-item[1], item[0]))
    return P4GCorpus(
        records=corpus.records, files=corpus.files, notes=corpus.notes,
        unmapped=tuple(UnmappedLabel(speaker, column, label, n) for (speaker, column, label), n in listed),
    )


def _full(frame: pd.DataFrame, path: Path, domain: Domain, info: str | Path | None) -> P4GCorpus:
    _require(frame, DIALOG_COLUMNS, path, "the dialogues (full_dialog)")
    corpus = _read_dialogues(frame, path, domain, info, "full", lambda speaker, row: ([], [UNLABELLED]))
    return P4GCorpus(records=corpus.records, unmapped=(), files=corpus.files, notes=corpus.notes, annotated=False)


def _read_dialogues(
    frame: pd.DataFrame, path: Path, domain: Domain, info: str | Path | None, kind: str, sentence: SentenceReader
) -> P4GCorpus:
    roles = pd.to_numeric(frame["B4"], errors="coerce")
    bad = frame.index[~roles.isin(list(ROLES))]
    if len(bad):
        first = bad[0]
        raise P4GError(f"{path}: row {first + 2}: column B4 must be 0 (persuader) or 1 (persuadee), got {_text(frame['B4'][first]) or 'nothing'}")
    unnamed = frame.index[frame["B2"].map(_text) == ""]
    if len(unnamed):
        raise P4GError(f"{path}: row {unnamed[0] + 2}: column B2 (the dialogue id) is empty")
    notes: list[str] = []
    outcomes, info_path = _outcomes(path, info, kind, notes)
    records: list[DialogueRecord] = []
    catch_all: dict[Speaker, str] = {"system": domain.fallback_system_act, "user": domain.neutral_user_act}
    rows = frame.assign(B4=roles.astype(int)).to_dict("records")
    by_dialogue: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_dialogue.setdefault(_text(row["B2"]), []).append(row)
    success, refusal = domain.user_act_values[domain.success_act], min(domain.user_act_values.values())
    for dialogue_id, dialogue_rows in by_dialogue.items():
        turns = []
        for role, rows_of_turn in groupby(dialogue_rows, key=lambda row: row["B4"]):
            speaker = ROLES[role]
            turns.append(_turn(speaker, [(row, *sentence(speaker, row)) for row in rows_of_turn], catch_all[speaker]))
        outcome = outcomes.get(dialogue_id)
        records.append(DialogueRecord(
            id=dialogue_id, source=SOURCE, domain=domain.name, turns=tuple(turns),
            # A persuadee who gave nothing ends where the domain's lowest-valued act (no donation) would.
            outcome=None if outcome is None else (success if outcome["donated"] else refusal),
            end_reason=None if outcome is None else (SUCCESS if outcome["donated"] else NO_DONATION),
            meta={k: v for k, v in (outcome or {}).items() if k != "donated"},
        ))
    if outcomes and info_path is not None:
        missing = sum(1 for r in records if r.outcome is None)
        if missing:
            notes.append(f"{plural(missing, 'dialogue')} {'has' if missing == 1 else 'have'} no persuadee row in {info_path.name}: "
                         "outcome unknown")
    files = (str(path),) + ((str(info_path),) if info_path is not None else ())
    return P4GCorpus(records=tuple(records), unmapped=(), files=files, notes=tuple(notes), annotated=kind == "annotated")


def _turn(speaker: Speaker, run: list[tuple[dict[str, Any], list[str], list[str]]], catch_all: str) -> TurnRecord:
    acts = [label_acts[0] for _, _, label_acts in run]  # each sentence's act: its first label's
    strategic = [a for a in acts if a not in (catch_all, UNLABELLED)]
    act = strategic[0] if strategic else (catch_all if catch_all in acts else UNLABELLED)
    sentences = [_text(row["Unit"]) for row, _, _ in run]
    return TurnRecord(
        speaker=speaker,
        act=act,
        text=" ".join(s for s in sentences if s),
        meta={
            "p4g_turn": _turn_index(run[0][0]["Turn"]),
            "sentences": sentences,
            "labels": [labels for _, labels, _ in run],
            "label_acts": [label_acts for _, _, label_acts in run],  # a sentence's act is the first of its list
        },
    )


def _outcomes(path: Path, info: str | Path | None, kind: str, notes: list[str]) -> tuple[dict[str, dict[str, Any]], Path | None]:
    if info is None:
        info_path = path.with_name(INFO_FOR[kind])
        if not info_path.is_file():
            notes.append(f"no {INFO_FOR[kind]} next to {path.name}: outcomes (donations) unknown")
            return {}, None
    else:
        info_path = Path(info)
    frame = read_table(info_path)
    _require(frame, INFO_COLUMNS, info_path, f"the participants file ({INFO_FOR[kind]})")
    outcomes: dict[str, dict[str, Any]] = {}
    for row in frame.to_dict("records"):
        dialogue = outcomes.setdefault(_text(row["B2"]), {})
        role = pd.to_numeric(row["B4"], errors="coerce")
        if role == 0:
            dialogue["persuader_id"] = _text(row["B3"])
            dialogue["persuader_donation"] = _number(row["B6"])
        elif role == 1:
            dialogue["persuadee_id"] = _text(row["B3"])
            dialogue["actual_donation"] = _number(row["B6"])
            dialogue["intended_donation"] = _number(row.get("B5"))
    joined = {}
    for dialogue_id, values in outcomes.items():
        if values.get("actual_donation") is not None:
            joined[dialogue_id] = {**values, "donated": values["actual_donation"] > 0}
    return joined, info_path


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value).strip()


def _turn_index(value: Any) -> int | float | str:
    number = _number(value)
    if number is None:
        return _text(value)
    return int(number) if number.is_integer() else number


def _number(value: Any) -> float | None:
    number = pd.to_numeric(value, errors="coerce")
    return None if pd.isna(number) else float(number)
