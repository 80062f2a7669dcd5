"""What defines a run's condition, recorded once in its file's header and checked on every resume.

A runs file (self-play) or judgments file (static evaluation) may be resumed many times; a
resume with another model, endpoint, planner setting, persona set or judge setting would pool
two conditions under one name and one success or win rate. The first start of a run writes a
header line, `{"run_header": {...}}`, holding every field that defines its condition (flat
names such as "llm.responder.model", "planner.simulations", "personas.sha256", "judge.votes");
a later start compares its own and refuses, naming every field that differs. Readers of the
file's records skip header lines (gdp_zero.records).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gdp_zero.evaluation.jobs import NOT_COMPARED, RunMismatch
from gdp_zero.llm.settings import ROLES, LLMSettings
from gdp_zero.records import (
    READING,
    RUN_HEADER_KEY,
    app_version,
    append_json_line,
    json_lines,
    now_iso,
    read_as,
    read_text,
)

# What each endpoint setting is called in a header: a key or timeout does not change what is measured.
ENDPOINT_FIELDS = ("model", "base_url", "api", "provider", "temperature", "max_tokens")


@dataclass(frozen=True)
class RunHeader:
    __pydantic_config__ = READING  # read as a record: a key a newer gdp-zero wrote is ignored

    run: str
    kind: str  # "selfplay" or "evaluate"
    conditions: dict[str, Any]
    at: str = field(default_factory=now_iso)
    app_version: str = field(default_factory=app_version)


def content_hash(items: Iterable[Any]) -> str:
    """SHA-256 of the items as canonical JSON: the same content gives the same hash, whatever its files are called."""
    text = json.dumps(list(items), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def llm_conditions(settings: LLMSettings) -> dict[str, Any]:
    """Every role's model and endpoint (credentials hidden): who produced and who judged the text."""
    found: dict[str, Any] = {}
    for role in ROLES:
        endpoint = settings.for_role(role).public_dict()
        endpoint["base_url"] = settings.builtin_urls.get(settings.for_role(role).base_url or "", endpoint["base_url"])
        found |= {f"llm.{role}.{name}": endpoint[name] for name in ENDPOINT_FIELDS}
    return found


def planner_conditions(described: Mapping[str, Any]) -> dict[str, Any]:
    """The planner's settings as it describes them; seeds differ per dialogue by design and are left out."""
    return {f"planner.{name}": value for name, value in described.items() if name not in NOT_COMPARED}


def run_headers(path: Path) -> dict[str, RunHeader]:
    """The headers in a file, by run name (a later header for the same run would replace an earlier one); a
    header that is not a `RunHeader` is a `RecordError` naming the file, line and field."""
    headers = {}
    for number, data in json_lines(path, read_text(path)):
        if isinstance(data, dict) and RUN_HEADER_KEY in data:
            header = read_as(RunHeader, data[RUN_HEADER_KEY], f"{path}:{number}: {RUN_HEADER_KEY}")
            headers[header.run] = header
    return headers


def differences(stored: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """Each field that differs, as 'name: file X, now Y', sorted by name."""
    return [f"{name}: file {stored.get(name)!r}, now {wanted.get(name)!r}"
            for name in sorted(set(stored) | set(wanted)) if stored.get(name) != wanted.get(name)]


def check_header(path: Path, header: RunHeader) -> bool:
    """Refuse a resume whose conditions differ from the header of the same run in `path`; False when the
    run has no header there yet (a new run, or a file written before headers)."""
    stored = run_headers(path).get(header.run) if path.stat().st_size else None
    if stored is None:
        return False
    differing = differences(stored.conditions, header.conditions)
    if differing:
        raise RunMismatch(f"{path}: run {header.run!r} was started under other conditions ({'; '.join(differing)}); "
                          "write to a new file or use another --name")
    return True


def write_header(path: Path, header: RunHeader) -> None:
    append_json_line(path, {RUN_HEADER_KEY: asdict(header)})
