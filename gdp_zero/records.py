"""One record of a dialogue, whatever produced it: a chat, a study participation, self-play, the P4G corpus.

A saved transcript is one `DialogueRecord` as JSON; a self-play runs file is one per line (JSONL);
the study store keeps the same fields per participation; the strategy views read all of them into
one table through `DialogueRecord.turns`. A persuader turn written by a planner carries its whole
`PlannerTurn` (act, reply, search tree, usage, timings, the settings it ran with).

Files carry `schema_version`: a reader refuses a newer version with a message instead of
misreading it. Speakers are "system" (the persuader) and "user" (the persuadee) everywhere.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Iterable, Literal, TypeVar

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from gdp_zero.dialogue import Dialogue, Speaker
from gdp_zero.validation import describe_validation_error, short_repr

SCHEMA_VERSION = 1
RUN_HEADER_KEY = "run_header"  # a JSONL line holding a run's conditions (gdp_zero.evaluation.conditions), not a record
SPEAKERS: tuple[Speaker, ...] = ("system", "user")

# Read as written by this version or an older one of the same schema: a field added later is
# ignored (not refused), a value of the wrong type is refused naming its field.
READING = ConfigDict(extra="ignore")


class RecordError(ValueError):
    """A dialogue file or record that cannot be read; the text names the file, line or field."""


def as_speaker(value: str) -> Speaker:
    """A speaker stored as plain text (a database column), checked."""
    if value not in SPEAKERS:
        raise RecordError(f"speaker: expected one of {', '.join(SPEAKERS)}, got {value!r}")
    return value  # narrowed to a Speaker by the check above


def now_iso() -> str:
    """The current time in UTC, ISO 8601 with milliseconds: what every record's timestamps use."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@cache
def app_version() -> str:
    try:
        return metadata.version("gdp-zero")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


@dataclass(frozen=True)
class PlannerTurn:
    """One planned persuader turn: the act, the reply, the search tree (GDP-Zero only), the turn's
    LLM usage, its timings and the settings it ran with. The chat, the study store, self-play and
    the analytics all consume it."""

    __pydantic_config__ = READING

    planner: str
    act: str
    reply: str
    seconds: float
    usage: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> RoleUsage fields
    tree: dict[str, Any] | None = None
    simulations: int = 0
    reused_simulations: int = 0
    stopped_by: str | None = None  # "simulations", "time_budget" or "reused" for a search
    settings: dict[str, Any] = field(default_factory=dict)  # what it ran with: the planner's parameters, models by role

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, where: str = "planner_turn") -> PlannerTurn:
        return read_as(PlannerTurn, data, where)


Rating = Literal["up", "down"]  # 👍 / 👎 on a persuader message


@dataclass(frozen=True)
class Feedback:
    """A person's 👍/👎 and note on one persuader message (either may be missing)."""

    __pydantic_config__ = READING

    rating: Rating | None = None
    note: str = ""
    at: str | None = None


@dataclass(frozen=True)
class TurnRecord:
    """One turn of any dialogue: what a chat keeps as it goes and what every record file holds."""

    __pydantic_config__ = READING

    speaker: Speaker
    act: str
    text: str
    at: str | None = None  # when the turn was complete (UTC, ISO 8601)
    tag_fallback: str | None = None  # user turns: why the act tagger had to guess, if it did
    # system turns written by a planner; saved as "planner_turn"
    planned: Annotated[PlannerTurn | None, Field(validation_alias="planner_turn")] = None
    usage: dict[str, dict[str, Any]] | None = None  # the turn's LLM calls by role, tagging the message before it included
    meta: dict[str, Any] = field(default_factory=dict)  # source-specific extras, e.g. P4G's raw labels
    # The chat's usage-ledger turn that paid for this turn: in memory only, never saved or compared.
    ledger_turn: int | None = field(default=None, compare=False, repr=False)
    feedback: Feedback | None = None  # system turns: the person's 👍/👎 and note
    replaced: tuple[TurnRecord, ...] = ()  # system turns: earlier versions of this turn, oldest first (Regenerate)

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {"speaker": self.speaker, "act": self.act, "text": self.text, "at": self.at}
        if self.speaker == "user":
            record["tag_fallback"] = self.tag_fallback
        if self.planned is not None:
            record["planner_turn"] = self.planned.to_dict()
        if self.usage is not None:
            record["usage"] = self.usage
        if self.meta:
            record["meta"] = self.meta
        if self.feedback is not None:
            record["feedback"] = asdict(self.feedback)
        if self.replaced:
            record["replaced"] = [turn.to_dict() for turn in self.replaced]
        return record


@dataclass(frozen=True)
class DialogueRecord:
    __pydantic_config__ = READING

    id: str
    source: str  # "chat", "study", "selfplay", "p4g", ...
    domain: str
    turns: tuple[TurnRecord, ...] = ()
    outcome: float | None = None  # the domain's value of the finished dialogue; None while it goes on
    end_reason: str | None = None  # Domain.end_reason: "success", "turn_limit"; or what stopped it early
    planner: dict[str, Any] | None = None  # at the start; each planned turn carries the settings it ran with
    llm: dict[str, Any] | None = None  # public LLM settings: never a key
    persona: dict[str, Any] | None = None  # the simulated persuadee's persona (self-play)
    condition: str | None = None  # a study's condition, or a run's name
    started_at: str | None = None
    ended_at: str | None = None
    usage: dict[str, Any] | None = None  # the whole dialogue's LLM usage
    meta: dict[str, Any] = field(default_factory=dict)  # source-specific: P4G donations, study ids, ...
    app_version: str = field(default_factory=app_version)
    schema_version: int = SCHEMA_VERSION

    @property
    def dialogue(self) -> Dialogue:
        return Dialogue.of(self.turns)

    def to_dict(self) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["turns"] = [turn.to_dict() for turn in self.turns]
        return record

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    @classmethod
    def from_dict(cls, data: Any, where: str = "record") -> DialogueRecord:
        """A record as saved by this version or an older one; a newer schema is refused, not misread."""
        if not isinstance(data, dict):
            raise RecordError(f"{where}: expected a dialogue record (an object), got {type(data).__name__}")
        version = data.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise RecordError(f"{where}: schema_version: expected a whole number, got {short_repr(version)} (not a dialogue record?)")
        if version > SCHEMA_VERSION:
            raise RecordError(
                f"{where}: schema version {version} is newer than this gdp-zero reads ({SCHEMA_VERSION}); upgrade gdp-zero"
            )
        return read_as(DialogueRecord, data, where)


