"""A pairwise study (ACUTE-Eval's design): people read two finished dialogues and say which persuader did better.

The dialogues come from self-play runs files or saved transcripts; a dialogue's persuader is its
condition (a run's name) or else its planner's name. Each participant gets `pairs` pairs balanced
across planner pairs (every pair of planners as often as the others, each side as often "A" as
"B"), and one attention check: a dialogue beside a copy of itself whose persuader turns are
scrambled word salad, so the intact side is the known answer to every question. A participant who
picks the broken side fails the check; the study file says whether such a participant's judgments
are left out of the results (`on_fail = "exclude"`, the default) or kept and flagged ("keep").

Judgments become the arena's vote table (model_a, model_b, winner), one per question, so the same
Bradley–Terry leaderboard (gdp_zero.arena.leaderboard) ranks the planners.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal, get_args

import pandas as pd
from pydantic import Field

from gdp_zero.arena.leaderboard import BOOTSTRAP_ROUNDS, VOTE_COLUMNS, Leaderboard, leaderboard
from gdp_zero.records import DialogueRecord, RecordError, load_records
from gdp_zero.study import crud
from gdp_zero.study.db import Database
from gdp_zero.study.export import pseudonym
from gdp_zero.validation import ConfigError, StrictModel, read_toml, validate

Question = Literal["persuasive", "natural", "coherent"]
# ACUTE-Eval's questions, worded for a persuader (Li et al. 2019, table 1, adapted).
QUESTIONS: dict[str, str] = {
    "persuasive": "Which persuader was more persuasive?",
    "natural": "Which persuader sounds more natural, more like a person?",
    "coherent": "Which persuader made more sense, staying consistent with what was said?",
}
PAIRWISE_WINNERS = ("a", "b")  # a forced choice, as ACUTE-Eval's


class PairwiseStudy(StrictModel):
    """A pairwise study file: which dialogues, how many pairs per participant, which questions."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")]
    title: str
    dialogues: Annotated[list[str], Field(min_length=1)]  # runs files (.jsonl) or transcripts (.json), relative to the file
    pairs: Annotated[int, Field(ge=1, le=50)] = 6  # per participant, besides the attention check
    questions: Annotated[list[Question], Field(min_length=1)] = list(get_args(Question))
    on_fail: Literal["exclude", "keep"] = "exclude"  # a failed attention check: its judgments left out, or kept
    completion_code: str | None = None  # shown after the last pair (e.g. Prolific's)
    participant_param: str = "PROLIFIC_PID"  # the link's parameter naming the participant (stored only hashed)


@dataclass(frozen=True)
class Candidate:
    """A finished dialogue and the persuader who ran it."""

    persuader: str
    record: DialogueRecord


@dataclass(frozen=True)
class Pair:
    """Two dialogues shown as "A" and "B"; `known` is the right answer of an attention check (else None)."""

    a: Candidate
    b: Candidate
    known: str | None = None

    @property
    def attention_check(self) -> bool:
        return self.known is not None


@dataclass(frozen=True)
class LoadedStudy:
    study: PairwiseStudy
    candidates: list[Candidate]

    @property
    def persuaders(self) -> list[str]:
        return sorted({c.persuader for c in self.candidates})


def persuader_of(record: DialogueRecord) -> str | None:
    if record.condition:
        return record.condition
    return str(record.planner.get("name")) if record.planner and record.planner.get("name") else None


def load_pairwise_study(path: Path | str) -> LoadedStudy:
    """Read a pairwise study file and its dialogues; ConfigError (one line) for anything unusable."""
    path = Path(path)
    study = validate(PairwiseStudy, read_toml(path), path)
    candidates = []
    for name in study.dialogues:
        source = (path.parent / name) if not Path(name).is_absolute() else Path(name)
        try:
            records = load_records(source)
        except RecordError as error:
            raise ConfigError(f"{path}: dialogues: {error}") from None
        for record in records:
            persuader = persuader_of(record)
            if record.outcome is None and record.end_reason is None:
                continue  # unfinished: a pairwise study shows finished dialogues only
            if persuader is None:
                raise ConfigError(f"{path}: dialogues: {source}: dialogue {record.id!r} names no condition or planner")
            candidates.append(Candidate(persuader, record))
    loaded = LoadedStudy(study, candidates)
    if len(loaded.persuaders) < 2:
        found = ", ".join(loaded.persuaders) or "none"
        raise ConfigError(f"{path}: dialogues: finished dialogues of at least two persuaders are needed (found: {found})")
    return loaded


