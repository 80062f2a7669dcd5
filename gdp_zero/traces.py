"""Search traces as training data (R-MCTS's "exploratory learning"), one chat-format line per planned turn.

Two formats, both JSONL in the conversational format that OpenAI fine-tuning and TRL's SFTTrainer
read: each line is `{"messages": [system, user, assistant]}` (CHAT_SCHEMA below):

* imitation: the dialogue so far -> the chosen act and utterance, `[act] utterance`;
* exploratory: the same context -> the turn's search linearized in simulation order (the acts a
  simulation tried, the simulated exchange, the value it backed up, and the return to the root
  before the next one), ending in the chosen act and utterance, so a model trained on it learns
  to search in text, not only to imitate the search's answer.

A turn needs a planner's record (its reply); exploratory lines need its search tree too, so
turns of the prompting or random planner, or of people, make no line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from gdp_zero.dialogue import Dialogue
from gdp_zero.domain import Domain, load_domain
from gdp_zero.records import DialogueRecord, load_records
from gdp_zero.roles.prompts import transcript

TraceFormat = Literal["imitation", "exploratory"]
TRACE_FORMATS: tuple[TraceFormat, ...] = ("imitation", "exploratory")

# The documented chat format (OpenAI fine-tuning's and TRL's conversational dataset format).
CHAT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["messages"],
    "additionalProperties": False,
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 2,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "additionalProperties": False,
                "properties": {
                    "role": {"enum": ["system", "user", "assistant"]},
                    "content": {"type": "string", "minLength": 1},
                },
            },
            # The target comes last: what the trainer's loss is computed on.
            "contains": {"properties": {"role": {"const": "assistant"}}},
        }
    },
}


@dataclass(frozen=True)
class TraceStats:
    dialogues: int  # dialogues that gave at least one line
    lines: int
    chars: int


def system_message(domain: Domain) -> str:
    acts = ", ".join(domain.system_act_names)
    return f"You are the {domain.system_role}. {domain.goal} Your dialogue acts: {acts}."


def user_message(domain: Domain, dialogue: Dialogue) -> str:
    so_far = transcript(domain, dialogue) or "(the conversation has not started yet)"
    return (
        f"The conversation so far:\n{so_far}\n\n"
        f"Choose the {domain.system_role}'s next dialogue act and write the line, as `[act] utterance`."
    )


def trace_lines(record: DialogueRecord, fmt: TraceFormat, domain: Domain) -> Iterator[dict[str, Any]]:
    """One chat-format example per planned persuader turn of `record` (see the module's docstring)."""
    for index, turn in enumerate(record.turns):
        planned = turn.planned
        if turn.speaker != "system" or planned is None:
            continue
        target = f"[{turn.act}] {turn.text}"
        if fmt == "exploratory":
            if not planned.tree or not planned.tree.get("simulations"):
                continue
            target = f"{linearize(planned.tree, domain)}\n{target}"
        before = replace(record, turns=record.turns[:index]).dialogue
        yield {"messages": [
            {"role": "system", "content": system_message(domain)},
            {"role": "user", "content": user_message(domain, before)},
            {"role": "assistant", "content": target},
        ]}


def linearize(tree: dict[str, Any], domain: Domain) -> str:
    """The search in simulation order: each simulation's path, exchanges, value, and the return to the root."""
    nodes = _nodes_by_path(tree["root"])
    lines = []
    for number, simulation in enumerate(tree["simulations"], start=1):
        path = tuple(simulation["path"])
        if number > 1:
            lines.append("Back up to the root.")
        lines.append(f"Simulation {number}: try {' > '.join(f'[{act}]' for act in path) or 'the root'}")
        for depth in range(1, len(path) + 1):
            node = nodes.get(path[:depth])
            shown = _most_visited(node["realizations"]) if node else None
            if shown is not None:
                lines.append(f"  {domain.system_role}: [{path[depth - 1]}] {shown['utterance']}")
                lines.append(f"  {domain.user_role}: [{shown['reply_act']}] {shown['reply']}")
        ended = "the dialogue ended" if simulation.get("leaf") == "terminal" else "evaluated"
        lines.append(f"  value {simulation['value']:+.2f} ({ended})")
    root = tree["root"]
    chosen = tree.get("chosen_act")
    q, visits = root.get("q", {}).get(chosen), root.get("child_visits", {}).get(chosen)
    summary = f"Q {q:+.2f}, {visits} visits" if q is not None and visits is not None else "no statistics"
    lines.append(f"Back up to the root. Choose [{chosen}] ({summary}).")
    return "\n".join(lines)


def _nodes_by_path(root: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    found, stack = {}, [root]
    while stack:
        node = stack.pop()
        found[tuple(node["path"])] = node
        stack.extend(node.get("children", []))
    return found


def _most_visited(realizations: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return max(realizations, key=lambda r: r.get("visits") or 0, default=None)


def read_records(paths: Iterable[Path]) -> Iterator[DialogueRecord]:
    for path in paths:
        yield from load_records(Path(path))


def export_traces(paths: Sequence[Path], fmt: TraceFormat, out: Path) -> TraceStats:
    """Write every planned turn of the records in `paths` as one JSONL line of `fmt` to `out`."""
    if fmt not in TRACE_FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}: choose one of {', '.join(TRACE_FORMATS)}")
    domains: dict[str, Domain] = {}
    dialogues = lines = chars = 0
    partial = out.with_name(out.name + ".part")  # a bad source leaves no half-written training file
    try:
        with open(partial, "w", encoding="utf-8") as sink:
            for record in read_records(paths):
                domain = domains.setdefault(record.domain, load_domain(record.domain))
                wrote = 0
                for example in trace_lines(record, fmt, domain):
                    line = json.dumps(example, ensure_ascii=False)
                    sink.write(line + "\n")
                    wrote += 1
                    chars += len(line)
                lines += wrote
                dialogues += wrote > 0
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return TraceStats(dialogues, lines, chars)