Record = TypeVar("Record")
_ADAPTERS: dict[type, TypeAdapter[Any]] = {}  # built on first read: building one costs milliseconds


def read_as(kind: type[Record], data: Any, where: str) -> Record:
    """`data` (parsed JSON) as the dataclass `kind`, strictly typed: JSON's own types only, no "1.5"
    for 1.5; a key `kind` does not know (a field added later) is ignored. A wrong value is a
    `RecordError` naming `where` and the field.

    Strict checking runs in pydantic's JSON mode, where an object reads as a dataclass and a list
    as a tuple; Python mode would demand dataclass instances.
    """
    try:
        adapter = _ADAPTERS.get(kind)
        if adapter is None:
            adapter = _ADAPTERS[kind] = TypeAdapter(kind)
        record: Record = adapter.validate_json(json.dumps(data), strict=True)
        return record
    except ValidationError as error:
        if any("recursion limit" in problem["msg"] for problem in error.errors()):
            raise RecordError(f"{where}: {_deepest_field(data)}: {TOO_DEEP}") from None
        raise RecordError(describe_validation_error(error, where)) from None


def _depth(value: Any) -> int:
    """How many lists or objects deep `value` goes (iteratively: the value may be deeper than recursion allows)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in children)
    return deepest


def _deepest_field(data: Any, levels: int = 3) -> str:
    """The path (e.g. turns.0.meta) to the most deeply nested value, `levels` steps down at most."""
    path: list[str] = []
    while len(path) < levels and isinstance(data, (dict, list)) and data:
        keys = list(data) if isinstance(data, dict) else list(range(len(data)))
        key = max(keys, key=lambda k: _depth(data[k]))
        path.append(str(key))
        data = data[key]
    return ".".join(path) or "(top level)"


def save_record(path: Path, record: DialogueRecord) -> None:
    """Write one record as an indented JSON file (a saved transcript)."""
    Path(path).write_text(record.to_json(indent=2), encoding="utf-8")


def append_record(path: Path, record: DialogueRecord) -> None:
    """Append one record as a line of a JSONL runs file, on disk before this returns.

    One write of one whole line: a process killed mid-write leaves at most a torn last line,
    which `load_records` skips, so a resumed run redoes that dialogue instead of reading half of it.
    """
    append_json_line(path, record.to_dict())


def append_json_line(path: Path, data: dict[str, Any]) -> None:
    """Append one JSON object as one line, on disk before this returns (see `append_record`)."""
    line = (json.dumps(data, ensure_ascii=False) + "\n").encode("utf-8")
    with open(path, "ab") as out:
        out.write(line)
        out.flush()
        os.fsync(out.fileno())


def drop_torn_line(path: Path) -> bool:
    """Cut a runs file back to its last whole line before appending to it again; True if it was torn.

    Appended to as it is, the torn line would become a broken line in the middle of the file.
    """
    with open(path, "rb+") as runs:
        data = runs.read()
        if not data or data.endswith(b"\n"):
            return False
        runs.truncate(data.rfind(b"\n") + 1)
        return True


# Python's JSON parser gives up on nesting deeper than the interpreter's recursion limit (~1000).
TOO_DEEP = "lists or objects nested too deeply to be a dialogue record"


def read_text(path: Path) -> str:
    """A saved file's text; a missing or non-UTF-8 file is a `RecordError` naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise RecordError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None


def load_records(path: Path) -> list[DialogueRecord]:
    """The records of a transcript (.json: one record or a list) or a runs file (.jsonl: one per line)."""
    path = Path(path)
    text = read_text(path)
    if path.suffix.lower() == ".jsonl":
        return list(_jsonl_records(path, text))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"{path}: not JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise RecordError(f"{path}: {TOO_DEEP}") from None
    items = data if isinstance(data, list) else [data]
    return [DialogueRecord.from_dict(item, f"{path}[{i}]" if isinstance(data, list) else str(path)) for i, item in enumerate(items)]


def _jsonl_records(path: Path, text: str) -> Iterable[DialogueRecord]:
    for number, data in json_lines(path, text):
        if not (isinstance(data, dict) and RUN_HEADER_KEY in data):
            yield DialogueRecord.from_dict(data, f"{path}:{number}")


def json_lines(path: Path, text: str) -> Iterable[tuple[int, Any]]:
    """(line number, parsed value) of each line of a JSONL file's text; a torn last line is skipped."""
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            if number == len(lines):  # no newline after it: a write cut short by a kill
                return
            raise RecordError(f"{path}:{number}: not a JSON line ({error.msg})") from None
        except RecursionError:
            raise RecordError(f"{path}:{number}: {TOO_DEEP}") from None