def balanced_pairs(candidates: Sequence[Candidate], count: int, rng: random.Random) -> list[Pair]:
    """`count` pairs of dialogues by different persuaders: the planner pairs in turn (shuffled, so each comes
    up as often as the others, within one), each side "A" half the time, each persuader's dialogues in turn."""
    by_persuader: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_persuader.setdefault(candidate.persuader, []).append(candidate)
    queues: dict[str, list[Candidate]] = {name: [] for name in by_persuader}

    def next_dialogue(name: str) -> Candidate:
        if not queues[name]:
            queues[name] = rng.sample(by_persuader[name], len(by_persuader[name]))
        return queues[name].pop()

    planner_pairs = list(itertools.combinations(sorted(by_persuader), 2))
    order: list[tuple[str, str]] = []
    while len(order) < count:
        order.extend(rng.sample(planner_pairs, len(planner_pairs)))
    pairs = []
    for index, (first, second) in enumerate(order[:count]):
        if (index // len(planner_pairs)) % 2 == 1:
            first, second = second, first  # every other pass swaps sides: A and B balanced per planner pair
        pairs.append(Pair(next_dialogue(first), next_dialogue(second)))
    return pairs


def broken_copy(record: DialogueRecord, rng: random.Random) -> DialogueRecord:
    """The dialogue with every persuader turn's words shuffled: the same length, plainly broken."""
    turns = []
    for turn in record.turns:
        if turn.speaker == "system":
            words = turn.text.split()
            rng.shuffle(words)
            turn = replace(turn, text=" ".join(words), planned=None)
        turns.append(turn)
    return replace(record, id=f"{record.id}-broken", turns=tuple(turns))


def attention_pair(candidates: Sequence[Candidate], rng: random.Random) -> Pair:
    """A dialogue against its broken copy, the intact one on a random side (the known answer)."""
    intact = rng.choice(list(candidates))
    broken = Candidate(intact.persuader, broken_copy(intact.record, rng))
    return Pair(intact, broken, known="a") if rng.random() < 0.5 else Pair(broken, intact, known="b")


def participant_pairs(loaded: LoadedStudy, voter: str) -> list[Pair]:
    """The pairs one participant judges, in order, the attention check among them at a random place;
    the same for the same participant (seeded by the study and the pseudonym), so a reload shows the same."""
    seed = int(hashlib.sha256(f"{loaded.study.id}:{voter}".encode()).hexdigest()[:16], 16)
    rng = random.Random(seed)
    pairs = balanced_pairs(loaded.candidates, loaded.study.pairs, rng)
    pairs.insert(rng.randrange(len(pairs) + 1), attention_pair(loaded.candidates, rng))
    return pairs


@dataclass(frozen=True)
class Judgment:
    """One answer: in pair `position` of a participant's list, on `question`, the persuader picked."""

    position: int
    question: str
    winner: str

    def __post_init__(self) -> None:
        if self.question not in QUESTIONS:
            raise ValueError(f"question {self.question!r} is not one of {', '.join(QUESTIONS)}")
        if self.winner not in PAIRWISE_WINNERS:
            raise ValueError(f"winner {self.winner!r} is not one of {', '.join(PAIRWISE_WINNERS)}")


def passed_attention(pair: Pair, answers: Sequence[Judgment]) -> bool:
    """The attention check is passed when every answer on it picks the intact dialogue."""
    return all(answer.winner == pair.known for answer in answers)


JUDGMENT_COLUMNS = ("voter", "question", "model_a", "model_b", "winner", "attention_check", "passed")


def vote_table(judgments: pd.DataFrame, question: str, on_fail: str = "exclude") -> pd.DataFrame:
    """The leaderboard's vote table (model_a, model_b, winner) for one question from stored judgments
    (columns JUDGMENT_COLUMNS): attention checks never count; a failed participant's judgments are left
    out when `on_fail` is "exclude"."""
    rows = judgments[(judgments["question"] == question) & ~judgments["attention_check"].astype(bool)]
    if on_fail == "exclude":
        rows = rows[rows["passed"].astype(bool)]
    return rows.loc[:, list(VOTE_COLUMNS)].reset_index(drop=True)


def voter_of(database: Database, recruitment_id: str) -> str:
    """The pseudonym a participant's judgments are stored under: their recruitment id, salted and hashed."""
    return pseudonym(recruitment_id, database.meta("export_salt") or "")


class AnswerRefused(ValueError):
    """Answers that cannot be stored; the text says why (shown to the participant)."""


def save_answers(database: Database, study: PairwiseStudy, voter: str, position: int, pair: Pair,
                 answers: Mapping[str, str | None]) -> list[Judgment]:
    """Store one pair's answers (a winner per question of the study), all or none; AnswerRefused when a
    question is unanswered or the pair was answered before (a reload, a second tab)."""
    missing = [q for q in study.questions if answers.get(q) not in PAIRWISE_WINNERS]
    if missing:
        raise AnswerRefused(f"Please answer every question (missing: {', '.join(QUESTIONS[q] for q in missing)})")
    judgments = [Judgment(position, question, str(answers[question])) for question in study.questions]
    rows = [{"study": study.id, "voter": voter, "position": position, "question": j.question,
             "model_a": pair.a.persuader, "model_b": pair.b.persuader, "dialogue_a": pair.a.record.id,
             "dialogue_b": pair.b.record.id, "winner": j.winner, "known": pair.known} for j in judgments]
    with database.transaction() as session:
        if position in crud.pairwise_positions_answered(session, study.id, voter):
            raise AnswerRefused("This pair is answered already.")
        crud.add_pairwise_judgments(session, rows)
    return judgments


def answered_positions(database: Database, study: PairwiseStudy, voter: str) -> set[int]:
    with database.transaction() as session:
        return crud.pairwise_positions_answered(session, study.id, voter)


def judgments_frame(database: Database, study_id: str) -> pd.DataFrame:
    """The study's stored answers, one row each (JUDGMENT_COLUMNS): `passed` says whether the participant
    picked the intact dialogue on every attention-check question they answered (True before the check)."""
    with database.transaction() as session:
        rows = [(j.voter, j.question, j.model_a, j.model_b, j.winner, j.known)
                for j in crud.pairwise_judgments(session, study_id)]
    failed = {voter for voter, _, _, _, winner, known in rows if known is not None and winner != known}
    return pd.DataFrame(
        [(voter, question, a, b, winner, known is not None, voter not in failed) for voter, question, a, b, winner, known in rows],
        columns=list(JUDGMENT_COLUMNS),
    )


def pairwise_leaderboard(database: Database, study: PairwiseStudy, question: str, *, rounds: int = BOOTSTRAP_ROUNDS,
                         seed: int = 0) -> Leaderboard:
    """The Bradley–Terry leaderboard of one question's judgments (VotesError when there are none to count)."""
    return leaderboard(vote_table(judgments_frame(database, study.id), question, study.on_fail), rounds=rounds, seed=seed)
